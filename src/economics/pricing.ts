import { globToRegExp } from "../core/glob.ts";

/** Credits per 1,000 tokens in and out (models/models-config.ts validates it in configuration). */
export interface Price {
  input: number;
  output: number;
}

/**
 * What model calls cost (DESIGN.md `economics/`): credits per 1,000 tokens in and out, by
 * model name. Patterns may use `*`; the longest matching pattern wins, so
 * `openrouter:gpt-4o*` beats `openrouter:*`. A model priced nowhere costs the default price,
 * which is never free unless configured so — an unpriced model cannot spend a budget unseen.
 */
export class PricingTable {
  readonly #exact = new Map<string, Price>();
  readonly #patterns: Array<{ pattern: string; regex: RegExp; price: Price }> = [];
  readonly #default: Price;

  constructor(prices: Readonly<Record<string, Price>>, defaultPrice: Price) {
    this.#default = defaultPrice;
    for (const [pattern, price] of Object.entries(prices)) {
      if (!pattern.includes("*")) this.#exact.set(pattern, price);
      else this.#patterns.push({ pattern, regex: globToRegExp(pattern), price });
    }
    this.#patterns.sort((a, b) => b.pattern.length - a.pattern.length);
  }

  priceOf(model: string): Price {
    return this.#exact.get(model) ?? this.#patterns.find((p) => p.regex.test(model))?.price ?? this.#default;
  }

  /** Credits for a call, to the micro-credit. */
  cost(model: string, tokensIn: number, tokensOut: number): number {
    const price = this.priceOf(model);
    return Math.ceil(((tokensIn * price.input + tokensOut * price.output) / 1_000) * 1_000_000) / 1_000_000;
  }

  /** Every configured price and the default, for operators. */
  table(): { prices: Record<string, Price>; defaultPrice: Price } {
    return { prices: Object.fromEntries([...this.#exact, ...this.#patterns.map((p) => [p.pattern, p.price] as const)]), defaultPrice: this.#default };
  }
}
