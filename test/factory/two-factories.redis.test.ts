// Pins that two factories on one Redis cluster hear each other's events and crew topics through the Redis bus, and that a factory of another cluster hears neither. Each factory keeps its own in-memory store here (the shared store is issue 13's PostgreSQL part), so seq numbers are each factory's own.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import type { FactoryEvent } from "../../src/core/events.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { createMemoryStore, createRedisBus, type RedisBus } from "../../src/index.ts";
import { randomName } from "../conformance/bus.conformance.ts";
import { testFactory, until } from "../helpers.ts";

import { REDIS_SKIP } from "../adapters/redis-test-server.ts";

const REDIS = "redis://127.0.0.1:6379/0";

describe("two factories on one Redis cluster", { timeout: 30_000, skip: REDIS_SKIP }, () => {
  const cluster = randomName("af-test");
  const other = randomName("af-test");
  const closers: Array<() => Promise<void>> = [];
  const buses: RedisBus[] = [];
  let a: Factory;
  let b: Factory;
  let c: Factory;

  const node = async (name: string): Promise<Factory> => {
    const bus = await createRedisBus({ url: REDIS, cluster: name });
    buses.push(bus);
    const { factory, close } = await testFactory({ store: createMemoryStore(), bus });
    closers.push(close);
    factory.registerProfile({ name: "coder", role: "Coder", capabilities: ["ts"], pool: { spawnStrategy: "manual" } });
    return factory;
  };

  before(async () => {
    a = await node(cluster);
    b = await node(cluster);
    c = await node(other);
  });

  after(async () => {
    // Each factory closes its bus; then make sure neither cluster left a key behind.
    await Promise.all(closers.map((close) => close()));
    const admin = new Redis(REDIS);
    try {
      for (const name of [cluster, other]) {
        const keys = await admin.keys(`af:${name}:*`);
        if (keys.length > 0) await admin.del(...keys);
      }
    } finally {
      admin.disconnect();
    }
  });

  it("B's onEvent hears A's crew events, equal to what A's own listener heard, and C of another cluster hears none", async () => {
    const onA: FactoryEvent[] = [];
    const onB: FactoryEvent[] = [];
    const onC: FactoryEvent[] = [];
    a.onEvent((e) => onA.push(e), { types: ["crew.*"] });
    b.onEvent((e) => onB.push(e), { types: ["crew.*"] });
    c.onEvent((e) => onC.push(e), { types: ["crew.*"] });
    await Promise.all(buses.map((bus) => bus.settled()));

    const { crew } = await a.assembleCrew({ name: "launch", members: [{ profile: "coder", count: 2 }] });
    const message = await a.publish(crew.id, "plan", { step: 1 });
    await until(() => onB.some((e) => e.type === "crew.message"), "B to hear A's crew message");

    assert.deepEqual(
      onA.map((e) => [e.type, e.crewId]),
      [["crew.state", crew.id], ["crew.assembly.progress", crew.id], ["crew.assembly.progress", crew.id], ["crew.state", crew.id], ["crew.message", crew.id]],
    );
    assert.deepStrictEqual(onB, onA);
    assert.deepStrictEqual(onB.at(-1)?.data, JSON.parse(JSON.stringify(message)));
    assert.deepEqual(onC, []);
  });

  it("a crew topic crosses to B's bus on the crew's channel, and to no other crew's nor cluster's", async () => {
    const { crew } = await a.assembleCrew({ name: "topics", members: [{ profile: "coder" }] });
    const [busA, busB, busC] = buses as [RedisBus, RedisBus, RedisBus];
    const heard: Array<[string, unknown]> = [];
    busB.subscribe(`crew:${crew.id}:plan`, (m) => heard.push(["B plan", (m as { payload: unknown }).payload]));
    busB.subscribe(`crew:${crew.id}:planning`, (m) => heard.push(["B planning", m]));
    busB.subscribe(`crew:crew_other:plan`, (m) => heard.push(["B other crew", m]));
    busC.subscribe(`crew:${crew.id}:plan`, (m) => heard.push(["C plan", m]));
    await Promise.all([busB.settled(), busC.settled()]);
    await a.publish(crew.id, "plan", { step: 2 });
    await a.broadcast(crew.id, "PAUSE", { why: "test" });
    await until(() => heard.length >= 1, "B to hear the crew topic");
    // A marker after the message on the same connection: once it is in, any leak would be too.
    const marker: unknown[] = [];
    busB.subscribe("marker", (m) => marker.push(m));
    await busB.settled();
    busA.publish("marker", 1);
    await until(() => marker.length === 1, "the marker");
    assert.deepEqual(heard, [["B plan", { step: 2 }]]);
  });
});
