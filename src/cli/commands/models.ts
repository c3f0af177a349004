import type { Command } from "commander";
import { cliContext, UsageError } from "../context.ts";
import { details, printJson, table } from "../output.ts";

interface ModelsInfo {
  providers: Array<{ name: string; kind: string; baseURL: string | null; servesAll: boolean; calls: number; failures: number; consecutiveFailures: number; coolingDownUntil: string | null }>;
  rules: Array<{ name: string; when: Record<string, unknown>; model: string; fallbacks: string[]; reason?: string }>;
  pricing: { prices: Record<string, { input: number; output: number }>; defaultPrice: { input: number; output: number } };
  calls: number;
  uncoveredCredits: number;
}

interface Budget {
  key: string;
  credits: number;
  periodMs: number | null;
  spent: number;
  reserved: number;
  remaining: number;
  resetsAt: string | null;
}

function creditsOption(flag: string, min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < min) throw new UsageError(`${flag} must be a number of credits of at least ${min}, got '${value}'`);
    return n;
  };
}

/** `24h`, `30m`, `7d`, `90s` or milliseconds. */
function periodOption(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value.trim());
  if (match === null) throw new UsageError(`--period must be a duration such as 24h, 7d, 30m or 3600000 (ms), got '${value}'`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? "ms") as "ms" | "s" | "m" | "h" | "d"];
  return Math.round(Number(match[1]) * unit);
}

export function modelCommands(program: Command): void {
  const models = program.command("models").description("model providers, routing rules and prices; explain a routing decision");
  models
    .command("list", { isDefault: true })
    .description("providers (calls, failures, cooldowns), rules in order, prices")
    .action(async (_opts, command: Command) => {
      const { client, json } = cliContext(command);
      const info = await client.request<ModelsInfo>("GET", "/v1/models");
      if (json) return printJson(info);
      console.log(table(info.providers.map((p) => ({ ...p, baseURL: p.baseURL ?? "-", servesAll: p.servesAll ? "yes" : "", coolingDownUntil: p.coolingDownUntil ?? "" })), ["name", "kind", "baseURL", "servesAll", "calls", "failures", "coolingDownUntil"]));
      console.log("");
      console.log(table(info.rules.map((r) => ({ rule: r.name, when: JSON.stringify(r.when), model: r.model, fallbacks: r.fallbacks.join(", ") })), ["rule", "when", "model", "fallbacks"]));
      console.log("");
      const prices = Object.entries(info.pricing.prices).map(([model, p]) => ({ model, input: p.input, output: p.output }));
      prices.push({ model: "(any other)", ...info.pricing.defaultPrice });
      console.log(table(prices, ["model", "input", "output"]));
      console.log(`prices in credits per 1,000 tokens; ${info.calls} call(s) since start${info.uncoveredCredits > 0 ? `; ${info.uncoveredCredits} credits of cost beyond what calls reserved (not charged)` : ""}`);
    });
  models
    .command("route")
    .description("which model a call would go to, by which rule, and why")
    .option("--metadata <json>", "the call's metadata, e.g. '{\"quality\":\"high\"}'", "{}")
    .option("--tokens <n>", "estimated input tokens", "0")
    .option("--crew <id>", "judge this crew's remaining budget")
    .option("--agent <id>", "judge this agent's budget limit too")
    .action(async (opts: { metadata: string; tokens: string; crew?: string; agent?: string }, command: Command) => {
      const { client, json } = cliContext(command);
      let metadata: unknown;
      try {
        metadata = JSON.parse(opts.metadata);
      } catch {
        throw new UsageError(`--metadata must be a JSON object, got '${opts.metadata}'`);
      }
      const tokens = Number(opts.tokens);
      if (!Number.isInteger(tokens) || tokens < 0) throw new UsageError(`--tokens must be a whole number of at least 0, got '${opts.tokens}'`);
      const decision = await client.request<Record<string, unknown>>("POST", "/v1/models/route", {
        metadata,
        estimatedInputTokens: tokens,
        ...(opts.crew === undefined ? {} : { crewId: opts.crew }),
        ...(opts.agent === undefined ? {} : { agentId: opts.agent }),
      });
      if (json) return printJson(decision);
      console.log(details(decision, ["model", "fallbacks", "rule", "reason", "budgetFraction"]));
    });

  const budgets = program.command("budgets").description("spending limits: global, per crew, per agent, optionally per period");
  budgets
    .command("list", { isDefault: true })
    .description("every limit: credits, period, spent, held for calls under way, left")
    .action(async (_opts, command: Command) => {
      const { client, json } = cliContext(command);
      const { items } = await client.request<{ items: Budget[] }>("GET", "/v1/budgets");
      if (json) return printJson(items);
      console.log(table(items.map((b) => ({ ...b, periodMs: b.periodMs ?? "-", resetsAt: b.resetsAt ?? "-" })), ["key", "credits", "periodMs", "spent", "reserved", "remaining", "resetsAt"]));
    });
  budgets
    .command("set <key> <credits>")
    .description("set a limit: KEY is global, crew:<id> or agent:<id>")
    .option("--period <duration>", "per period: 24h, 7d, 30m … (default: no period)", periodOption)
    .action(async (key: string, credits: string, opts: { period?: number }, command: Command) => {
      const { client, json } = cliContext(command);
      const budget = await client.request<Budget>("PUT", `/v1/budgets/${encodeURIComponent(key)}`, { credits: creditsOption("CREDITS", 0)(credits), periodMs: opts.period ?? null });
      if (json) return printJson(budget);
      console.log(details(budget as unknown as Record<string, unknown>, ["key", "credits", "periodMs", "spent", "reserved", "remaining", "resetsAt"]));
    });
  budgets
    .command("rm <key>")
    .description("remove a limit")
    .action(async (key: string, _opts, command: Command) => {
      const { client, json } = cliContext(command);
      await client.request("DELETE", `/v1/budgets/${encodeURIComponent(key)}`);
      if (json) return printJson({ removed: key });
      console.log(`removed budget ${key}`);
    });
}
