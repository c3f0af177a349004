// Pins the model router: fallback to the next model on scripted provider errors and on timeouts, cooldown of a provider after 3 failures in a row (and its end), MODEL_UNAVAILABLE when every model fails, BUDGET_EXCEEDED before any call, reservations always settled or released; and the real OpenAI-compatible and Anthropic adapters against local HTTP stand-ins (the request they send, the key in the header, usage read back).
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createSqliteStore } from "../../src/adapters/store/sqlite/sqlite-store.ts";
import { PROVIDERS_WALLET, RESERVE_WALLET } from "../../src/core/ledger.ts";
import type { Store } from "../../src/core/ports/store.ts";
import type { ModelProvider } from "../../src/core/ports/model-provider.ts";
import { Ledger } from "../../src/economics/ledger.ts";
import { PricingTable } from "../../src/economics/pricing.ts";
import { Journal } from "../../src/state/journal.ts";
import { BudgetGuard } from "../../src/models/budget-guard.ts";
import { ModelsConfigSchema } from "../../src/models/models-config.ts";
import type { RouteRule } from "../../src/models/policy.ts";
import { createProviders } from "../../src/models/providers/create-providers.ts";
import { MockProvider } from "../../src/models/providers/mock-provider.ts";
import { MockScriptSchema } from "../../src/models/providers/mock-script.ts";
import { ModelRouter } from "../../src/models/router.ts";
import { modelsConfig } from "../../src/cli/commands/serve.ts";
import { createFactory } from "../../src/factory/create-factory.ts";
import { tempDir } from "../helpers.ts";

const WALLET = "0x371_CREW_router";
const RULES: RouteRule[] = [{ name: "chain", when: {}, model: "a:first", fallbacks: ["b:second", "c:third"] }];

describe("model router", () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  let journal: Journal;
  let ledger: Ledger;
  let clock: number;
  const notices: Array<{ type: string; data: Record<string, unknown> }> = [];

  beforeEach(async () => {
    dir = tempDir();
    store = await createSqliteStore({ filename: join(dir.path, "r.db") });
    journal = new Journal(store, () => {});
    ledger = new Ledger(journal);
    ledger.grant(WALLET, 1_000);
    clock = 1_000_000;
    notices.length = 0;
  });
  afterEach(async () => {
    journal.close();
    await store.close();
    dir.cleanup();
  });

  function router(providers: ModelProvider[], options: { rules?: RouteRule[]; callTimeoutMs?: number; cooldownMs?: number } = {}): ModelRouter {
    return new ModelRouter({
      providers,
      pricing: new PricingTable({ "a:*": { input: 1, output: 1 }, "b:second": { input: 2, output: 2 } }, { input: 1, output: 2 }),
      rules: options.rules ?? RULES,
      guard: new BudgetGuard(ledger, () => clock),
      callTimeoutMs: options.callTimeoutMs ?? 2_000,
      cooldown: { failures: 3, ms: options.cooldownMs ?? 30_000 },
      maxOutputTokens: 100,
      now: () => clock,
      onNotice: (n) => notices.push(n),
    });
  }

  const call = (r: ModelRouter, prompt = "hello") => r.call({ messages: [{ role: "user", content: prompt }], payer: WALLET, scope: { crewId: "router", agentId: null }, taskId: "task_1" });

  /** Three mock providers named a, b, c; `failing` ones answer HTTP 503 to everything. */
  function mocks(failing: string[], latencyMs: Record<string, number> = {}): MockProvider[] {
    return ["a", "b", "c"].map(
      (name) =>
        new MockProvider({
          name,
          script: MockScriptSchema.parse({
            rules: [{ reply: failing.includes(name) ? { error: { status: 503, message: `${name} is down` } } : { text: `from ${name}`, usage: { inputTokens: 10, outputTokens: 10 }, ...(latencyMs[name] === undefined ? {} : { latencyMs: latencyMs[name] }) } }],
          }),
        }),
    );
  }

  it("answers from the first model when it works, and charges its price", async () => {
    const result = await call(router(mocks([])));
    assert.equal(result.model, "a:first");
    assert.equal(result.text, "from a");
    assert.deepEqual(result.failedAttempts, []);
    assert.equal(result.cost, 0.02);
    assert.equal(ledger.balance(PROVIDERS_WALLET), 0.02);
    assert.equal(ledger.balance(RESERVE_WALLET), 0);
  });

  it("falls back along the rule's chain on provider errors, releasing each failed reservation", async () => {
    const result = await call(router(mocks(["a", "b"])));
    assert.equal(result.model, "c:third");
    assert.deepEqual(
      result.failedAttempts.map((a) => a.model),
      ["a:first", "b:second"],
    );
    assert.match(result.failedAttempts[0]?.error ?? "", /HTTP 503: a is down/);
    assert.deepEqual(
      notices.filter((n) => n.type === "model.fallback").map((n) => n.data.model),
      ["a:first", "b:second"],
    );
    // Only the call that answered is charged; the failed ones' holds went back.
    assert.equal(ledger.balance(PROVIDERS_WALLET), result.cost);
    assert.equal(ledger.balance(RESERVE_WALLET), 0);
    assert.equal(ledger.balance(WALLET), 1_000 - result.cost);
  });

  it("falls back when a model does not answer within the call timeout", async () => {
    const result = await call(router(mocks([], { a: 5_000 }), { callTimeoutMs: 150 }));
    assert.equal(result.model, "b:second");
    assert.equal(result.failedAttempts[0]?.error, "no answer within 150 ms");
    assert.equal(ledger.balance(RESERVE_WALLET), 0);
  });

  it("cools a provider down after 3 failures in a row, skips it meanwhile, and tries it again after", async () => {
    const providers = mocks(["a"]);
    const r = router(providers, { cooldownMs: 10_000 });
    for (let i = 0; i < 3; i++) assert.equal((await call(r)).model, "b:second");
    assert.equal(notices.filter((n) => n.type === "model.cooldown").length, 1);
    assert.equal(r.providers().find((p) => p.name === "a")?.coolingDownUntil, new Date(clock + 10_000).toISOString());
    const skipped = await call(r);
    assert.equal(skipped.model, "b:second");
    assert.deepEqual(skipped.failedAttempts, []);
    assert.equal(providers[0]?.calls.get("a:first"), 3);
    clock += 10_001;
    assert.equal(r.providers().find((p) => p.name === "a")?.coolingDownUntil, null);
    await call(r);
    assert.equal(providers[0]?.calls.get("a:first"), 4);
  });

  it("fails with MODEL_UNAVAILABLE (retryable) when every model fails, and while all are cooling down", async () => {
    const r = router(mocks(["a", "b", "c"]));
    await assert.rejects(call(r), (error: { code: string; nonRetryable: boolean; details: { attempts: unknown[] } }) => {
      assert.equal(error.code, "MODEL_UNAVAILABLE");
      assert.equal(error.nonRetryable, false);
      assert.equal(error.details.attempts.length, 3);
      return true;
    });
    await call(r).catch(() => {});
    await call(r).catch(() => {});
    await assert.rejects(call(r), /cooling down until/);
    assert.equal(ledger.balance(WALLET), 1_000);
    assert.equal(ledger.balance(RESERVE_WALLET), 0);
  });

  it("refuses a call the wallet cannot pay for with BUDGET_EXCEEDED before any provider is called", async () => {
    const providers = mocks([]);
    const r = router(providers);
    const poor = "0x371_CREW_poor";
    // The input alone is estimated at 19 tokens (0.019 credits at a:first's price): not even a 1-token answer (0.02) fits.
    ledger.grant(poor, 0.015);
    await assert.rejects(r.call({ messages: [{ role: "user", content: "x" }], payer: poor, scope: { crewId: null, agentId: null } }), {
      code: "BUDGET_EXCEEDED",
      nonRetryable: true,
      message: `wallet ${poor} cannot cover a call of even 1 output token (0.02 credits): it holds 0.015 credits. Give it credits: agent-factory ledger grant ${poor} <credits> (POST /v1/ledger/grants {"wallet": "${poor}", "amount": <credits>})`,
    });
    assert.equal(providers[0]?.calls.size, 0);
    assert.equal(ledger.balance(poor), 0.015);
  });

  it("skips a fallback no provider serves, and a model over budget for a cheaper one that fits", async () => {
    const providers = mocks(["a"]);
    const unknown = await call(router(providers, { rules: [{ name: "r", when: {}, model: "a:first", fallbacks: ["z:nowhere", "c:third"] }] }));
    assert.equal(unknown.model, "c:third");
    assert.deepEqual(
      unknown.failedAttempts.map((f) => [f.model, f.error.replace(/:.*/, "")]),
      [
        ["z:nowhere", "no provider serves it"],
        ["a:first", "HTTP 503"],
      ],
    );
    // b:second costs 2/2 per 1,000 tokens (≈ 0.24 reserved), a:first 1/1 (≈ 0.12): with 0.2 credits only a fits.
    const tight = "0x371_CREW_tight";
    ledger.grant(tight, 0.2);
    const r = router(mocks([]), { rules: [{ name: "r", when: {}, model: "b:second", fallbacks: ["a:first"] }] });
    const cheap = await r.call({ messages: [{ role: "user", content: "x" }], payer: tight, scope: { crewId: null, agentId: null } });
    assert.equal(cheap.model, "a:first");
    assert.match(cheap.failedAttempts[0]?.error ?? "", /cannot cover a call/);
    // Nothing fits, not even a 1-token answer, and nothing failed otherwise: BUDGET_EXCEEDED, not retryable.
    ledger.grant("0x371_CREW_tiny", 0.01);
    await assert.rejects(r.call({ messages: [{ role: "user", content: "x" }], payer: "0x371_CREW_tiny", scope: { crewId: null, agentId: null } }), { code: "BUDGET_EXCEEDED" });
    // A provider failure and then no budget: MODEL_UNAVAILABLE (retryable), with both attempts.
    // (0.03 credits: a:first fits once its answer is capped to 11 tokens; b:second's input alone costs 0.038.)
    const mixed = router(mocks(["a"]), { rules: [{ name: "r", when: {}, model: "a:first", fallbacks: ["b:second"] }] });
    ledger.grant("0x371_CREW_mixed", 0.03);
    await assert.rejects(mixed.call({ messages: [{ role: "user", content: "x" }], payer: "0x371_CREW_mixed", scope: { crewId: null, agentId: null } }), (error: { code: string; details: { attempts: Array<{ model: string; error: string }> } }) => {
      assert.equal(error.code, "MODEL_UNAVAILABLE");
      assert.deepEqual(
        error.details.attempts.map((a) => [a.model, a.error.slice(0, 8)]),
        [
          ["a:first", "HTTP 503"],
          ["b:second", "wallet 0"],
        ],
      );
      return true;
    });
    assert.equal(ledger.balance(RESERVE_WALLET), 0);
  });

  it("prices and records a call by the model that served it, and shows base URLs without credentials", async () => {
    const providers = await createProviders(ModelsConfigSchema.parse({ providers: [{ name: "mock", kind: "mock" }] }).providers);
    assert.equal(ModelRouter.shown("https://user:secret@example.com/v1"), "https://example.com/v1");
    const r = new ModelRouter({
      providers,
      providerSettings: new Map([["mock", { serves: "*", model: "forced" }]]),
      pricing: new PricingTable({ forced: { input: 0, output: 0 } }, { input: 1, output: 2 }),
      rules: [{ name: "r", when: {}, model: "requesty:claude-3-sonnet", fallbacks: [] }],
      guard: new BudgetGuard(ledger),
      callTimeoutMs: 1_000,
      cooldown: { failures: 3, ms: 1_000 },
      maxOutputTokens: 10,
    });
    const result = await call(r);
    // The rule said requesty:claude-3-sonnet; the catch-all's forced model is what answered.
    assert.equal(result.model, "forced");
    assert.equal(result.cost, 0);
    assert.equal(result.text, "Mock answer from forced to: hello");
  });

  it("names the providers a model name could go to when none serves it", () => {
    const r = router(mocks([]));
    assert.throws(() => r.resolve("z:unknown"), { code: "MODEL_UNKNOWN" });
    assert.deepEqual(
      (({ provider, modelId }) => [provider.name, modelId])(r.resolve("b:second")),
      ["b", "b:second"],
    );
  });

  describe("real adapters against local HTTP stand-ins", () => {
    let server: Server;
    let base: string;
    const seen: Array<{ path: string; auth: string | undefined; apiKey: string | undefined; body: Record<string, unknown> }> = [];
    beforeEach(async () => {
      seen.length = 0;
      server = createServer((req, res) => {
        void body(req).then((raw) => {
          const parsed = JSON.parse(raw) as Record<string, unknown>;
          seen.push({ path: req.url ?? "", auth: req.headers.authorization, apiKey: req.headers["x-api-key"] as string | undefined, body: parsed });
          res.setHeader("content-type", "application/json");
          if (parsed.model === "broken" || parsed.model === "llama3.2") {
            res.statusCode = 500;
            res.end(JSON.stringify({ error: { message: "upstream exploded", type: "server_error" } }));
            return;
          }
          if (req.url === "/v1/chat/completions") {
            res.end(
              JSON.stringify({
                id: "chatcmpl-1",
                object: "chat.completion",
                created: 0,
                model: parsed.model,
                choices: [{ index: 0, message: { role: "assistant", content: `openai-compatible ${String(parsed.model)}` }, finish_reason: "stop" }],
                usage: { prompt_tokens: 42, completion_tokens: 7, total_tokens: 49 },
              }),
            );
          } else if (req.url === "/v1/messages") {
            res.end(
              JSON.stringify({
                id: "msg_1",
                type: "message",
                role: "assistant",
                model: parsed.model,
                content: [{ type: "text", text: `anthropic ${String(parsed.model)}` }],
                stop_reason: "end_turn",
                stop_sequence: null,
                usage: { input_tokens: 30, output_tokens: 5 },
              }),
            );
          } else {
            res.statusCode = 404;
            res.end("{}");
          }
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    });
    afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("sends OpenAI-compatible chat completions with the key from the environment and reads usage back", async () => {
      const config = ModelsConfigSchema.parse({ providers: [{ name: "local", kind: "openai-compatible", baseURL: base, apiKeyEnv: "TEST_LOCAL_KEY", serves: "*" }] });
      const providers = await createProviders(config.providers, { TEST_LOCAL_KEY: "sk-test-123" });
      const r = new ModelRouter({
        providers,
        providerSettings: new Map([["local", { serves: "*" }]]),
        pricing: new PricingTable({}, { input: 1, output: 2 }),
        rules: [{ name: "only", when: {}, model: "openrouter:qwen2-72b", fallbacks: [] }],
        guard: new BudgetGuard(ledger),
        callTimeoutMs: 5_000,
        cooldown: { failures: 3, ms: 1_000 },
        maxOutputTokens: 50,
      });
      const result = await call(r, "hi there");
      assert.equal(result.text, "openai-compatible qwen2-72b");
      assert.deepEqual(result.usage, { inputTokens: 42, outputTokens: 7 });
      assert.equal(result.cost, 0.056);
      assert.equal(seen[0]?.path, "/v1/chat/completions");
      assert.equal(seen[0]?.auth, "Bearer sk-test-123");
      assert.equal(seen[0]?.body.model, "qwen2-72b");
      assert.equal(seen[0]?.body.max_tokens, 50);
      assert.deepEqual(seen[0]?.body.messages, [{ role: "user", content: "hi there" }]);
    });

    it("falls back from an endpoint answering HTTP 500 to the next model", async () => {
      const providers = await createProviders(ModelsConfigSchema.parse({ providers: [{ name: "local", kind: "openai-compatible", baseURL: base }] }).providers);
      const r = new ModelRouter({
        providers,
        pricing: new PricingTable({}, { input: 1, output: 2 }),
        rules: [{ name: "two", when: {}, model: "local:broken", fallbacks: ["local:good"] }],
        guard: new BudgetGuard(ledger),
        callTimeoutMs: 5_000,
        cooldown: { failures: 3, ms: 1_000 },
        maxOutputTokens: 50,
      });
      const result = await call(r);
      assert.equal(result.model, "local:good");
      assert.match(result.failedAttempts[0]?.error ?? "", /^HTTP 500: /);
      assert.deepEqual(
        seen.map((s) => s.body.model),
        ["broken", "good"],
      );
      assert.equal(ledger.balance(RESERVE_WALLET), 0);
    });

    it("tells the provider the output cap the budget could pay for", async () => {
      const providers = await createProviders(ModelsConfigSchema.parse({ providers: [{ name: "local", kind: "openai-compatible", baseURL: base }] }).providers);
      const r = new ModelRouter({
        providers,
        pricing: new PricingTable({}, { input: 1, output: 2 }),
        rules: [{ name: "only", when: {}, model: "local:good", fallbacks: [] }],
        guard: new BudgetGuard(ledger),
        callTimeoutMs: 5_000,
        cooldown: { failures: 3, ms: 1_000 },
        maxOutputTokens: 1_024,
      });
      // "hi there" is estimated at 21 input tokens (0.021 credits); 0.095 credits leave 0.074 for 37 output tokens.
      const wallet = "0x371_CREW_capped";
      ledger.grant(wallet, 0.095);
      const result = await r.call({ messages: [{ role: "user", content: "hi there" }], payer: wallet, scope: { crewId: null, agentId: null } });
      assert.equal(seen[0]?.body.max_tokens, 37);
      assert.equal(result.maxOutputTokens, 37);
      // The stand-in's answer (42 in, 7 out) costs 0.056, charged in full; the rest went back.
      assert.equal(result.cost, 0.056);
      assert.equal(ledger.balance(wallet), 0.039);
      assert.equal(ledger.balance(RESERVE_WALLET), 0);
    });

    it("with serve --openai-base-url URL --openai-model llama3.2, a failure names llama3.2 and its provider, and is logged", async () => {
      const models = await modelsConfig({ openaiBaseUrl: base, openaiModel: "llama3.2" });
      const warnings: string[] = [];
      const factory = await createFactory({ dataDir: ":memory:", models, logger: { info: () => {}, warn: (m) => warnings.push(m), error: () => {} } });
      try {
        factory.registerProfile({ name: "asker", role: "Asker", runtime: { kind: "llm", systemPrompt: "You answer.", tools: [] } });
        const { crew } = await factory.assembleCrew({ name: "local", budget: 100, members: [{ profile: "asker" }] });
        const done = await factory.waitForTask((await factory.submitTask({ role: "Asker", crewId: crew.id, input: "hello", maxAttempts: 1 })).id, 10_000);
        assert.equal(done.state, "DEAD");
        assert.equal(done.error?.code, "MODEL_UNAVAILABLE");
        // The default rules' names (openrouter:qwen2-72b, openrouter:mistral-7b) both go to llama3.2: one attempt.
        assert.equal(done.error?.message, "every model of rule 'balanced' failed: openai:llama3.2 (provider openai): HTTP 500: upstream exploded");
        assert.deepEqual(
          seen.map((s) => s.body.model),
          ["llama3.2"],
        );
        // Each logged once: the provider's failure, then the task it left DEAD.
        assert.deepEqual(warnings, [
          `model call failed: model openai:llama3.2, provider openai (${base}): HTTP 500: upstream exploded (task ${done.id})`,
          `task ${done.id} DEAD after 1 attempt(s): ${done.error?.message}`,
        ]);
      } finally {
        await factory.close();
      }
    });

    it("sends Anthropic messages with x-api-key and reads usage back", async () => {
      const providers = await createProviders(ModelsConfigSchema.parse({ providers: [{ name: "anthropic", kind: "anthropic", baseURL: base, apiKey: "ak-test" }] }).providers);
      const r = new ModelRouter({
        providers,
        pricing: new PricingTable({}, { input: 1, output: 2 }),
        rules: [{ name: "claude", when: {}, model: "anthropic:claude-test", fallbacks: [] }],
        guard: new BudgetGuard(ledger),
        callTimeoutMs: 5_000,
        cooldown: { failures: 3, ms: 1_000 },
        maxOutputTokens: 50,
      });
      const result = await call(r);
      assert.equal(result.text, "anthropic claude-test");
      assert.deepEqual(result.usage, { inputTokens: 30, outputTokens: 5 });
      assert.equal(seen[0]?.path, "/v1/messages");
      assert.equal(seen[0]?.apiKey, "ak-test");
      assert.equal(seen[0]?.body.model, "claude-test");
    });

    it("refuses a config whose key variable is not set, naming it", async () => {
      const config = ModelsConfigSchema.parse({ providers: [{ name: "x", kind: "openai-compatible", baseURL: base, apiKeyEnv: "AF_NOT_SET_ANYWHERE" }] });
      await assert.rejects(createProviders(config.providers, {}), { code: "VALIDATION_FAILED", message: /AF_NOT_SET_ANYWHERE is not set/ });
    });
  });
});

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}
