// Pins what survives a restart: profiles, crews, agents (same ids, restarted), wallets, events, and every accepted task.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { join } from "node:path";
import { createSqliteStore } from "../../src/adapters/store/sqlite/sqlite-store.ts";
import { createFactory } from "../../src/factory/create-factory.ts";
import type { HandlerContext } from "../../src/runtimes/function/function-handler.ts";
import { silentLogger, tempDir, until } from "../helpers.ts";

// Waits until released (or aborted), so a test can hold a task RUNNING across a shutdown.
let release: () => void = () => {};
const handlers = {
  hold: async (input: unknown, ctx: HandlerContext) => {
    await new Promise<void>((resolve, reject) => {
      release = resolve;
      ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason as Error));
    });
    return input;
  },
};

describe("restart", () => {
  // Each test gets its own data folder, so each can run alone.
  let dir = tempDir();
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.cleanup());
  const open = () => createFactory({ dataDir: dir.path, handlers, logger: silentLogger, shutdownGraceMs: 50, scaling: { tickMs: 20 } });

  it("runs a backlog left queued at a graceful shutdown on the restored agents (none fails for want of a runtime)", async () => {
    const first = await open();
    first.registerProfile({ name: "sleeper", role: "Sleeper", runtime: { kind: "function", handler: "sleep" } });
    await first.spawnAgent({ profile: "sleeper" });
    const backlog = [];
    for (let i = 0; i < 5; i++) backlog.push(await first.submitTask({ role: "Sleeper", maxAttempts: 3, input: { ms: i === 0 ? 30 : 0 } }));
    await first.close(); // the running one finishes within the grace; four stay QUEUED
    const second = await open();
    try {
      for (const task of backlog) {
        const done = await second.waitForTask(task.id, 2_000);
        assert.deepEqual([done.state, done.error], ["SUCCEEDED", undefined]);
      }
    } finally {
      await second.close();
    }
  });

  it("brings back profiles, crews, agents and tasks; runs what was queued or running", async () => {
    const first = await open();
    first.registerProfile({ name: "coder", role: "Coder" });
    first.registerProfile({ name: "holder", role: "Holder", runtime: { kind: "function", handler: "hold" } });
    const { crew, agents } = await first.assembleCrew({ name: "team", budget: 10, members: [{ profile: "coder", count: 2 }, { profile: "holder" }] });
    const done = await first.waitForTask((await first.submitTask({ role: "Coder", crewId: crew.id, input: "before" })).id, 1_000);
    assert.equal(done.state, "SUCCEEDED");
    const running = await first.submitTask({ role: "Holder", crewId: crew.id, input: "held" });
    // A profile with no agent: its task waits (a task nothing could serve is refused).
    first.registerProfile({ name: "planner", role: "Planner", pool: { spawnStrategy: "manual" } });
    const queued = await first.submitTask({ role: "Planner", input: "later" });
    assert.equal((await first.getTask(running.id)).state, "RUNNING");
    const lastSeq = first.stats().lastEventSeq;
    await first.close(); // the grace period passes; the held task is put back in the queue

    const second = await open();
    try {
      assert.deepEqual(second.listProfiles().map((p) => `${p.name}@${p.version}`), ["coder@1", "holder@1", "planner@1"]);
      const crewAfter = await second.getCrew(crew.id);
      assert.deepEqual([crewAfter.state, crewAfter.agentIds], ["ACTIVE", crew.agentIds]);
      for (const before of agents) {
        const now = await second.getAgent(before.id);
        // The holder is BUSY at once: it picked the interrupted task up again.
        const expected = before.profile === "holder" ? "BUSY" : "READY";
        assert.deepEqual([now.state, now.restarts, now.walletAddress, now.crewId], [expected, 1, before.walletAddress, crew.id]);
      }
      assert.deepEqual((await second.getTask(done.id)).result, "before");
      assert.ok(second.stats().lastEventSeq > lastSeq, "event numbering continues");
      // The interrupted task runs again on the restored holder (a second attempt).
      const rerun = await second.getTask(running.id);
      assert.deepEqual([rerun.state, rerun.attempts], ["RUNNING", 2]);
      release();
      assert.equal((await second.waitForTask(running.id, 1_000)).state, "SUCCEEDED");
      // The queued task waited for a Planner and runs once one exists.
      assert.equal((await second.getTask(queued.id)).state, "QUEUED");
      await second.spawnAgent({ profile: "planner" });
      assert.deepEqual((await second.waitForTask(queued.id, 1_000)).result, "later");
    } finally {
      await second.close();
    }
  });

  it("keeps a pool within maxSize across successive restarts, graceful and forced, with work queued", async () => {
    const live = async (factory: Awaited<ReturnType<typeof open>>): Promise<number> => (await factory.listAgents()).filter((a) => a.profile === "holder").length;
    let factory = await open();
    try {
      factory.registerProfile({ name: "holder", role: "Holder", runtime: { kind: "function", handler: "hold" }, pool: { maxSize: 2, warmSize: 0 } });
      for (let i = 0; i < 6; i++) await factory.submitTask({ role: "Holder", input: i, maxAttempts: 20 });
      await until(async () => (await live(factory)) === 2, "the pool to grow to its maxSize");
      for (const force of [false, true, false, true]) {
        await factory.close({ force });
        factory = await open();
        // The restored agents take the re-queued work; on-demand spawning must count them.
        await until(async () => (await factory.listAgents()).filter((a) => a.profile === "holder" && a.state === "BUSY").length >= 2, "the restored agents to be busy");
        // A few pool rounds: nothing more is spawned while the restored pair serves.
        await new Promise((r) => setTimeout(r, 150));
        assert.equal(await live(factory), 2, `live holder agents after a ${force ? "forced" : "graceful"} restart`);
        assert.equal(factory.getPool("holder").size, 2);
      }
    } finally {
      await factory.close({ force: true });
    }
  });

  it("drops a crew caught mid-assembly by a crash, and finishes one caught disbanding", async () => {
    const first = await open();
    first.registerProfile({ name: "coder", role: "Coder" });
    const { crew: assembling } = await first.assembleCrew({ name: "assembling", members: [{ profile: "coder" }] });
    const { crew: disbanding } = await first.assembleCrew({ name: "disbanding", members: [{ profile: "coder" }] });
    await first.close();
    // Rewrite the stored crews as a crash would have left them.
    const store = await createSqliteStore({ filename: join(dir.path, "factory.db") });
    await store.apply([
      { kind: "crew", value: { ...assembling, state: "ASSEMBLING" } },
      { kind: "crew", value: { ...disbanding, state: "DISBANDING" } },
    ]);
    await store.close();
    const second = await open();
    try {
      for (const crew of [assembling, disbanding]) {
        assert.equal((await second.getCrew(crew.id)).state, "DISBANDED", crew.name);
        assert.equal((await second.getAgent(crew.agentIds[0] as string)).state, "TERMINATED", crew.name);
      }
      const restoredCrews = new Set((await second.listAgents()).map((a) => a.crewId));
      assert.equal(restoredCrews.has(assembling.id) || restoredCrews.has(disbanding.id), false, "no member of either crew was restored");
    } finally {
      await second.close();
    }
  });
});
