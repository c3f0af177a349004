// Pins each load balancer, affinity, queue depth, idempotency, backoff, dead letters and addressing an agent, through the factory.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { Agent } from "../../src/core/agent.ts";
import { FactoryError } from "../../src/core/errors.ts";
import type { Factory } from "../../src/factory/factory.ts";
import type { HandlerContext } from "../../src/runtimes/function/function-handler.ts";
import { createFactory } from "../../src/factory/create-factory.ts";
import { silentLogger, tempDir, testFactory } from "../helpers.ts";

describe("dispatch", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  const runs: Array<{ agent: string; tag: string; at: number }> = [];
  let releaseHeld: () => void = () => {};
  let held = Promise.resolve();
  let failFirst = 0;
  beforeEach(async () => {
    runs.length = 0;
    failFirst = 0;
    held = Promise.resolve();
    ({ factory, close } = await testFactory({
      handlers: {
        // Records who ran what and when; waits while `held` is pending; fails the first `failFirst` runs.
        work: async (input: unknown, ctx: HandlerContext) => {
          const tag = String((input as { tag?: unknown } | null)?.tag ?? "");
          runs.push({ agent: ctx.agent.name, tag, at: Date.now() });
          await held;
          if (failFirst > 0) {
            failFirst--;
            throw new Error(`planned failure of ${tag}`);
          }
          if (ctx.agent.name === "bad") throw new Error("bad at this");
          return tag;
        },
      },
    }));
  });
  afterEach(async () => close());

  const profile = (name: string, extra: Record<string, unknown> = {}) =>
    factory.registerProfile({ name, role: "Worker", runtime: { kind: "function", handler: "work" }, pool: { spawnStrategy: "manual", ...((extra.pool as object) ?? {}) }, ...extra, ...("pool" in extra ? { pool: { spawnStrategy: "manual", ...(extra.pool as object) } } : {}) });
  const spawn = async (name: string, profileName = "w"): Promise<Agent> => factory.spawnAgent({ profile: profileName, name });
  const hold = () => {
    held = new Promise<void>((resolve) => (releaseHeld = resolve));
  };

  it("round-robin rotates through the free agents in id order", async () => {
    profile("w", { pool: { balancer: "round-robin" } });
    const agents = [await spawn("a"), await spawn("b"), await spawn("c")].sort((x, y) => x.id.localeCompare(y.id));
    for (let i = 0; i < 6; i++) await factory.waitForTask((await factory.submitTask({ role: "Worker", input: { tag: `t${i}` } })).id, 1_000);
    assert.deepEqual(runs.map((r) => r.agent), [...agents, ...agents].map((a) => a.name));
  });

  it("least-loaded spreads concurrent work evenly", async () => {
    profile("w", { cognitiveLoadLimit: 4 });
    await spawn("a");
    await spawn("b");
    hold();
    for (let i = 0; i < 6; i++) await factory.submitTask({ role: "Worker", input: { tag: `t${i}` } });
    const loads = (await factory.listAgents({ role: "Worker" })).map((a) => a.load).sort();
    assert.deepEqual(loads, [3, 3]);
    releaseHeld();
  });

  it("skill-aware prefers the specialist, and the agent that does not keep failing", async () => {
    factory.registerProfile({ name: "generalist", role: "Worker", capabilities: ["ts", "py", "go", "sql"], runtime: { kind: "function", handler: "work" }, pool: { spawnStrategy: "manual" } });
    // A short quality window, so three outcomes move the moving success rate a lot.
    factory.registerProfile({ name: "specialist", role: "Worker", capabilities: ["ts"], runtime: { kind: "function", handler: "work" }, pool: { spawnStrategy: "manual" }, health: { qualityWindow: 5 } });
    await spawn("gen", "generalist");
    await spawn("spec", "specialist");
    const done = await factory.waitForTask((await factory.submitTask({ capabilities: ["ts"], balancer: "skill-aware", input: { tag: "x" } })).id, 1_000);
    assert.equal(done.result, "x");
    assert.deepEqual(runs.map((r) => r.agent), ["spec"]);

    // Two equal specialists; one keeps failing what it is given, and loses the work.
    const bad = await spawn("bad", "specialist");
    for (let i = 0; i < 3; i++) await factory.waitForTask((await factory.submitTask({ agentId: bad.id, input: { tag: `b${i}` } })).id, 1_000);
    assert.ok((await factory.getAgent(bad.id)).health.successRate < 0.6);
    runs.length = 0;
    for (let i = 0; i < 3; i++) await factory.waitForTask((await factory.submitTask({ capabilities: ["ts"], balancer: "skill-aware", input: { tag: `s${i}` } })).id, 1_000);
    assert.deepEqual(runs.map((r) => r.agent), ["spec", "spec", "spec"]);
  });

  it("affinity keeps a key on one agent while it lives (waiting for it when busy) and moves it when it dies", async () => {
    profile("w");
    await spawn("a");
    await spawn("b");
    const first = await factory.waitForTask((await factory.submitTask({ role: "Worker", affinityKey: "user-7", input: { tag: "1" } })).id, 1_000);
    const bound = first.agentId as string;
    for (let i = 2; i <= 4; i++) {
      const t = await factory.waitForTask((await factory.submitTask({ role: "Worker", affinityKey: "user-7", input: { tag: String(i) } })).id, 1_000);
      assert.equal(t.agentId, bound, `task ${i} followed the key`);
    }
    // Bound agent busy: the next task with the key waits for it although the other agent is free.
    hold();
    const busy = await factory.submitTask({ role: "Worker", input: { tag: "busy" }, agentId: bound });
    const waiting = await factory.submitTask({ role: "Worker", affinityKey: "user-7", input: { tag: "5" } });
    assert.equal((await factory.getTask(waiting.id)).state, "QUEUED");
    releaseHeld();
    assert.equal((await factory.waitForTask(waiting.id, 1_000)).agentId, bound);
    await factory.waitForTask(busy.id, 1_000);
    // The agent dies: the key moves to the other one.
    await factory.terminateAgent(bound);
    const moved = await factory.waitForTask((await factory.submitTask({ role: "Worker", affinityKey: "user-7", input: { tag: "6" } })).id, 1_000);
    assert.notEqual(moved.agentId, bound);
    assert.equal(moved.state, "SUCCEEDED");
  });

  it("a task overrides its profile's balancer; least-loaded reuses the agent freed last", async () => {
    profile("w", { pool: { balancer: "round-robin" } });
    await spawn("a");
    await spawn("b");
    // The profile's round-robin alternates between the two agents.
    for (let i = 0; i < 4; i++) await factory.waitForTask((await factory.submitTask({ role: "Worker", input: { tag: `r${i}` } })).id, 1_000);
    const rr = runs.map((r) => r.agent);
    assert.deepEqual([rr[0] !== rr[1], rr[0] === rr[2], rr[1] === rr[3]], [true, true, true], `round-robin: ${rr.join(",")}`);
    // Overridden by least-loaded, one task at a time, it keeps reusing the agent freed last, so the
    // other one can go idle and be retired.
    runs.length = 0;
    for (let i = 0; i < 4; i++) await factory.waitForTask((await factory.submitTask({ role: "Worker", balancer: "least-loaded", input: { tag: `l${i}` } })).id, 1_000);
    assert.equal(new Set(runs.map((r) => r.agent)).size, 1, `least-loaded: ${runs.map((r) => r.agent).join(",")}`);
  });

  it("refuses a task with QUEUE_FULL once its lane holds the profile's queueDepth; nothing already queued is lost", async () => {
    profile("w", { pool: { queueDepth: 2 } });
    const a = await factory.submitTask({ role: "Worker", input: { tag: "1" } });
    const b = await factory.submitTask({ role: "Worker", input: { tag: "2" } });
    await assert.rejects(factory.submitTask({ role: "Worker", input: { tag: "3" } }), (error: unknown) => {
      assert.ok(error instanceof FactoryError);
      assert.equal(error.code, "QUEUE_FULL");
      assert.equal(typeof error.details?.retryAfterSec, "number");
      return true;
    });
    // Another crew's (or target's) lane is not affected.
    await factory.submitTask({ role: "Worker", profile: "w", input: { tag: "other" } });
    await spawn("a");
    for (const t of [a, b]) assert.equal((await factory.waitForTask(t.id, 1_000)).state, "SUCCEEDED");
  });

  it("returns the first task for a repeated idempotency key, even after a restart", async () => {
    profile("w");
    const first = await factory.submit({ role: "Worker", idempotencyKey: "order-1", input: { tag: "1" } });
    const again = await factory.submit({ role: "Worker", idempotencyKey: "order-1", input: { tag: "other" } });
    assert.deepEqual([first.created, again.created, again.task.id], [true, false, first.task.id]);
    const [p1, p2] = await Promise.all([factory.submit({ role: "Worker", idempotencyKey: "order-2" }), factory.submit({ role: "Worker", idempotencyKey: "order-2" })]);
    assert.equal(p1.task.id, p2.task.id, "concurrent submits with one key make one task");
    assert.equal((await factory.listTasks()).length, 2);

    const dir = tempDir();
    try {
      const before = await createFactory({ dataDir: dir.path, logger: silentLogger });
      before.registerProfile({ name: "w", role: "Worker", pool: { spawnStrategy: "manual" } });
      const original = await before.submitTask({ role: "Worker", idempotencyKey: "order-3" });
      await before.close();
      const after = await createFactory({ dataDir: dir.path, logger: silentLogger });
      const repeated = await after.submit({ role: "Worker", idempotencyKey: "order-3" });
      assert.deepEqual([repeated.created, repeated.task.id], [false, original.id]);
      await after.close();
    } finally {
      dir.cleanup();
    }
  });

  it("backs off exponentially between attempts, dead-letters after the last, and re-drives a DEAD task", async () => {
    profile("w");
    await spawn("a");
    failFirst = 3;
    const task = await factory.submitTask({ role: "Worker", maxAttempts: 3, retryBackoffMs: 40, input: { tag: "r" } });
    const dead = await factory.waitForTask(task.id, 3_000);
    assert.deepEqual([dead.state, dead.attempts, dead.error?.message], ["DEAD", 3, "planned failure of r"]);
    const gaps = runs.slice(1).map((r, i) => r.at - (runs[i] as { at: number }).at);
    assert.ok((gaps[0] as number) >= 18 && (gaps[0] as number) < 400, `first gap ${gaps[0]} ms is within [20, 40] ms`);
    assert.ok((gaps[1] as number) >= 38, `second gap ${gaps[1]} ms is within [40, 80] ms`);
    assert.deepEqual((await factory.listTasks({ state: "DEAD" })).map((t) => t.id), [task.id]);

    const redriven = await factory.retryTask(task.id);
    assert.equal(redriven.redrives, 1);
    const done = await factory.waitForTask(task.id, 1_000);
    assert.deepEqual([done.state, done.attempts, done.result, done.error], ["SUCCEEDED", 1, "r", undefined]);
    await assert.rejects(factory.retryTask(task.id), { code: "TASK_NOT_DEAD" });
  });

  it("runs a task addressed to one agent on that agent only, and fails it if the agent terminates first", async () => {
    profile("w");
    const a = await spawn("a");
    const b = await spawn("b");
    hold();
    await factory.submitTask({ agentId: b.id, input: { tag: "occupy" } });
    const forB = await factory.submitTask({ agentId: b.id, input: { tag: "for-b" } });
    assert.equal((await factory.getTask(forB.id)).state, "QUEUED", "a is free but the task is b's");
    releaseHeld();
    assert.equal((await factory.waitForTask(forB.id, 1_000)).agentId, b.id);
    hold();
    await factory.submitTask({ agentId: a.id, input: { tag: "occupy-a" } });
    const orphan = await factory.submitTask({ agentId: a.id, input: { tag: "orphan" } });
    await factory.terminateAgent(a.id);
    releaseHeld();
    const failed = await factory.waitForTask(orphan.id, 1_000);
    assert.deepEqual([failed.state, failed.error?.code], ["FAILED", "AGENT_NOT_FOUND"]);
    await assert.rejects(factory.submitTask({ agentId: "agent_gone" }), { code: "AGENT_NOT_FOUND", field: "agentId" });
  });
});
