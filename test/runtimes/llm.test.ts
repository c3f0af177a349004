// Pins the llm runtime end to end on the mock provider: a scripted tool loop that writes the crew context, submits a sub-task to another role and waits for it, then answers; usage and cost on the result and the task; every step a progress event and a settled ledger reservation; BUDGET_EXCEEDED ends the task FAILED at once; a budget that covers ten calls pays for ten, one at a time and at once; a crew-less agent's refusal says how to fund it; LLM_MAX_STEPS; a pinned model.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { PROVIDERS_WALLET, RESERVE_WALLET } from "../../src/core/ledger.ts";
import type { FactoryEvent } from "../../src/core/events.ts";
import { MockProvider } from "../../src/models/providers/mock-provider.ts";
import { MockScriptSchema } from "../../src/models/providers/mock-script.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { testFactory } from "../helpers.ts";

const script = MockScriptSchema.parse({
  rules: [
    {
      name: "planner",
      when: { system: "^You plan" },
      steps: [
        { toolCalls: [{ name: "context_write", input: { key: "brief", value: "{{input}}" } }], usage: { inputTokens: 100, outputTokens: 100 } },
        { toolCalls: [{ name: "submit_task", input: { role: "Writer", input: "write about {{input}}" } }], usage: { inputTokens: 200, outputTokens: 100 } },
        { toolCalls: [{ name: "context_read", input: { key: "brief" } }], usage: { inputTokens: 300, outputTokens: 100 } },
        { text: "done; the writer said: {{lastToolResult}}", usage: { inputTokens: 400, outputTokens: 200 } },
      ],
    },
    { name: "looper", when: { system: "^You loop" }, reply: { toolCalls: [{ name: "context_read", input: {} }] } },
    {
      name: "confused",
      when: { system: "^You are confused" },
      steps: [{ toolCalls: [{ name: "launch_rockets", input: { now: true } }] }, { text: "tool said: {{lastToolResult}}" }],
    },
    { name: "big", when: { prompt: "^expensive" }, reply: { text: "costly", usage: { inputTokens: 100_000, outputTokens: 0 } } },
  ],
});

describe("llm agents on the mock provider", () => {
  let t: Awaited<ReturnType<typeof testFactory>>;
  let factory: Factory;
  let mock: MockProvider;
  before(async () => {
    mock = new MockProvider({ script });
    t = await testFactory({ providers: [mock], models: { providers: [{ name: "mock", kind: "mock", serves: "*" }] } });
    factory = t.factory;
    factory.registerProfile({ name: "planner", role: "Planner", runtime: { kind: "llm", systemPrompt: "You plan work and delegate it.", maxSteps: 6 } });
    factory.registerProfile({ name: "looper", role: "Looper", runtime: { kind: "llm", systemPrompt: "You loop forever.", maxSteps: 3 } });
    factory.registerProfile({ name: "writer", role: "Writer", runtime: { kind: "function", handler: "echo" } });
  });
  after(() => t.close());

  it("runs the tool loop: context write and read, a sub-task waited for, usage and cost on the result and the task", async () => {
    const { crew } = await factory.assembleCrew({ name: "pub", budget: 100, members: [{ profile: "planner" }, { profile: "writer" }] });
    const events: FactoryEvent[] = [];
    const off = factory.onEvent((e) => events.push(e), { types: ["task.progress"] });
    const task = await factory.submitTask({ role: "Planner", crewId: crew.id, input: "tides" });
    const done = await factory.waitForTask(task.id, 10_000);
    off();
    assert.equal(done.state, "SUCCEEDED", JSON.stringify(done.error));
    const result = done.result as { output: string; steps: number; models: string[]; usage: { calls: number; inputTokens: number; outputTokens: number }; cost: number };
    assert.equal(result.steps, 4);
    assert.deepEqual(result.usage, { calls: 4, inputTokens: 1_000, outputTokens: 500 });
    // Default price: 1 credit per 1,000 input tokens, 2 per 1,000 output tokens.
    assert.equal(result.cost, 2);
    assert.deepEqual(done.usage, { calls: 4, inputTokens: 1_000, outputTokens: 500, cost: 2 });
    // The rules chose: seed 004's balanced default, on the mock.
    assert.deepEqual(result.models, ["openrouter:qwen2-72b"]);
    assert.equal((await factory.getContext(crew.id)).brief, "tides");
    // The writer's sub-task ran (echo) and its result came back through the tool result.
    const subs = (await factory.listTasks({ crewId: crew.id })).filter((x) => x.parentTaskId === task.id);
    assert.equal(subs.length, 1);
    assert.equal(subs[0]?.role, "Writer");
    assert.equal(subs[0]?.state, "SUCCEEDED");
    assert.match(result.output, /^done; the writer said: \{"key":"brief","value":"tides"\}$/);
    // A progress event per step.
    assert.deepEqual(
      events.filter((e) => e.taskId === task.id).map((e) => e.data?.message),
      [
        "step 1: openrouter:qwen2-72b called context_write",
        "step 2: openrouter:qwen2-72b called submit_task",
        "step 3: openrouter:qwen2-72b called context_read",
        "step 4: openrouter:qwen2-72b answered",
      ],
    );
    // The crew paid exactly the cost; every reservation was settled.
    assert.equal((await factory.getWallet(crew.walletAddress)).balance, 98);
    assert.equal((await factory.getWallet(RESERVE_WALLET)).balance, 0);
    const usage = await factory.listLedger({ crewId: crew.id, kinds: ["usage"] });
    assert.equal(usage.length, 4);
    assert.deepEqual(
      usage.map((e) => [e.credit, e.model, e.tokensIn, e.tokensOut, e.amount, e.taskId]),
      [
        [PROVIDERS_WALLET, "openrouter:qwen2-72b", 100, 100, 0.3, task.id],
        [PROVIDERS_WALLET, "openrouter:qwen2-72b", 200, 100, 0.4, task.id],
        [PROVIDERS_WALLET, "openrouter:qwen2-72b", 300, 100, 0.5, task.id],
        [PROVIDERS_WALLET, "openrouter:qwen2-72b", 400, 200, 0.8, task.id],
      ],
    );
  });

  it("ends a task FAILED with BUDGET_EXCEEDED, without a retry, when the crew cannot pay for the call", async () => {
    // The planner's first call is estimated at more input (its tools' schemas) than 0.3 credits pay for.
    const { crew } = await factory.assembleCrew({ name: "poor", budget: 0.3, members: [{ profile: "planner" }] });
    const task = await factory.submitTask({ role: "Planner", crewId: crew.id, input: "anything", maxAttempts: 3 });
    const done = await factory.waitForTask(task.id, 10_000);
    assert.equal(done.state, "FAILED");
    assert.equal(done.error?.code, "BUDGET_EXCEEDED");
    assert.equal(done.attempts, 1);
    assert.equal(done.usage, undefined);
    assert.equal((await factory.getWallet(crew.walletAddress)).balance, 0.3);
  });

  describe("a crew budget that covers ten calls", () => {
    /** A fresh factory (no answer lengths learnt yet) with a one-step llm agent, and what one of its calls costs. */
    async function tenCallCrew(loadLimit: number) {
      const own = await testFactory({});
      own.factory.registerProfile({ name: "brief", role: "Brief", cognitiveLoadLimit: loadLimit, runtime: { kind: "llm", systemPrompt: "You answer briefly.", tools: [] } });
      // One call, measured on a crew with plenty: 9 tokens in, 15 out (the mock's default answer) = 0.039 credits.
      const { crew: rich } = await own.factory.assembleCrew({ name: "rich", budget: 100, members: [{ profile: "brief" }] });
      const probe = await own.factory.waitForTask((await own.factory.submitTask({ role: "Brief", crewId: rich.id, input: "What is a tide?" })).id, 10_000);
      assert.deepEqual(probe.usage, { calls: 1, inputTokens: 9, outputTokens: 15, cost: 0.039 });
      const { crew } = await own.factory.assembleCrew({ name: "ten", budget: 0.39, members: [{ profile: "brief" }] });
      return { own, crew };
    }

    it("pays for ten calls one at a time — the tenth capped to what is left — then refuses with BUDGET_EXCEEDED", async () => {
      const { own, crew } = await tenCallCrew(1);
      try {
        const outcomes: string[] = [];
        let last;
        for (let i = 0; i < 12; i++) {
          last = await own.factory.waitForTask((await own.factory.submitTask({ role: "Brief", crewId: crew.id, input: "What is a tide?" })).id, 10_000);
          outcomes.push(last.state === "SUCCEEDED" ? `ok ${last.usage?.outputTokens} out` : `${last.state} ${last.error?.code}`);
        }
        // The default maxOutputTokens (1,024 tokens, 2.08 credits) fits none of them; each is capped to what is left.
        assert.deepEqual(outcomes, [...Array<string>(9).fill("ok 15 out"), "ok 4 out", "FAILED BUDGET_EXCEEDED", "FAILED BUDGET_EXCEEDED"]);
        assert.match(last?.error?.message ?? "", new RegExp(`^wallet ${crew.walletAddress} cannot cover a call of even 1 output token \\(0\\.032 credits\\): it holds 0\\.022 credits\\. Give it credits: agent-factory ledger grant`));
        const spent = (await own.factory.listLedger({ crewId: crew.id, kinds: ["usage"] })).reduce((n, e) => n + e.amount, 0);
        assert.equal(Math.round(spent * 1e6) / 1e6, 0.368);
        assert.equal((await own.factory.getWallet(crew.walletAddress)).balance, 0.022);
      } finally {
        await own.close();
      }
    });

    it("pays for about ten of 30 calls made at once, never more than the budget", async () => {
      const { own, crew } = await tenCallCrew(30);
      try {
        const tasks = await Promise.all(Array.from({ length: 30 }, () => own.factory.submitTask({ role: "Brief", crewId: crew.id, input: "What is a tide?" })));
        const done = await Promise.all(tasks.map((t) => own.factory.waitForTask(t.id, 20_000)));
        const succeeded = done.filter((d) => d.state === "SUCCEEDED");
        assert.deepEqual(new Set(done.filter((d) => d.state !== "SUCCEEDED").map((d) => `${d.state} ${d.error?.code}`)), new Set(["FAILED BUDGET_EXCEEDED"]));
        assert.ok(succeeded.length >= 9 && succeeded.length <= 10, `${succeeded.length} of 30 succeeded`);
        const spent = (await own.factory.listLedger({ crewId: crew.id, kinds: ["usage"] })).reduce((n, e) => n + e.amount, 0);
        assert.ok(spent <= 0.39 + 1e-9 && spent >= 0.35, `spent ${spent} of 0.39`);
        assert.equal((await own.factory.getWallet(RESERVE_WALLET)).balance, 0);
      } finally {
        await own.close();
      }
    });
  });

  it("refuses a crew-less agent's calls (0 credits) saying how to give it credits, and pays once its wallet is granted some", async () => {
    factory.registerProfile({ name: "loner", role: "Loner", runtime: { kind: "llm", systemPrompt: "You answer.", tools: [] } });
    const agent = await factory.spawnAgent({ profile: "loner" });
    const wallet = await factory.getWallet(agent.walletAddress);
    assert.deepEqual([wallet.balance, wallet.achievementTokens, "tokens" in wallet], [0, 1000, false]);
    const refused = await factory.waitForTask((await factory.submitTask({ role: "Loner", input: "hello" })).id, 10_000);
    assert.equal(refused.state, "FAILED");
    assert.equal(refused.error?.code, "BUDGET_EXCEEDED");
    assert.equal(
      refused.error?.message,
      `wallet ${agent.walletAddress} cannot cover a call of even 1 output token (0.026 credits): it holds 0 credits. Give it credits: agent-factory ledger grant ${agent.walletAddress} <credits> (POST /v1/ledger/grants {"wallet": "${agent.walletAddress}", "amount": <credits>}), or run agent ${agent.id} in a crew with a budget (a crew manifest's budget: credits; agent-factory crew assemble -f MANIFEST)`,
    );
    await factory.grantCredits(agent.walletAddress, 1);
    const paid = await factory.waitForTask((await factory.submitTask({ role: "Loner", input: "hello" })).id, 10_000);
    assert.equal(paid.state, "SUCCEEDED");
    assert.equal((await factory.getWallet(agent.walletAddress)).balance, Math.round((1 - (paid.usage?.cost ?? 1)) * 1e6) / 1e6);
  });

  it("fails with LLM_MAX_STEPS after maxSteps calls, having paid for each", async () => {
    const { crew } = await factory.assembleCrew({ name: "loop", budget: 100, members: [{ profile: "looper" }] });
    const done = await factory.waitForTask((await factory.submitTask({ role: "Looper", crewId: crew.id, input: "go" })).id, 10_000);
    assert.equal(done.state, "FAILED");
    assert.equal(done.error?.code, "LLM_MAX_STEPS");
    assert.equal(done.usage?.calls, 3);
    assert.ok((done.usage?.cost ?? 0) > 0);
    assert.equal((await factory.getWallet(crew.walletAddress)).balance, 100 - (done.usage?.cost ?? 0));
  });

  it("pins the profile's model and routes by the task's metadata otherwise", async () => {
    factory.registerProfile({ name: "pinned", role: "Pinned", runtime: { kind: "llm", model: "local:tiny", systemPrompt: "You answer.", tools: [] } });
    const { crew } = await factory.assembleCrew({ name: "mix", budget: 100, members: [{ profile: "pinned" }] });
    const pinned = await factory.waitForTask((await factory.submitTask({ role: "Pinned", crewId: crew.id, input: { prompt: "hello", metadata: { confidential: true } } })).id, 10_000);
    assert.equal(pinned.state, "SUCCEEDED");
    assert.deepEqual((pinned.result as { models: string[] }).models, ["local:tiny"]);
    assert.equal((pinned.result as { output: string }).output, "Mock answer from local:tiny to: hello");
    factory.registerProfile({ name: "router", role: "Routed", runtime: { kind: "llm", systemPrompt: "You answer.", tools: [] } });
    const { crew: c2 } = await factory.assembleCrew({ name: "routed", budget: 100, members: [{ profile: "router" }] });
    const routed = await factory.waitForTask((await factory.submitTask({ role: "Routed", crewId: c2.id, input: { prompt: "secret", metadata: { confidential: true } } })).id, 10_000);
    assert.deepEqual((routed.result as { models: string[] }).models, ["localai:phi-4-14b"]);
  });

  it("charges at most what was reserved when a provider reports more tokens than estimated, and counts the rest as uncovered", async () => {
    factory.registerProfile({ name: "plain", role: "Plain", runtime: { kind: "llm", systemPrompt: "You answer.", tools: [], maxOutputTokens: 100 } });
    const { crew } = await factory.assembleCrew({ name: "cap", budget: 100, members: [{ profile: "plain" }] });
    const before = factory.modelsInfo().uncoveredCredits;
    const done = await factory.waitForTask((await factory.submitTask({ role: "Plain", crewId: crew.id, input: "expensive call" })).id, 10_000);
    assert.equal(done.state, "SUCCEEDED");
    const [reservation] = await factory.listLedger({ crewId: crew.id, kinds: ["reservation"] });
    // 100,000 input tokens would cost 100 credits; the reservation (the estimate) is all that is charged.
    assert.equal(done.usage?.cost, reservation?.amount);
    assert.ok((reservation?.amount ?? 100) < 1);
    assert.equal(Math.round((factory.modelsInfo().uncoveredCredits - before) * 1e6) / 1e6, Math.round((100 - (reservation?.amount ?? 0)) * 1e6) / 1e6);
  });

  it("answers a call to a tool it does not have with one error result, and goes on", async () => {
    factory.registerProfile({ name: "confused", role: "Confused", runtime: { kind: "llm", systemPrompt: "You are confused.", maxSteps: 3 } });
    const { crew } = await factory.assembleCrew({ name: "conf", budget: 100, members: [{ profile: "confused" }] });
    const done = await factory.waitForTask((await factory.submitTask({ role: "Confused", crewId: crew.id, input: "go" })).id, 10_000);
    assert.equal(done.state, "SUCCEEDED", JSON.stringify(done.error));
    // The runtime's own answer is the last tool result the model saw: the SDK's is dropped, not sent twice.
    assert.match((done.result as { output: string }).output, /^tool said: VALIDATION_FAILED: no tool named 'launch_rockets'/);
  });

  it("keeps the profile's routing metadata over the task's: a task cannot lift confidential", async () => {
    factory.registerProfile({ name: "secretive", role: "Secretive", runtime: { kind: "llm", systemPrompt: "You answer.", tools: [], metadata: { confidential: true } } });
    const { crew } = await factory.assembleCrew({ name: "sec", budget: 100, members: [{ profile: "secretive" }] });
    const done = await factory.waitForTask((await factory.submitTask({ role: "Secretive", crewId: crew.id, input: { prompt: "hi", metadata: { confidential: false } } })).id, 10_000);
    assert.deepEqual((done.result as { models: string[] }).models, ["localai:phi-4-14b"]);
  });

  it("pays a task's reward from the crew to the agent that completed it (attribution)", async () => {
    const { crew, agents } = await factory.assembleCrew({ name: "paid", budget: 10, members: [{ profile: "writer" }] });
    const done = await factory.waitForTask((await factory.submitTask({ role: "Writer", crewId: crew.id, input: "x", reward: 2.5 })).id, 10_000);
    assert.equal(done.state, "SUCCEEDED");
    const [entry] = await factory.listLedger({ crewId: crew.id, kinds: ["attribution"] });
    assert.equal(entry?.debit, crew.walletAddress);
    assert.equal(entry?.credit, agents[0]?.walletAddress);
    assert.equal(entry?.amount, 2.5);
    assert.equal(entry?.taskId, done.id);
    assert.equal((await factory.getWallet(crew.walletAddress)).balance, 7.5);
    assert.equal((await factory.getWallet(agents[0]?.walletAddress as string)).balance, 2.5);
    await assert.rejects(factory.submitTask({ role: "Writer", input: "x", reward: 1 }), { code: "VALIDATION_FAILED", field: "reward" });
  });
});
