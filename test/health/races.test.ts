// Pins the edges where healing and sleep meet dispatch: tasks addressed to an agent while it falls asleep or waits out a retry, terminate racing a wake, crews whose members all sleep, stuck agents with spare capacity, handlers that ignore cancel, and crash loops of agents that never speak.
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { FactoryEvent } from "../../src/core/events.ts";
import type { Factory } from "../../src/factory/factory.ts";
import type { HandlerContext } from "../../src/runtimes/function/function-handler.ts";
import { testFactory, until } from "../helpers.ts";

const root = resolve(import.meta.dirname, "../..");

describe("healing and sleep against dispatch", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let events: FactoryEvent[];
  let release: () => void = () => {};
  beforeEach(async () => {
    ({ factory, close } = await testFactory({
      processes: { warmPerKind: 0 },
      agentFiles: [join(root, "test/fixtures")],
      handlers: {
        // Slow to stop: a window in which the agent is HIBERNATING but still in memory.
        slowStop: { run: (_i: unknown, ctx: HandlerContext) => ({ by: ctx.agent.id }), stop: () => new Promise((r) => setTimeout(r, 200)) },
        // Fails its first attempt.
        firstFails: (_i: unknown, ctx: HandlerContext) => {
          if (ctx.task.attempts === 1) throw new Error("first attempt fails");
          return { by: ctx.agent.id };
        },
        // Hangs on its first attempt, ignoring its signal; quick afterwards.
        hangOnce: async (_i: unknown, ctx: HandlerContext) => {
          if (ctx.task.attempts === 1) await new Promise<void>((r) => (release = r));
          return { by: ctx.agent.id };
        },
        who: (_i: unknown, ctx: HandlerContext) => ({ by: ctx.agent.id }),
      },
    }));
    events = [];
    factory.onEvent((e) => events.push(e));
  });
  afterEach(async () => {
    release();
    await close();
  });

  it("a task addressed to an agent while it falls asleep wakes it and runs; a wake in that window answers READY", async () => {
    factory.registerProfile({ name: "slow", role: "S", runtime: { kind: "function", handler: "slowStop" }, pool: { spawnStrategy: "manual" } });
    const a = await factory.spawnAgent({ profile: "slow" });
    const sleeping = factory.hibernateAgent(a.id);
    await until(async () => (await factory.getAgent(a.id)).state === "HIBERNATING", "falling asleep");
    const task = await factory.submitTask({ agentId: a.id });
    const woken = await factory.wakeAgent(a.id);
    assert.equal(woken.state, "READY");
    await sleeping;
    const done = await factory.waitForTask(task.id, 3_000);
    assert.equal(done.state, "SUCCEEDED");
    assert.deepEqual(done.result, { by: a.id });
  });

  it("a task addressed to an agent that fell asleep while the task waited out a retry wakes it", async () => {
    factory.registerProfile({ name: "retry", role: "R", runtime: { kind: "function", handler: "firstFails" }, pool: { spawnStrategy: "manual" } });
    const a = await factory.spawnAgent({ profile: "retry" });
    const task = await factory.submitTask({ agentId: a.id, maxAttempts: 2, retryBackoffMs: 300 });
    await until(async () => (await factory.getTask(task.id)).attempts === 1 && (await factory.getTask(task.id)).state === "QUEUED", "waiting out its backoff");
    await factory.hibernateAgent(a.id);
    const done = await factory.waitForTask(task.id, 5_000);
    assert.equal(done.state, "SUCCEEDED");
    assert.equal(done.attempts, 2);
  });

  it("a task addressed to a sleeper that was then terminated is refused with AGENT_NOT_FOUND", async () => {
    factory.registerProfile({ name: "gone", role: "G", runtime: { kind: "function", handler: "who" }, pool: { spawnStrategy: "manual" } });
    const a = await factory.spawnAgent({ profile: "gone" });
    await factory.hibernateAgent(a.id);
    await factory.terminateAgent(a.id);
    await assert.rejects(factory.submitTask({ agentId: a.id }), (e: unknown) => (e as { code?: string }).code === "AGENT_NOT_FOUND");
  });

  it("does not put an agent to sleep while a task waits for it", async () => {
    factory.registerProfile({ name: "paused", role: "P", runtime: { kind: "function", handler: "who" }, pool: { spawnStrategy: "manual", hibernateAfterMs: 50 } });
    const { crew, agents } = await factory.assembleCrew({ name: "sleepy-crew", members: [{ profile: "paused" }] });
    const member = agents[0]?.id as string;
    await factory.broadcast(crew.id, "PAUSE");
    const task = await factory.submitTask({ agentId: member, crewId: crew.id });
    await new Promise((r) => setTimeout(r, 1_300));
    assert.notEqual((await factory.getAgent(member)).state, "HIBERNATING", "a task waits for it");
    await factory.broadcast(crew.id, "RESUME");
    assert.equal((await factory.waitForTask(task.id, 3_000)).state, "SUCCEEDED");
  });

  it("terminating a sleeper while it is being woken leaves it terminated", async () => {
    factory.registerProfile({ name: "race", role: "Race", runtime: { kind: "function", handler: "who" }, pool: { spawnStrategy: "manual" } });
    const a = await factory.spawnAgent({ profile: "race" });
    await factory.hibernateAgent(a.id);
    const [woke, ended] = await Promise.allSettled([factory.wakeAgent(a.id), factory.terminateAgent(a.id)]);
    assert.equal(ended.status, "fulfilled");
    await until(async () => (await factory.getAgent(a.id)).state === "TERMINATED", "terminated", 2_000);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await factory.getAgent(a.id)).state, "TERMINATED", "and it stays so");
    assert.equal((await factory.listAgents()).length, 0);
    void woke;
  });

  it("a crew task by role wakes a sleeping member when every member sleeps", async () => {
    factory.registerProfile({ name: "crewmate", role: "Mate", runtime: { kind: "function", handler: "who" }, pool: { spawnStrategy: "manual" } });
    const { crew, agents } = await factory.assembleCrew({ name: "all-asleep", members: [{ profile: "crewmate", count: 2 }] });
    for (const agent of agents) await factory.hibernateAgent(agent.id);
    const done = await factory.waitForTask((await factory.submitTask({ crewId: crew.id, role: "Mate" })).id, 3_000);
    assert.equal(done.state, "SUCCEEDED");
    assert.ok(agents.some((a) => a.id === (done.result as { by: string }).by));
  });

  it("a stuck task goes to another agent even when the stuck one has spare capacity", async () => {
    factory.registerProfile({ name: "wide", role: "W", cognitiveLoadLimit: 4, runtime: { kind: "function", handler: "hangOnce" }, pool: { spawnStrategy: "manual", stuckThresholdMs: 150 } });
    const a = await factory.spawnAgent({ profile: "wide" });
    const task = await factory.submitTask({ role: "W" });
    await until(async () => (await factory.getAgent(a.id)).health.suspect !== null, "suspect", 2_000);
    const b = await factory.spawnAgent({ profile: "wide" });
    const done = await factory.waitForTask(task.id, 3_000);
    assert.equal(done.state, "SUCCEEDED");
    assert.deepEqual(done.result, { by: b.id }, "not back on the suspect agent");
  });

  it("a handler that ignores its timeout makes its agent suspect once, then gets it replaced — no stream of events", async () => {
    factory.registerProfile({ name: "deaf", role: "D", runtime: { kind: "function", handler: "hangOnce" }, pool: { spawnStrategy: "manual", stuckThresholdMs: 150 } });
    const a = await factory.spawnAgent({ profile: "deaf" });
    const task = await factory.submitTask({ agentId: a.id, timeoutMs: 30, maxAttempts: 2 });
    await until(async () => (await factory.getAgent(a.id)).restarts === 1 && (await factory.getAgent(a.id)).state === "READY", "replaced", 3_000);
    const suspects = events.filter((e) => e.type === "agent.health" && e.agentId === a.id && e.data?.reason === "suspect: a task made no progress");
    assert.equal(suspects.length, 1);
    assert.equal((await factory.waitForTask(task.id, 3_000)).state, "SUCCEEDED");
  });

  it("an agent that never says a word after initialize is replaced, and given up on after 5 such lives", async () => {
    factory.registerProfile({
      name: "mute",
      role: "Mute",
      runtime: { kind: "process", command: ["node", "/agent/protocol-agent.mjs"], files: [join(root, "test/fixtures/protocol-agent.mjs")] },
      pool: { spawnStrategy: "manual" },
      // Long enough to be past the crash-loop window of 3 s of uptime: only "never heard" makes these lives young.
      health: { heartbeatIntervalMs: 1_100, missedHeartbeats: 3 },
    });
    // Never heard from: each life ends after 3.3 s of silence; five make a crash loop.
    const a = await factory.spawnAgent({ profile: "mute" });
    await until(async () => (await factory.getAgent(a.id)).state === "TERMINATED", "given up", 25_000);
    const ended = events.filter((e) => e.type === "agent.state" && e.agentId === a.id && e.to === "TERMINATED").at(-1);
    assert.match(String(ended?.data?.reason), /given up/);
    assert.equal(factory.stats().health.givenUp, 1);
    assert.equal(factory.stats().health.replaced.silent, 5);
  });
});
