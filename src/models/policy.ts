import { z } from "zod";
import { FactoryError } from "../core/errors.ts";

/**
 * A routing rule: when every condition given holds, calls go to `model` (then `fallbacks`, in
 * order, if it fails). Conditions: metadata values that must be equal, the remaining budget as a
 * fraction (`budgetAbove`, `budgetBelow`: 0.2 = 20 %; unknown budget counts as full), and the
 * estimated input size. A rule with no condition always matches.
 */
export const RouteRuleSchema = z.strictObject({
  name: z.string().min(1).max(64),
  when: z
    .strictObject({
      metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
      budgetAbove: z.number().min(0).max(1).optional(),
      budgetBelow: z.number().min(0).max(1).optional(),
      inputTokensAbove: z.number().int().min(0).optional(),
    })
    .default({}),
  model: z.string().min(1).max(200),
  fallbacks: z.array(z.string().min(1).max(200)).max(10).default([]),
  /** Said when the rule chooses (the explain route's `reason`). */
  reason: z.string().max(500).optional(),
});
export type RouteRule = z.output<typeof RouteRuleSchema>;

/** The last rule must match every call (no conditions), so every call has a model. */
export const RouteRulesSchema = z
  .array(RouteRuleSchema)
  .min(1)
  .max(1_000)
  .superRefine((rules, ctx) => {
    const last = rules[rules.length - 1];
    if (last !== undefined && Object.values(last.when).some((v) => v !== undefined)) {
      ctx.addIssue({ code: "custom", path: [rules.length - 1, "when"], message: "the last rule must have no conditions, so that every call gets a model" });
    }
  });

/**
 * Seed 004's five rules, in its order: confidential → a local model; `quality: high` while more
 * than 20 % of the budget is left → premium; more than 8,000 input tokens → long context; less
 * than 5 % of the budget left → the cheapest; otherwise the balanced default. Model names are
 * the seed's (provider:model); with no providers configured the mock serves them all.
 */
export const DEFAULT_RULES: readonly RouteRule[] = RouteRulesSchema.parse([
  { name: "confidential", when: { metadata: { confidential: true } }, model: "localai:phi-4-14b", reason: "confidential data stays on a local model" },
  { name: "high-quality", when: { metadata: { quality: "high" }, budgetAbove: 0.2 }, model: "openrouter:gpt-4o-mini", fallbacks: ["openrouter:qwen2-72b"], reason: "quality: high and more than 20 % of the budget left" },
  { name: "long-context", when: { inputTokensAbove: 8_000 }, model: "requesty:claude-3-sonnet", fallbacks: ["openrouter:qwen2-72b"], reason: "more than 8,000 input tokens" },
  { name: "low-budget", when: { budgetBelow: 0.05 }, model: "openrouter:mistral-7b", reason: "less than 5 % of the budget left" },
  { name: "balanced", model: "openrouter:qwen2-72b", fallbacks: ["openrouter:mistral-7b"], reason: "the balanced default" },
]);

export interface RouteRequest {
  metadata: Readonly<Record<string, unknown>>;
  estimatedInputTokens: number;
  /** Remaining budget ÷ limit, from 0 to 1; null when no budget applies. */
  budgetFraction: number | null;
}

export interface RouteDecision {
  model: string;
  fallbacks: string[];
  rule: string;
  reason: string;
}

/** The first rule whose conditions all hold decides; the explain route returns exactly this. */
export function route(rules: readonly RouteRule[], request: RouteRequest): RouteDecision {
  const budget = request.budgetFraction ?? 1;
  for (const rule of rules) {
    const w = rule.when;
    if (w.metadata !== undefined && !Object.entries(w.metadata).every(([k, v]) => request.metadata[k] === v)) continue;
    if (w.budgetAbove !== undefined && !(budget > w.budgetAbove)) continue;
    if (w.budgetBelow !== undefined && !(budget < w.budgetBelow)) continue;
    if (w.inputTokensAbove !== undefined && !(request.estimatedInputTokens > w.inputTokensAbove)) continue;
    return { model: rule.model, fallbacks: [...rule.fallbacks], rule: rule.name, reason: rule.reason ?? `rule ${rule.name} matched` };
  }
  throw new FactoryError("MODEL_UNKNOWN", "no routing rule matched: the rules need a last rule without conditions", { nonRetryable: true });
}
