// Pins spawning, profile versions, termination and the events they emit, through the library.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { FactoryEvent } from "../../src/core/events.ts";
import { FactoryError } from "../../src/core/errors.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { createSqliteStore } from "../../src/adapters/store/sqlite/sqlite-store.ts";
import type { Wallet } from "../../src/core/wallet.ts";
import { createFactory } from "../../src/factory/create-factory.ts";
import { silentLogger, testFactory, until } from "../helpers.ts";

describe("wallets stored by earlier versions", () => {
  it("reads a stored wallet's old `tokens` as its achievement tokens, and shows no `tokens`", async () => {
    const store = await createSqliteStore({ filename: ":memory:" });
    const old = { address: "0x371_OLD_1", ownerKind: "agent", ownerId: "agent_old", balance: 0, tokens: 1000, createdAt: "2026-01-01T00:00:00.000Z" };
    await store.apply([{ kind: "wallet", value: old as unknown as Wallet }]);
    const factory = await createFactory({ store, logger: silentLogger });
    try {
      assert.deepEqual(await factory.getWallet("0x371_OLD_1"), { address: "0x371_OLD_1", ownerKind: "agent", ownerId: "agent_old", balance: 0, achievementTokens: 1000, createdAt: "2026-01-01T00:00:00.000Z" });
    } finally {
      await factory.close();
    }
  });
});

describe("agents", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  beforeEach(async () => {
    ({ factory, close } = await testFactory());
  });
  afterEach(async () => close());

  it("spawns an agent READY with an id, a wallet of 0 credits and 1000 achievement tokens, and its profile's fields", async () => {
    factory.registerProfile({ name: "coder", role: "Coder", capabilities: ["ts"], cognitiveLoadLimit: 2 });
    const agent = await factory.spawnAgent({ profile: "coder" });
    assert.match(agent.id, /^agent_[0-9a-f]{16}$/);
    assert.equal(agent.state, "READY");
    assert.equal(agent.role, "Coder");
    assert.equal(agent.profileVersion, 1);
    assert.equal(agent.crewId, null);
    assert.deepEqual(agent.capabilities, ["ts"]);
    assert.match(agent.walletAddress, /^0x371_CODER_[0-9a-f]{32}$/);
    const wallet = await factory.getWallet(agent.walletAddress);
    assert.deepEqual(
      { balance: wallet.balance, achievementTokens: wallet.achievementTokens, ownerId: wallet.ownerId, ownerKind: wallet.ownerKind },
      { balance: 0, achievementTokens: 1000, ownerId: agent.id, ownerKind: "agent" },
    );
  });

  it("emits one event per transition: PROVISIONING, WARMING, READY", async () => {
    const seen: FactoryEvent[] = [];
    const off = factory.onEvent((e) => seen.push(e), { types: ["agent.state"] });
    const agent = await factory.spawnAgent({ config: { name: "e", role: "Coder" } });
    off();
    assert.deepEqual(
      seen.filter((e) => e.agentId === agent.id).map((e) => `${e.from ?? "-"}>${e.to}`),
      ["->PROVISIONING", "PROVISIONING>WARMING", "WARMING>READY"],
    );
    const stored = await factory.listEvents({ agentId: agent.id, types: ["agent.state"] });
    assert.equal(stored.length, 3);
  });

  it("gives a changed profile a new version; agents keep the version they were spawned from", async () => {
    const v1 = factory.registerProfile({ name: "coder", role: "Coder", cognitiveLoadLimit: 1 });
    const same = factory.registerProfile({ name: "coder", role: "Coder", cognitiveLoadLimit: 1 });
    const old = await factory.spawnAgent({ profile: "coder" });
    const v2 = factory.registerProfile({ name: "coder", role: "Coder", cognitiveLoadLimit: 3 });
    const fresh = await factory.spawnAgent({ profile: "coder" });
    assert.deepEqual([v1.created, same.created, v2.created], [true, false, true]);
    assert.deepEqual([v1.profile.version, same.profile.version, v2.profile.version], [1, 1, 2]);
    assert.deepEqual([old.profileVersion, old.cognitiveLoadLimit], [1, 1]);
    assert.deepEqual([fresh.profileVersion, fresh.cognitiveLoadLimit], [2, 3]);
    assert.deepEqual(factory.profileVersions("coder").map((p) => p.version), [1, 2]);
  });

  it("rejects an unknown profile and an unknown handler, naming the field", async () => {
    await assert.rejects(factory.spawnAgent({ profile: "ghost" }), { code: "PROFILE_NOT_FOUND", field: "profile" });
    assert.throws(() => factory.registerProfile({ name: "x", role: "X", runtime: { kind: "function", handler: "nope" } }), {
      code: "UNKNOWN_HANDLER",
      field: "runtime.handler",
    });
    await assert.rejects(factory.spawnAgent({ config: { name: "x", role: "X", runtime: { kind: "function", handler: "nope" } } }), {
      code: "UNKNOWN_HANDLER",
      field: "config.runtime.handler",
    });
  });

  it("fails a spawn whose handler's init throws, leaving the agent TERMINATED", async () => {
    await factory.close();
    ({ factory, close } = await testFactory({ handlers: { broken: { init: () => { throw new Error("no model"); }, run: () => null } } }));
    await assert.rejects(factory.spawnAgent({ config: { name: "b", role: "B", runtime: { kind: "function", handler: "broken" } } }), (error: unknown) => {
      assert.ok(error instanceof FactoryError);
      assert.equal(error.code, "AGENT_START_FAILED");
      assert.match(error.message, /no model/);
      return true;
    });
    assert.equal((await factory.listAgents()).length, 0);
    assert.equal((await factory.listAgents({ state: "TERMINATED" })).length, 1);
  });

  it("filters agents by state, role and crew", async () => {
    await factory.spawnAgent({ config: { name: "c", role: "Coder" } });
    await factory.spawnAgent({ config: { name: "r", role: "Reviewer" } });
    const { crew } = await factory.assembleCrew({ name: "t", members: [{ profile: "c", count: 2 }] });
    assert.equal((await factory.listAgents()).length, 4);
    assert.equal((await factory.listAgents({ role: "Coder" })).length, 3);
    assert.equal((await factory.listAgents({ crewId: crew.id })).length, 2);
    assert.equal((await factory.listAgents({ state: "BUSY" })).length, 0);
  });

  it("drains a busy agent before terminating it, and rejects terminating it twice with 409 naming both states", async () => {
    const agent = await factory.spawnAgent({ config: { name: "s", role: "Sleeper", runtime: { kind: "function", handler: "sleep" } } });
    const task = await factory.submitTask({ role: "Sleeper", input: { ms: 100 } });
    await until(async () => (await factory.getTask(task.id)).state === "RUNNING", "task running");
    const draining = await factory.terminateAgent(agent.id);
    assert.equal(draining.state, "DRAINING");
    const done = await factory.waitForTask(task.id, 2_000);
    assert.equal(done.state, "SUCCEEDED");
    assert.equal((await factory.getAgent(agent.id)).state, "TERMINATED");
    await assert.rejects(factory.terminateAgent(agent.id), (error: unknown) => {
      assert.ok(error instanceof FactoryError);
      assert.equal(error.code, "ILLEGAL_TRANSITION");
      assert.deepEqual(error.details, { current: "TERMINATED", requested: "DRAINING" });
      return true;
    });
    await assert.rejects(factory.terminateAgent("agent_nope"), { code: "AGENT_NOT_FOUND" });
  });
});
