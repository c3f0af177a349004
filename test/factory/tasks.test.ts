// Pins the first task path: matching, load limits, priority order, retries, timeouts, cancellation.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { Factory } from "../../src/factory/factory.ts";
import type { HandlerContext } from "../../src/runtimes/function/function-handler.ts";
import { testFactory, until } from "../helpers.ts";
import { MAX_RESULT_BYTES } from "../../src/scheduler/task-result.ts";

describe("tasks", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  const started: string[] = [];
  const aborted: string[] = [];
  let finishStubborn: () => void = () => {};
  beforeEach(async () => {
    started.length = 0;
    aborted.length = 0;
    ({ factory, close } = await testFactory({
      handlers: {
        // Records the order tasks start in, then sleeps input.ms.
        record: async (input: unknown, ctx: HandlerContext) => {
          started.push((input as { tag: string }).tag);
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(resolve, (input as { ms?: number }).ms ?? 0);
            ctx.signal.addEventListener("abort", () => {
              clearTimeout(timer);
              aborted.push((input as { tag: string }).tag);
              reject(ctx.signal.reason as Error);
            });
          });
          return { tag: (input as { tag: string }).tag };
        },
        bigint: () => 1n,
        // Ignores its AbortSignal: keeps running until told to stop.
        stubborn: () => new Promise((resolve) => (finishStubborn = () => resolve("late"))),
        saver: (_input, ctx) => {
          ctx.saveContext({ n: 1n });
          return "saved";
        },
      },
    }));
    factory.registerProfile({ name: "worker", role: "Worker", capabilities: ["a", "b"], runtime: { kind: "function", handler: "record" }, pool: { spawnStrategy: "manual" } });
  });
  afterEach(async () => close());

  it("runs a task on a matching agent and records result, agent and timings", async () => {
    const agent = await factory.spawnAgent({ profile: "worker" });
    const submitted = await factory.submitTask({ role: "Worker", input: { tag: "t1" } });
    const done = await factory.waitForTask(submitted.id, 2_000);
    assert.equal(done.state, "SUCCEEDED");
    assert.deepEqual(done.result, { tag: "t1" });
    assert.equal(done.agentId, agent.id);
    assert.equal(done.attempts, 1);
    assert.ok(done.startedAt !== null && done.finishedAt !== null && done.finishedAt >= done.startedAt);
    const after = await factory.getAgent(agent.id);
    assert.deepEqual(after.stats, { completed: 1, failed: 0 });
    assert.deepEqual([after.health.successRate, after.health.samples, after.health.missed, after.health.suspect], [1, 1, 0, null]);
    assert.ok(after.health.latencyMs !== null && after.health.latencyMs >= 0);
  });

  it("matches on role, profile and every capability", async () => {
    const worker = await factory.spawnAgent({ profile: "worker" });
    await factory.spawnAgent({ config: { name: "other", role: "Other", capabilities: ["a"] } });
    const byCaps = await factory.waitForTask((await factory.submitTask({ capabilities: ["a", "b"], input: { tag: "c" } })).id, 2_000);
    const byProfile = await factory.waitForTask((await factory.submitTask({ profile: "worker", input: { tag: "p" } })).id, 2_000);
    assert.equal(byCaps.agentId, worker.id);
    assert.equal(byProfile.agentId, worker.id);
    // Nothing has capability z: refused at once, not left waiting.
    await assert.rejects(factory.submitTask({ capabilities: ["a", "z"], input: { tag: "z" } }), { code: "NO_SUCH_TARGET", field: "capabilities.1" });
  });

  it("makes an agent BUSY at its cognitiveLoadLimit and READY again when capacity frees", async () => {
    const agent = await factory.spawnAgent({ config: { name: "duo", role: "Duo", cognitiveLoadLimit: 2, runtime: { kind: "function", handler: "record" }, pool: { spawnStrategy: "manual" } } });
    const a = await factory.submitTask({ role: "Duo", input: { tag: "a", ms: 80 } });
    assert.equal((await factory.getAgent(agent.id)).state, "READY");
    const b = await factory.submitTask({ role: "Duo", input: { tag: "b", ms: 80 } });
    const live = await factory.getAgent(agent.id);
    assert.deepEqual([live.state, live.load], ["BUSY", 2]);
    const c = await factory.submitTask({ role: "Duo", input: { tag: "c", ms: 0 } });
    assert.equal((await factory.getTask(c.id)).state, "QUEUED");
    await factory.waitForTask(a.id, 2_000);
    assert.equal((await factory.waitForTask(c.id, 2_000)).state, "SUCCEEDED");
    await until(async () => (await factory.getAgent(agent.id)).state === "READY", "agent READY");
    // READY comes as soon as one slot frees; the load is 0 only once b (started with a) has ended too.
    assert.equal((await factory.waitForTask(b.id, 2_000)).state, "SUCCEEDED");
    assert.equal((await factory.getAgent(agent.id)).load, 0);
  });

  it("starts a priority-0 task submitted after ten priority-5 tasks before all of them", async () => {
    await factory.spawnAgent({ profile: "worker" });
    const first = await factory.submitTask({ role: "Worker", input: { tag: "busy", ms: 50 } });
    const low = [];
    for (let i = 0; i < 10; i++) low.push(await factory.submitTask({ role: "Worker", priority: 5, input: { tag: `p5-${i}` } }));
    const high = await factory.submitTask({ role: "Worker", priority: 0, input: { tag: "p0" } });
    for (const t of [first, ...low, high]) assert.equal((await factory.waitForTask(t.id, 3_000)).state, "SUCCEEDED");
    assert.deepEqual(started, ["busy", "p0", ...low.map((_, i) => `p5-${i}`)]);
  });

  it("retries a failing task up to maxAttempts then dead-letters it, and fails a non-retryable one at once", async () => {
    await factory.spawnAgent({ config: { name: "f", role: "Failer", runtime: { kind: "function", handler: "fail" } } });
    const retried = await factory.waitForTask((await factory.submitTask({ role: "Failer", maxAttempts: 3, retryBackoffMs: 1, input: { message: "boom" } })).id, 2_000);
    assert.deepEqual([retried.state, retried.attempts, retried.error], ["DEAD", 3, { code: "TASK_FAILED", message: "boom" }]);
    const final = await factory.waitForTask((await factory.submitTask({ role: "Failer", maxAttempts: 3, input: { message: "no", retryable: false } })).id, 2_000);
    assert.deepEqual([final.state, final.attempts], ["FAILED", 1]);
  });

  it("fails a task past its timeout with TASK_TIMEOUT and aborts the handler", async () => {
    await factory.spawnAgent({ profile: "worker" });
    const task = await factory.submitTask({ role: "Worker", timeoutMs: 30, input: { tag: "slow", ms: 5_000 } });
    const done = await factory.waitForTask(task.id, 2_000);
    assert.equal(done.state, "DEAD", "a timeout is retryable; with one attempt it is dead-lettered");
    assert.equal(done.error?.code, "TASK_TIMEOUT");
    assert.deepEqual(aborted, ["slow"]);
  });

  it("fails a timed-out task at once even when its handler ignores the signal; the agent stays BUSY until the handler returns", async () => {
    const agent = await factory.spawnAgent({ config: { name: "st", role: "Stubborn", runtime: { kind: "function", handler: "stubborn" } } });
    const task = await factory.submitTask({ role: "Stubborn", timeoutMs: 20 });
    const started = Date.now();
    const done = await factory.waitForTask(task.id, 2_000);
    assert.deepEqual([done.state, done.error?.code], ["DEAD", "TASK_TIMEOUT"]);
    assert.ok(Date.now() - started < 1_000);
    assert.deepEqual([(await factory.getAgent(agent.id)).state, (await factory.getAgent(agent.id)).load], ["BUSY", 1]);
    finishStubborn();
    await until(async () => (await factory.getAgent(agent.id)).state === "READY", "agent freed");
    assert.equal((await factory.getTask(task.id)).state, "DEAD", "the late result is discarded");
    assert.equal(factory.stats().lateResults, 1);
  });

  it("re-drives a dead task whose timed-out handler still runs only once that handler returns: never two runs at once", async () => {
    await factory.spawnAgent({ config: { name: "st1", role: "Stubborn", runtime: { kind: "function", handler: "stubborn" } } });
    await factory.spawnAgent({ config: { name: "st2", role: "Stubborn", runtime: { kind: "function", handler: "stubborn" } } });
    const task = await factory.submitTask({ role: "Stubborn", timeoutMs: 20 });
    assert.equal((await factory.waitForTask(task.id, 2_000)).state, "DEAD");
    const redriven = await factory.retryTask(task.id);
    assert.equal(redriven.state, "QUEUED");
    // The other agent is free, yet the task waits for its first handler.
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual([(await factory.getTask(task.id)).state, (await factory.getTask(task.id)).attempts], ["QUEUED", 0]);
    finishStubborn();
    await until(async () => (await factory.getTask(task.id)).state !== "QUEUED", "the re-driven life started");
  });

  it("rejects input that is not JSON where it enters, and fails a task whose handler saves unstorable context", async () => {
    await assert.rejects(factory.submitTask({ role: "Worker", input: { big: 1n } }), { code: "VALIDATION_FAILED", field: "input" });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(factory.submitTask({ role: "Worker", input: cyclic }), { code: "VALIDATION_FAILED", field: "input" });
    await factory.spawnAgent({ config: { name: "sv", role: "Saver", runtime: { kind: "function", handler: "saver" } } });
    const done = await factory.waitForTask((await factory.submitTask({ role: "Saver" })).id, 1_000);
    assert.deepEqual([done.state, done.error?.code], ["FAILED", "VALIDATION_FAILED"]);
    assert.equal(factory.storeHealthy, true);
  });

  it("refuses work after close with SHUTTING_DOWN", async () => {
    const queued = await factory.submitTask({ role: "Worker" }); // no agent: it waits
    await factory.close();
    await assert.rejects(factory.submitTask({ role: "Worker" }), { code: "SHUTTING_DOWN" });
    await assert.rejects(factory.cancelTask(queued.id), { code: "SHUTTING_DOWN" });
    await assert.rejects(factory.spawnAgent({ profile: "worker" }), { code: "SHUTTING_DOWN" });
  });

  it("cancels a queued task and a running one (whose handler sees its signal abort)", async () => {
    await factory.spawnAgent({ profile: "worker" });
    const running = await factory.submitTask({ role: "Worker", input: { tag: "run", ms: 5_000 } });
    const queued = await factory.submitTask({ role: "Worker", input: { tag: "wait" } });
    assert.equal((await factory.cancelTask(queued.id)).state, "CANCELLED");
    await until(async () => (await factory.getTask(running.id)).state === "RUNNING", "running");
    const cancelled = await factory.cancelTask(running.id);
    assert.deepEqual([cancelled.state, cancelled.error?.code], ["CANCELLED", "TASK_CANCELLED"]);
    await until(() => aborted.includes("run"), "handler aborted");
    assert.deepEqual(started, ["run"]);
    await assert.rejects(factory.cancelTask(running.id), { code: "TASK_ALREADY_FINAL" });
  });

  it("fails a task whose result is not JSON, without harming the agent", async () => {
    const agent = await factory.spawnAgent({ config: { name: "big", role: "Big", runtime: { kind: "function", handler: "bigint" } } });
    const done = await factory.waitForTask((await factory.submitTask({ role: "Big", maxAttempts: 3 })).id, 2_000);
    assert.deepEqual([done.state, done.error?.code, done.attempts], ["FAILED", "RESULT_NOT_SERIALIZABLE", 1]);
    assert.equal((await factory.getAgent(agent.id)).state, "READY");
  });

  it("fails a task whose result is over 1 MiB as JSON (RESULT_TOO_LARGE, not retried), and keeps one just under it", async () => {
    // Echo returns its input: the result is the input, so its size is set by the task.
    await factory.spawnAgent({ config: { name: "echo", role: "Echo", runtime: { kind: "function", handler: "echo" } } });
    const big = await factory.waitForTask((await factory.submitTask({ role: "Echo", input: "x".repeat(MAX_RESULT_BYTES), maxAttempts: 3 })).id, 5_000);
    assert.deepEqual([big.state, big.error?.code, big.attempts, big.result ?? null], ["FAILED", "RESULT_TOO_LARGE", 1, null]);
    assert.equal(big.error?.message, `the handler's result is ${MAX_RESULT_BYTES + 2} bytes as JSON, over the limit of ${MAX_RESULT_BYTES}: keep large outputs in the workspace or crew context and return a reference`);
    const fits = await factory.waitForTask((await factory.submitTask({ role: "Echo", input: "x".repeat(MAX_RESULT_BYTES - 2) })).id, 5_000);
    assert.deepEqual([fits.state, (fits.result as string).length], ["SUCCEEDED", MAX_RESULT_BYTES - 2]);
  });

  it("rejects a task for an unknown crew or profile, and one naming nobody", async () => {
    await assert.rejects(factory.submitTask({ role: "Worker", crewId: "crew_nope" }), { code: "CREW_NOT_FOUND", field: "crewId" });
    await assert.rejects(factory.submitTask({ profile: "ghost" }), { code: "NO_SUCH_TARGET", field: "profile" });
    await assert.rejects(factory.submitTask({ input: 1 }), { code: "VALIDATION_FAILED", field: "role" });
    assert.equal((await factory.listTasks()).length, 0);
  });

  it("lists tasks by state", async () => {
    // The worker profile has no agent yet: both wait.
    await factory.submitTask({ role: "Worker" });
    await factory.submitTask({ role: "Worker" });
    assert.equal((await factory.listTasks({ state: "QUEUED" })).length, 2);
    assert.equal((await factory.listTasks({ state: "SUCCEEDED" })).length, 0);
  });
});
