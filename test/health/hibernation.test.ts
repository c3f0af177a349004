// Pins hibernation: idle agents sleep to the store (runtime stopped, out of memory), wake on a task addressed to them (by id or affinity) with their context, over HTTP too, and across restarts.
import assert from "node:assert/strict";
import { copyFileSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createApp } from "../../src/api/app.ts";
import { FactoryError } from "../../src/core/errors.ts";
import { createFactory } from "../../src/factory/create-factory.ts";
import type { Factory } from "../../src/factory/factory.ts";
import type { HandlerContext } from "../../src/runtimes/function/function-handler.ts";
import { alive, silentLogger, tempDir, testFactory, until } from "../helpers.ts";

const root = resolve(import.meta.dirname, "../..");

/** Counts its runs in its saved context, so a woken agent shows it got its context back. */
const counter = (_input: unknown, ctx: HandlerContext) => {
  const runs = ((ctx.agent.context.runs as number | undefined) ?? 0) + 1;
  ctx.saveContext({ runs });
  return { runs, by: ctx.agent.id };
};

describe("hibernation", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let dir: string;
  // Where a test's process agent code lives (the one folder its factory allows agent files from).
  let scripts: ReturnType<typeof tempDir>;
  beforeEach(async () => {
    scripts = tempDir("af-hib-");
    ({ factory, close, dir } = await testFactory({ handlers: { counter }, processes: { warmPerKind: 0 }, agentFiles: [scripts.path] }));
  });
  afterEach(async () => {
    await close();
    scripts.cleanup();
  });

  it("sleeps an agent idle past hibernateAfterMs: out of memory, a store row only; a task by id wakes it with its context", async () => {
    factory.registerProfile({ name: "sleepy", role: "S", runtime: { kind: "function", handler: "counter" }, pool: { spawnStrategy: "manual", hibernateAfterMs: 100 } });
    const a = await factory.spawnAgent({ profile: "sleepy" });
    assert.deepEqual((await factory.waitForTask((await factory.submitTask({ agentId: a.id })).id, 1_000)).result, { runs: 1, by: a.id });
    await until(async () => (await factory.getAgent(a.id)).state === "HIBERNATING", "hibernated", 3_000);
    // Only the store knows it now.
    assert.deepEqual((await factory.listAgents()).map((x) => x.id), []);
    assert.deepEqual((await factory.listAgents({ state: "HIBERNATING" })).map((x) => x.id), [a.id]);
    assert.equal(factory.stats().agents, 0);
    assert.deepEqual((await factory.getAgent(a.id)).context, { runs: 1 });

    const woken = await factory.waitForTask((await factory.submitTask({ agentId: a.id })).id, 3_000);
    assert.equal(woken.state, "SUCCEEDED");
    assert.deepEqual(woken.result, { runs: 2, by: a.id }, "woken with its saved context");
    const back = await factory.getAgent(a.id);
    assert.deepEqual([back.state, back.walletAddress, back.restarts], ["READY", a.walletAddress, 0]);
    const health = factory.stats().health;
    assert.deepEqual([health.hibernated, health.woken, health.wakeMs.samples], [1, 1, 1]);
  });

  it("hibernates and wakes on request; refuses a busy agent with AGENT_BUSY; a terminated sleeper cannot wake", async () => {
    factory.registerProfile({ name: "manual", role: "M", runtime: { kind: "function", handler: "sleep" }, pool: { spawnStrategy: "manual" } });
    const a = await factory.spawnAgent({ profile: "manual" });
    const running = await factory.submitTask({ agentId: a.id, input: { ms: 300 } });
    await until(async () => (await factory.getTask(running.id)).state === "RUNNING", "running");
    await assert.rejects(factory.hibernateAgent(a.id), (e: unknown) => e instanceof FactoryError && e.code === "AGENT_BUSY");
    await factory.waitForTask(running.id, 2_000);
    assert.equal((await factory.hibernateAgent(a.id)).state, "HIBERNATING");
    assert.equal((await factory.hibernateAgent(a.id)).state, "HIBERNATING", "again: a no-op");
    const awake = await factory.wakeAgent(a.id);
    assert.equal(awake.state, "READY");
    assert.equal((await factory.wakeAgent(a.id)).state, "READY", "waking an awake agent returns it");
    await factory.hibernateAgent(a.id);
    assert.equal((await factory.terminateAgent(a.id)).state, "TERMINATED");
    await assert.rejects(factory.wakeAgent(a.id), (e: unknown) => e instanceof FactoryError && e.code === "ILLEGAL_TRANSITION");
    await assert.rejects(factory.wakeAgent("agent_nope"), (e: unknown) => e instanceof FactoryError && e.code === "AGENT_NOT_FOUND");
  });

  it("disbanding a crew ends its sleeping members too: their store rows become TERMINATED and they cannot wake", async () => {
    factory.registerProfile({ name: "member", role: "C", runtime: { kind: "function", handler: "counter" }, pool: { spawnStrategy: "manual" } });
    const { crew, agents } = await factory.assembleCrew({ name: "nappers", members: [{ profile: "member", count: 3 }] });
    const [a, b, c] = agents as [(typeof agents)[0], (typeof agents)[0], (typeof agents)[0]];
    await factory.hibernateAgent(a.id);
    await factory.hibernateAgent(b.id);
    assert.equal((await factory.disbandCrew(crew.id)).id, crew.id);
    await until(async () => (await factory.getAgent(c.id)).state === "TERMINATED", "the awake member to end");
    assert.deepEqual([(await factory.getAgent(a.id)).state, (await factory.getAgent(b.id)).state], ["TERMINATED", "TERMINATED"]);
    await assert.rejects(factory.wakeAgent(a.id), (e: unknown) => e instanceof FactoryError && e.code === "ILLEGAL_TRANSITION");
  });

  it("a task whose affinity key is bound to a sleeping agent wakes that agent rather than going elsewhere", async () => {
    factory.registerProfile({ name: "bound", role: "B", runtime: { kind: "function", handler: "counter" }, pool: { spawnStrategy: "manual" } });
    const a = await factory.spawnAgent({ profile: "bound" });
    const first = await factory.waitForTask((await factory.submitTask({ role: "B", affinityKey: "user-7" })).id, 1_000);
    assert.equal(first.agentId, a.id);
    await factory.hibernateAgent(a.id);
    const b = await factory.spawnAgent({ profile: "bound" });
    const second = await factory.waitForTask((await factory.submitTask({ role: "B", affinityKey: "user-7" })).id, 3_000);
    assert.equal(second.agentId, a.id, "the bound agent woke for it");
    assert.deepEqual(second.result, { runs: 2, by: a.id });
    void b;
  });

  it("a process agent's process exits when it hibernates and a new one starts on wake, with its workspace and context", async () => {
    const py = join(scripts.path, "hib_agent.py");
    copyFileSync(join(root, "examples/agents/echo_agent.py"), py);
    try {
      factory.registerProfile({ name: "pysleep", role: "PS", runtime: { kind: "process", command: ["python3", "/agent/hib_agent.py"], files: [py] }, pool: { spawnStrategy: "manual" } });
      const a = await factory.spawnAgent({ profile: "pysleep" });
      await factory.waitForTask((await factory.submitTask({ agentId: a.id, input: { write: "/workspace/kept.txt" } })).id, 3_000);
      assert.deepEqual((await factory.waitForTask((await factory.submitTask({ agentId: a.id, input: { text: "a" } })).id, 3_000)).result, { upper: "A", by: "python", runs: 2 });
      const pid = (await factory.getAgent(a.id)).pid as number;
      await factory.hibernateAgent(a.id);
      await until(() => !alive(pid), "the process exited", 3_000);
      assert.equal((await factory.getAgent(a.id)).pid, null);
      assert.ok(existsSync(join(dir, "workspaces", a.id, "kept.txt")), "the workspace stays while it sleeps");
      const woken = await factory.waitForTask((await factory.submitTask({ agentId: a.id, input: { read: "/workspace/kept.txt" } })).id, 5_000);
      assert.deepEqual(woken.result, { read: "x" });
      const back = await factory.getAgent(a.id);
      assert.ok(back.pid !== null && back.pid !== pid && alive(back.pid));
      // The Python agent saves { runs } in its context: it came back through initialize.
      assert.deepEqual(back.context, { runs: 1 });
      await factory.hibernateAgent(a.id);
      await factory.terminateAgent(a.id);
      assert.equal(existsSync(join(dir, "workspaces", a.id)), false, "a terminated sleeper's workspace goes");
    } finally {
      scripts.cleanup();
    }
  });

  it("HTTP: POST /v1/agents/{id}/hibernate and /wake; a busy agent is 409 AGENT_BUSY; an unknown one 404", async () => {
    const app = createApp(factory);
    factory.registerProfile({ name: "web", role: "W", runtime: { kind: "function", handler: "sleep" }, pool: { spawnStrategy: "manual" } });
    const a = await factory.spawnAgent({ profile: "web" });
    const slept = await app.request(`/v1/agents/${a.id}/hibernate`, { method: "POST" });
    assert.equal(slept.status, 200);
    assert.equal(((await slept.json()) as { state: string }).state, "HIBERNATING");
    const listed = (await (await app.request("/v1/agents?state=HIBERNATING")).json()) as { items: Array<{ id: string }> };
    assert.deepEqual(listed.items.map((x) => x.id), [a.id]);
    const woke = await app.request(`/v1/agents/${a.id}/wake`, { method: "POST" });
    assert.equal(woke.status, 200);
    const body = (await woke.json()) as { state: string; health: { missed: number; suspect: string | null } };
    assert.equal(body.state, "READY");
    assert.deepEqual([body.health.missed, body.health.suspect], [0, null]);
    const t = await factory.submitTask({ agentId: a.id, input: { ms: 300 } });
    await until(async () => (await factory.getTask(t.id)).state === "RUNNING", "running");
    const busy = await app.request(`/v1/agents/${a.id}/hibernate`, { method: "POST" });
    assert.equal(busy.status, 409);
    assert.equal(((await busy.json()) as { error: { code: string } }).error.code, "AGENT_BUSY");
    assert.equal((await app.request("/v1/agents/agent_missing/wake", { method: "POST" })).status, 404);
    assert.equal((await app.request(`/v1/agents/${a.id}/hibernate`, { method: "POST", headers: { "content-type": "application/json" }, body: "{" })).status, 400);
  });
});

describe("hibernation across a restart", () => {
  it("a hibernated agent stays asleep in the store through a restart and wakes after it", async () => {
    const dir = tempDir();
    try {
      let factory = await createFactory({ dataDir: dir.path, logger: silentLogger, handlers: { counter } });
      factory.registerProfile({ name: "r", role: "R", runtime: { kind: "function", handler: "counter" }, pool: { spawnStrategy: "manual" } });
      const a = await factory.spawnAgent({ profile: "r" });
      await factory.waitForTask((await factory.submitTask({ agentId: a.id })).id, 1_000);
      await factory.hibernateAgent(a.id);
      await factory.close();
      factory = await createFactory({ dataDir: dir.path, logger: silentLogger, handlers: { counter } });
      try {
        assert.deepEqual(factory.restored, { agents: 0, tasks: 0 }, "nothing asleep is loaded");
        const woken = await factory.waitForTask((await factory.submitTask({ agentId: a.id })).id, 3_000);
        assert.deepEqual(woken.result, { runs: 2, by: a.id });
      } finally {
        await factory.close();
      }
    } finally {
      dir.cleanup();
    }
  });

  it("after a restart, crew work wakes a member that went to sleep before it", async () => {
    const dir = tempDir();
    try {
      let factory = await createFactory({ dataDir: dir.path, logger: silentLogger, handlers: { counter } });
      factory.registerProfile({ name: "m", role: "Member", runtime: { kind: "function", handler: "counter" }, pool: { spawnStrategy: "manual" } });
      const { crew, agents } = await factory.assembleCrew({ name: "sleepers", members: [{ profile: "m" }] });
      await factory.hibernateAgent(agents[0]!.id);
      await factory.close();
      factory = await createFactory({ dataDir: dir.path, logger: silentLogger, handlers: { counter } });
      try {
        const done = await factory.waitForTask((await factory.submitTask({ crewId: crew.id, role: "Member" })).id, 3_000);
        assert.deepEqual(done.result, { runs: 1, by: agents[0]!.id });
      } finally {
        await factory.close();
      }
    } finally {
      dir.cleanup();
    }
  });
});
