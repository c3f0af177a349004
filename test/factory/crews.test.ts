// Pins crews: atomic assembly, broadcast with PAUSE/RESUME, isolation, bus and context, disbanding.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { CrewMessage } from "../../src/core/crew.ts";
import { FactoryError } from "../../src/core/errors.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { testFactory, until } from "../helpers.ts";

describe("crews", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let inits = 0;
  let openGate: () => void = () => {};
  let gate: Promise<void> = Promise.resolve();
  const signals: string[] = [];
  beforeEach(async () => {
    inits = 0;
    signals.length = 0;
    ({ factory, close } = await testFactory({
      handlers: {
        // The third agent started with this handler fails to start.
        flaky: {
          init: async () => {
            const n = ++inits;
            await gate;
            if (n === 3) throw new Error("third one fails");
          },
          run: (input) => input,
        },
        // Starts only when released, to hold a crew in ASSEMBLING.
        gated: { init: () => gate, run: (input) => input },
        listener: { run: (input) => input, signal: (signal, payload) => void signals.push(`${signal}:${JSON.stringify(payload)}`) },
        // Writes to the crew context and publishes, to show agents reach their crew's bus.
        scribe: async (input, ctx) => {
          await ctx.crew?.set("last", input);
          await ctx.crew?.publish("notes", { wrote: input });
          return ctx.crew?.crewId ?? null;
        },
      },
    }));
    factory.registerProfile({ name: "coder", role: "Coder", capabilities: ["ts"], pool: { spawnStrategy: "manual" } });
    factory.registerProfile({ name: "sleeper", role: "Sleeper", runtime: { kind: "function", handler: "sleep" } });
  });
  afterEach(async () => close());

  it("assembles every member READY, named per profile, with a crew wallet holding the budget", async () => {
    const { crew, agents } = await factory.assembleCrew({
      name: "launch",
      budget: 500,
      members: [{ profile: "coder", count: 2 }, { profile: { name: "doc", role: "DocAgent" } }],
    });
    assert.equal(crew.state, "ACTIVE");
    assert.deepEqual(agents.map((a) => [a.name, a.state, a.crewId]), [
      ["coder-1", "READY", crew.id],
      ["coder-2", "READY", crew.id],
      ["doc-1", "READY", crew.id],
    ]);
    assert.deepEqual(crew.agentIds, agents.map((a) => a.id));
    const wallet = await factory.getWallet(crew.walletAddress);
    assert.deepEqual([wallet.ownerKind, wallet.balance], ["crew", 500]);
  });

  it("is atomic: when one member fails to start, nothing of the crew remains", async () => {
    await assert.rejects(
      factory.assembleCrew({ name: "doomed", members: [{ profile: "coder", count: 2 }, { config: { name: "f", role: "Flaky", runtime: { kind: "function", handler: "flaky" } }, count: 4 }] }),
      (error: unknown) => {
        assert.ok(error instanceof FactoryError);
        assert.equal(error.code, "CREW_ASSEMBLY_FAILED");
        assert.match(error.message, /third one fails/);
        return true;
      },
    );
    assert.equal((await factory.listAgents()).length, 0, "no live agent remains");
    assert.equal((await factory.listCrews()).length, 0, "no open crew remains");
    const [disbanded] = await factory.listCrews({ state: "DISBANDED" });
    assert.equal(disbanded?.name, "doomed");
    assert.equal((await factory.listAgents({ state: "TERMINATED" })).length, 6);
  });

  it("refuses a manifest naming an unknown profile before spawning anything", async () => {
    await assert.rejects(factory.assembleCrew({ name: "x", members: [{ profile: "coder" }, { profile: "ghost", count: 3 }] }), {
      code: "PROFILE_NOT_FOUND",
      field: "members.1.profile",
    });
    assert.equal((await factory.listAgents({ state: "TERMINATED" })).length, 0);
    assert.equal((await factory.listCrews({ state: "DISBANDED" })).length, 0);
  });

  it("keeps crews isolated: crew members take only their crew's tasks, and crew tasks only run in the crew", async () => {
    const { crew } = await factory.assembleCrew({ name: "a", members: [{ profile: "coder" }] });
    const outside = await factory.submitTask({ role: "Coder", input: 1 });
    assert.equal((await factory.waitForTask(outside.id, 50)).state, "QUEUED", "the idle crew member did not take it");
    const loner = await factory.spawnAgent({ profile: "coder" });
    assert.equal((await factory.waitForTask(outside.id, 1_000)).agentId, loner.id);
    // With the crew paused, its task waits although a matching crewless agent is idle.
    await factory.broadcast(crew.id, "PAUSE");
    const inside = await factory.submitTask({ role: "Coder", crewId: crew.id, input: 2 });
    assert.equal((await factory.waitForTask(inside.id, 50)).state, "QUEUED", "the idle crewless agent did not take it");
    await factory.broadcast(crew.id, "RESUME");
    assert.equal((await factory.waitForTask(inside.id, 1_000)).agentId, crew.agentIds[0]);
  });

  it("refuses to disband a crew that is still assembling, and cancels its queued tasks if assembly fails", async () => {
    gate = new Promise<void>((resolve) => (openGate = resolve));
    const pending = factory.assembleCrew({ name: "slow", members: [{ config: { name: "g", role: "G", runtime: { kind: "function", handler: "gated" } } }] });
    await until(async () => (await factory.listCrews({ state: "ASSEMBLING" })).length === 1, "crew ASSEMBLING");
    const [assembling] = await factory.listCrews({ state: "ASSEMBLING" });
    await assert.rejects(factory.disbandCrew(assembling?.id as string), { code: "CREW_NOT_ACTIVE" });
    openGate();
    const { crew } = await pending;
    assert.equal(crew.state, "ACTIVE");

    inits = 0;
    gate = new Promise<void>((resolve) => (openGate = resolve));
    const failing = factory.assembleCrew({ name: "doomed", members: [{ config: { name: "f", role: "Flaky", runtime: { kind: "function", handler: "flaky" } }, count: 3 }] });
    await until(async () => (await factory.listCrews({ state: "ASSEMBLING" })).length === 1, "second crew ASSEMBLING");
    const [doomed] = await factory.listCrews({ state: "ASSEMBLING" });
    const early = await factory.submitTask({ role: "Flaky", crewId: doomed?.id });
    assert.equal((await factory.getTask(early.id)).state, "QUEUED");
    openGate();
    await assert.rejects(failing, { code: "CREW_ASSEMBLY_FAILED" });
    assert.equal((await factory.getTask(early.id)).state, "CANCELLED");
  });

  it("delivers a broadcast to every member and records it on the crew bus", async () => {
    const { crew } = await factory.assembleCrew({ name: "b", members: [{ config: { name: "l", role: "L", runtime: { kind: "function", handler: "listener" } }, count: 3 }] });
    const heard: CrewMessage[] = [];
    factory.subscribe(crew.id, "signals", (m) => heard.push(m));
    const message = await factory.broadcast(crew.id, "MISSION_START", { goal: "ship" });
    assert.equal(message.delivered, 3);
    assert.deepEqual(signals, ['MISSION_START:{"goal":"ship"}', 'MISSION_START:{"goal":"ship"}', 'MISSION_START:{"goal":"ship"}']);
    assert.equal(heard.length, 1);
    const messages = await factory.listMessages(crew.id);
    assert.deepEqual(messages.map((m) => [m.topic, m.signal, m.delivered]), [["signals", "MISSION_START", 3]]);
    for (const id of crew.agentIds) assert.equal((await factory.getAgent(id)).lastSignal?.signal, "MISSION_START");
  });

  it("stops taking tasks on PAUSE and takes them again on RESUME", async () => {
    const { crew } = await factory.assembleCrew({ name: "p", members: [{ profile: "coder" }] });
    await factory.broadcast(crew.id, "PAUSE");
    assert.equal((await factory.getCrew(crew.id)).state, "PAUSED");
    const task = await factory.submitTask({ role: "Coder", crewId: crew.id, input: "x" });
    assert.equal((await factory.waitForTask(task.id, 80)).state, "QUEUED");
    await factory.broadcast(crew.id, "RESUME");
    assert.equal((await factory.getCrew(crew.id)).state, "ACTIVE");
    assert.equal((await factory.waitForTask(task.id, 1_000)).state, "SUCCEEDED");
  });

  it("gives agents the crew's shared context and topics, namespaced by crew", async () => {
    const scribe = { name: "s", role: "Scribe", runtime: { kind: "function" as const, handler: "scribe" } };
    const { crew: one } = await factory.assembleCrew({ name: "one", members: [{ config: scribe }] });
    const { crew: two } = await factory.assembleCrew({ name: "two", members: [{ profile: "s" }] });
    const notes: unknown[] = [];
    factory.subscribe(one.id, "notes", (m) => notes.push(m.payload));
    const done = await factory.waitForTask((await factory.submitTask({ role: "Scribe", crewId: one.id, input: { v: 1 } })).id, 1_000);
    assert.equal(done.result, one.id);
    assert.deepEqual(await factory.getContext(one.id), { last: { v: 1 } });
    assert.deepEqual(await factory.getContext(two.id), {});
    assert.deepEqual(notes, [{ wrote: { v: 1 } }]);
    await factory.setContext(two.id, "plan", ["a", "b"]);
    await factory.deleteContext(one.id, "last");
    assert.deepEqual(await factory.getContext(one.id), {});
    assert.deepEqual(await factory.getContext(two.id), { plan: ["a", "b"] });
    assert.deepEqual((await factory.listMessages(one.id, { topic: "notes" })).map((m) => m.payload), [{ wrote: { v: 1 } }]);
  });

  it("disbands: cancels queued tasks, lets running ones finish, terminates every member", async () => {
    const { crew } = await factory.assembleCrew({ name: "d", members: [{ profile: "sleeper" }] });
    const running = await factory.submitTask({ role: "Sleeper", crewId: crew.id, input: { ms: 80 } });
    const queued = await factory.submitTask({ role: "Sleeper", crewId: crew.id, input: { ms: 0 } });
    const disbanding = await factory.disbandCrew(crew.id);
    assert.equal(disbanding.state, "DISBANDING");
    assert.equal((await factory.getTask(queued.id)).state, "CANCELLED");
    assert.equal((await factory.waitForTask(running.id, 2_000)).state, "SUCCEEDED");
    await until(async () => (await factory.getCrew(crew.id)).state === "DISBANDED", "crew DISBANDED");
    assert.equal((await factory.getAgent(crew.agentIds[0] as string)).state, "TERMINATED");
    await assert.rejects(factory.submitTask({ role: "Sleeper", crewId: crew.id }), { code: "CREW_NOT_ACTIVE", field: "crewId" });
    await assert.rejects(factory.broadcast(crew.id, "RESUME"), { code: "CREW_NOT_ACTIVE" });
    await assert.rejects(factory.disbandCrew(crew.id), { code: "CREW_NOT_ACTIVE" });
  });
});
