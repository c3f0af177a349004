// Pins the routing policy table-driven: seed 004's five default rules in their order, edges at 20 %, 5 % and 8,000 tokens, and rules as data.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { DEFAULT_RULES, route, RouteRulesSchema } from "../../src/models/policy.ts";

const CASES: Array<[string, Record<string, unknown>, number, number | null, string, string]> = [
  // name, metadata, input tokens, budget fraction → rule, model
  ["confidential wins over everything", { confidential: true, quality: "high" }, 20_000, 0.01, "confidential", "localai:phi-4-14b"],
  ["high quality with budget", { quality: "high" }, 100, 0.5, "high-quality", "openrouter:gpt-4o-mini"],
  ["high quality at exactly 20 % is not premium", { quality: "high" }, 100, 0.2, "balanced", "openrouter:qwen2-72b"],
  ["high quality, long input, low budget → long context", { quality: "high" }, 9_000, 0.1, "long-context", "requesty:claude-3-sonnet"],
  ["8,000 tokens is not long", {}, 8_000, 0.5, "balanced", "openrouter:qwen2-72b"],
  ["8,001 tokens is long", {}, 8_001, 0.5, "long-context", "requesty:claude-3-sonnet"],
  ["low budget", {}, 100, 0.04, "low-budget", "openrouter:mistral-7b"],
  ["exactly 5 % is not low", {}, 100, 0.05, "balanced", "openrouter:qwen2-72b"],
  ["no budget counts as full", { quality: "high" }, 100, null, "high-quality", "openrouter:gpt-4o-mini"],
  ["confidential must be true, not truthy", { confidential: "yes" }, 100, 0.5, "balanced", "openrouter:qwen2-72b"],
  ["nothing special", {}, 0, 0.5, "balanced", "openrouter:qwen2-72b"],
];

describe("routing policy", () => {
  for (const [name, metadata, tokens, budget, rule, model] of CASES) {
    it(name, () => {
      const decision = route(DEFAULT_RULES, { metadata, estimatedInputTokens: tokens, budgetFraction: budget });
      assert.deepEqual([decision.rule, decision.model], [rule, model]);
      assert.ok(decision.reason.length > 0);
    });
  }

  it("takes rules as data (as parsed from YAML): the first match decides; a bad rule names its field", () => {
    const rules = RouteRulesSchema.parse([
      { name: "eu", when: { metadata: { region: "eu" } }, model: "local:eu", reason: "data stays in the EU" },
      { name: "rest", model: "mock:any" },
    ]);
    assert.deepEqual(route(rules, { metadata: { region: "eu" }, estimatedInputTokens: 1, budgetFraction: null }), { model: "local:eu", fallbacks: [], rule: "eu", reason: "data stays in the EU" });
    assert.equal(route(rules, { metadata: {}, estimatedInputTokens: 1, budgetFraction: null }).rule, "rest");
    const bad = RouteRulesSchema.safeParse([{ name: "x", model: "m", when: { budgetAbove: 2 } }]);
    assert.equal(bad.success, false);
    assert.deepEqual(bad.error?.issues[0]?.path, [0, "when", "budgetAbove"]);
    // Rules whose last one has conditions are refused where they are read, naming the rule.
    const refused = RouteRulesSchema.safeParse([{ name: "only", when: { inputTokensAbove: 5 }, model: "m" }]);
    assert.equal(refused.success, false);
    assert.deepEqual(refused.error?.issues[0]?.path, [0, "when"]);
    assert.throws(() => route([{ name: "only", when: { inputTokensAbove: 5 }, model: "m", fallbacks: [] }], { metadata: {}, estimatedInputTokens: 1, budgetFraction: null }), { code: "MODEL_UNKNOWN" });
  });

  it("the example rules file (examples/routing/rules.yaml) is the defaults written out as data", () => {
    const file = join(resolve(import.meta.dirname, "../.."), "examples/routing/rules.yaml");
    assert.deepEqual(RouteRulesSchema.parse(parseYaml(readFileSync(file, "utf8"))), DEFAULT_RULES);
  });
});
