import type { Command } from "commander";
import type { RouteRequest } from "../../client/index.ts";
import { cliContext, UsageError } from "../context.ts";
import { details, printJson, table } from "../output.ts";
import { creditsOption, intOption, parseDuration } from "../flags.ts";

export function modelCommands(program: Command): void {
  const models = program.command("models").description("model providers, routing rules and prices; explain a routing decision");
  models
    .command("list", { isDefault: true })
    .description("providers (calls, failures, cooldowns), rules in order, prices")
    .action(async (_opts, command: Command) => {
      const { client, json } = cliContext(command);
      const info = await client.models();
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
    .option("--tokens <n>", "estimated input tokens", intOption("--tokens", 0, 100_000_000), 0)
    .option("--crew <id>", "judge this crew's remaining budget")
    .option("--agent <id>", "judge this agent's budget limit too")
    .action(async (opts: { metadata: string; tokens: number; crew?: string; agent?: string }, command: Command) => {
      const { client, json } = cliContext(command);
      let metadata: unknown;
      try {
        metadata = JSON.parse(opts.metadata);
      } catch {
        throw new UsageError(`--metadata must be a JSON object, got '${opts.metadata}'`);
      }
      // The server checks --metadata is an object and names it when it is not.
      const decision = await client.routeModel({
        metadata: metadata as RouteRequest["metadata"],
        estimatedInputTokens: opts.tokens,
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
      const items = await client.listBudgets();
      if (json) return printJson(items);
      console.log(table(items.map((b) => ({ ...b, periodMs: b.periodMs ?? "-", resetsAt: b.resetsAt ?? "-" })), ["key", "credits", "periodMs", "spent", "reserved", "remaining", "resetsAt"]));
    });
  budgets
    .command("set <key> <credits>")
    .description("set a limit: KEY is global, crew:<id> or agent:<id>")
    .option("--period <duration>", "per period: 24h, 7d, 30m … (default: no period)", (value: string) => parseDuration("--period", value, 1_000, 31_622_400_000))
    .action(async (key: string, credits: string, opts: { period?: number }, command: Command) => {
      const { client, json } = cliContext(command);
      const budget = await client.setBudget(key, { credits: creditsOption("CREDITS", true)(credits), periodMs: opts.period ?? null });
      if (json) return printJson(budget);
      console.log(details(budget, ["key", "credits", "periodMs", "spent", "reserved", "remaining", "resetsAt"]));
    });
  budgets
    .command("rm <key>")
    .description("remove a limit")
    .action(async (key: string, _opts, command: Command) => {
      const { client, json } = cliContext(command);
      await client.removeBudget(key);
      if (json) return printJson({ removed: key });
      console.log(`removed budget ${key}`);
    });
}
