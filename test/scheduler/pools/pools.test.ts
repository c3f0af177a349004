// Pins the pools: on-demand within maxSize and the spawn rate, warm pools, clone, predictive sizing, idle retirement, the pools view.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { FactoryEvent } from "../../../src/core/events.ts";
import type { Factory } from "../../../src/factory/factory.ts";
import type { HandlerContext } from "../../../src/runtimes/function/function-handler.ts";
import { testFactory, until } from "../../helpers.ts";

describe("pools", () => {
  let factory: Factory;
  let close: () => Promise<void> = async () => {};
  afterEach(async () => close());
  let release: () => void = () => {};
  let gate = Promise.resolve();
  const handlers = {
    held: async () => {
      await gate;
      return "done";
    },
    remember: (input: unknown, ctx: HandlerContext) => {
      ctx.saveContext({ ...ctx.agent.context, seen: input });
      return ctx.agent.context;
    },
  };
  const open = async (tickMs = 20) => {
    ({ factory, close } = await testFactory({ handlers, scaling: { tickMs, policies: [], stabilizationMs: 0 } }));
  };
  const holdAll = () => {
    gate = new Promise<void>((resolve) => (release = resolve));
  };

  it("spawns on demand for waiting crewless tasks, never past maxSize", async () => {
    await open();
    factory.registerProfile({ name: "od", role: "Od", runtime: { kind: "function", handler: "held" }, pool: { maxSize: 3, spawnRatePerSec: 1_000, warmSize: 0 } });
    holdAll();
    // A burst: all submitted at once.
    const tasks = await Promise.all(Array.from({ length: 5 }, () => factory.submitTask({ role: "Od" })));
    await until(async () => (await factory.listAgents({ role: "Od", state: "BUSY" })).length === 3, "three agents busy");
    await new Promise((r) => setTimeout(r, 60));
    const pool = factory.getPool("od");
    assert.deepEqual([pool.size, pool.queued, pool.running], [3, 2, 3], "no fourth agent: maxSize is 3");
    release();
    for (const t of tasks) assert.equal((await factory.waitForTask(t.id, 2_000)).state, "SUCCEEDED");
  });

  it("reaches maxSize under a burst (starting agents are not counted twice)", async () => {
    await open();
    factory.registerProfile({ name: "burst", role: "Burst", runtime: { kind: "function", handler: "held" }, pool: { maxSize: 8, spawnRatePerSec: 1_000, warmSize: 0 } });
    holdAll();
    const tasks = await Promise.all(Array.from({ length: 20 }, () => factory.submitTask({ role: "Burst" })));
    await until(async () => (await factory.listAgents({ role: "Burst", state: "BUSY" })).length === 8, "eight agents busy", 2_000);
    release();
    for (const t of tasks) assert.equal((await factory.waitForTask(t.id, 2_000)).state, "SUCCEEDED");
  });

  it("holds on-demand spawning to the token-bucket rate", async () => {
    await open();
    factory.registerProfile({ name: "slow", role: "Slow", runtime: { kind: "function", handler: "held" }, pool: { maxSize: 10, spawnRatePerSec: 2, warmSize: 0 } });
    holdAll();
    const spawned: number[] = [];
    factory.onEvent((e: FactoryEvent) => {
      if (e.to === "PROVISIONING") spawned.push(Date.now());
    }, { types: ["agent.state"] });
    for (let i = 0; i < 4; i++) await factory.submitTask({ role: "Slow" });
    await until(() => spawned.length === 4, "four spawns", 4_000);
    // A burst of 2, then one every 500 ms.
    const span = (spawned[3] as number) - (spawned[0] as number);
    assert.ok(span >= 900, `four spawns took ${span} ms at 2/s`);
    release();
  });

  it("keeps a warm pool READY, and dispatches to it at once", async () => {
    await open();
    factory.registerProfile({ name: "warm", role: "Warm", pool: { spawnStrategy: "warm-pool", warmSize: 3, spawnRatePerSec: 100 } });
    await until(async () => (await factory.listAgents({ role: "Warm", state: "READY" })).length === 3, "three READY");
    const task = await factory.submitTask({ role: "Warm", input: "hi" });
    assert.equal(task.state, "RUNNING", "dispatched from warm inside the submit call");
    await factory.waitForTask(task.id, 1_000);
    const [agent] = await factory.listAgents({ role: "Warm" });
    await factory.terminateAgent(agent?.id as string);
    await until(async () => (await factory.listAgents({ role: "Warm", state: "READY" })).length === 3, "replenished to three");
    assert.equal(factory.getPool("warm").target, 3);
  });

  it("retires agents idle past idleTimeoutMs down to the warm size (READY → IDLE → TERMINATED)", async () => {
    await open();
    factory.registerProfile({ name: "idler", role: "Idler", runtime: { kind: "function", handler: "held" }, pool: { warmSize: 1, idleTimeoutMs: 80, spawnRatePerSec: 1_000 } });
    holdAll();
    const tasks = [];
    for (let i = 0; i < 3; i++) tasks.push(await factory.submitTask({ role: "Idler" }));
    await until(async () => (await factory.listAgents({ role: "Idler" })).length === 3, "three spawned");
    const states: string[] = [];
    factory.onEvent((e) => states.push(`${e.to}`), { types: ["agent.state"] });
    release();
    for (const t of tasks) await factory.waitForTask(t.id, 1_000);
    await until(async () => (await factory.listAgents({ role: "Idler" })).length === 1, "retired to the warm size", 3_000);
    assert.ok(states.includes("IDLE") && states.includes("TERMINATED"));
    assert.equal((await factory.listAgents({ state: "TERMINATED", role: "Idler" })).length, 2);
  });

  it("clones a live agent with its saved context, into its crew", async () => {
    await open();
    const { crew, agents } = await factory.assembleCrew({ name: "fan", members: [{ config: { name: "rem", role: "Rem", runtime: { kind: "function", handler: "remember" }, pool: { spawnStrategy: "manual" } } }] });
    const source = agents[0] as (typeof agents)[number];
    await factory.waitForTask((await factory.submitTask({ agentId: source.id, crewId: crew.id, input: "plan-a" })).id, 1_000);
    const clone = await factory.cloneAgent(source.id);
    assert.notEqual(clone.id, source.id);
    assert.deepEqual([clone.crewId, clone.profile, clone.profileVersion, clone.context], [crew.id, "rem", 1, { seen: "plan-a" }]);
    assert.deepEqual((await factory.getCrew(crew.id)).agentIds, [source.id, clone.id]);
  });

  it("sizes a predictive pool from the forecast arrival rate, up and back down", async () => {
    await open(100);
    factory.registerProfile({ name: "pred", role: "Pred", runtime: { kind: "function", handler: "sleep" }, pool: { spawnStrategy: "predictive", warmSize: 0, maxSize: 12, spawnRatePerSec: 1_000, idleTimeoutMs: 50 } });
    // ~100 tasks/s of 40 ms each: Little's law says about 4 busy agents.
    const deadline = Date.now() + 1_500;
    let peak = 0;
    while (Date.now() < deadline) {
      await factory.submitTask({ role: "Pred", input: { ms: 40 } });
      await new Promise((r) => setTimeout(r, 10));
      peak = Math.max(peak, factory.getPool("pred").target);
    }
    assert.ok(peak >= 3 && peak <= 12, `forecast target reached ${peak}`);
    await until(() => factory.getPool("pred").target <= 1, "target falls once arrivals stop", 4_000);
  });

  it("GET-style view: a pool reports size, states, queue and waits", async () => {
    await open();
    factory.registerProfile({ name: "viewed", role: "Viewed", pool: { spawnStrategy: "manual" } });
    await factory.spawnAgent({ profile: "viewed" });
    await factory.waitForTask((await factory.submitTask({ role: "Viewed", input: 1 })).id, 1_000);
    const pool = factory.getPool("viewed");
    assert.deepEqual([pool.profile, pool.spawnStrategy, pool.size, pool.states.READY, pool.queued, pool.wait.samples], ["viewed", "manual", 1, 1, 0, 1]);
    assert.ok(factory.listPools().some((p) => p.profile === "viewed"));
  });
});
