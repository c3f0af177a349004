// The promises of the Bus port (src/core/ports/bus.ts) that every adapter keeps; run by each adapter's test file.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Bus } from "../../src/core/ports/bus.ts";
import { until } from "../helpers.ts";

/** One bus of the adapter under test, with what its error hook reported. */
export interface OpenedBus {
  bus: Bus;
  /** What the bus's `onHandlerError` was called with, in order. */
  handlerErrors: Array<{ error: unknown; channel: string }>;
}

/** Where a networked bus connects: another cluster name, another database index. */
export interface Place {
  cluster?: string;
  db?: number;
}

export interface BusUnderTest {
  /** A new bus (a new node, for a networked adapter) in the test's own cluster unless `place` says otherwise. */
  open(place?: Place): Promise<OpenedBus>;
  /**
   * Resolves once `bus`'s subscriptions have reached the server, so another node's messages
   * reach it; a bus with no other node (the memory bus) has nothing to wait for.
   */
  settled(bus: Bus): Promise<void>;
  /** Closes what `open` opened and removes whatever the adapter left on its server. */
  cleanup(): Promise<void>;
}

/** Values that are plain JSON and must arrive deep-equal through every adapter. */
const JSON_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -1.5,
  1e300,
  Number.MAX_SAFE_INTEGER,
  "",
  "line\nbreak \"quoted\" \\ tab\t",
  "ünïcödé ✓ 🚀 \u0000 \u2028",
  [],
  {},
  [1, "two", null, [3, [4]], { five: 5 }],
  { seq: 7, at: "2026-01-01T00:00:00.000Z", type: "agent.state", data: { from: "READY", to: "BUSY", nested: { list: [true, false] } } },
  { "": "empty key", "with space": 1, __proto__x: 2 },
  { big: "x".repeat(64 * 1024) },
];

/**
 * Registers the suite. `networked`: the adapter reaches other nodes, so the cross-node promises
 * are registered too (the memory bus lives in one process: there is no other node to test).
 */
export function busConformance(name: string, make: () => Promise<BusUnderTest>, options: { networked: boolean; skip?: string | false }): void {
  describe(`bus conformance: ${name}`, { skip: options.skip ?? false }, () => {
    let under: BusUnderTest | undefined;
    const start = async (): Promise<BusUnderTest> => (under ??= await make());
    after(async () => {
      await under?.cleanup();
    });

    it("hands a subscriber every message of its channel published after it subscribed, once each, in publish order, before publish returns", async () => {
      const { bus } = await (await start()).open();
      const got: unknown[] = [];
      bus.publish("orders", { n: -1 });
      const off = bus.subscribe("orders", (m) => got.push(m));
      for (let n = 0; n < 100; n++) bus.publish("orders", { n });
      // No await in between: a handler in the publisher's process is called during publish.
      assert.deepEqual(got, Array.from({ length: 100 }, (_, n) => ({ n })));
      off();
    });

    it("delivers only the exact channel: not another crew's, not a channel that extends or shortens the name", async () => {
      const { bus } = await (await start()).open();
      const got: Array<[string, unknown]> = [];
      bus.subscribe("crew:a:x", (m) => got.push(["crew:a:x", m]));
      for (const channel of ["crew:a:xy", "crew:a:", "crew:a", "crew:a:x:y", "crew:a:X", "crew:b:x", "crew:ab:x", "crew:*:x", "crew:a:?", "crew:a:[x]"]) bus.publish(channel, channel);
      bus.publish("crew:a:x", "mine");
      assert.deepEqual(got, [["crew:a:x", "mine"]]);
    });

    it("stops delivery on unsubscribe; a second unsubscribe changes nothing, not even another subscription of the same function", async () => {
      const { bus } = await (await start()).open();
      const got: unknown[] = [];
      const handler = (m: unknown): void => {
        got.push(m);
      };
      const first = bus.subscribe("topic", handler);
      const second = bus.subscribe("topic", handler);
      bus.publish("topic", 1);
      first();
      first();
      bus.publish("topic", 2);
      second();
      second();
      bus.publish("topic", 3);
      assert.deepEqual(got, [1, 1, 2]);
    });

    it("gives each of several subscribers each message, in order", async () => {
      const { bus } = await (await start()).open();
      const a: unknown[] = [];
      const b: unknown[] = [];
      const c: unknown[] = [];
      bus.subscribe("fan", (m) => a.push(m));
      bus.subscribe("fan", (m) => b.push(m));
      bus.subscribe("other", (m) => c.push(m));
      for (const m of ["x", "y", "z"]) bus.publish("fan", m);
      assert.deepEqual(a, ["x", "y", "z"]);
      assert.deepEqual(b, ["x", "y", "z"]);
      assert.deepEqual(c, []);
    });

    it("reports a handler that throws through its error hook, and the other handlers still get the message", async () => {
      const { bus, handlerErrors } = await (await start()).open();
      const got: unknown[] = [];
      const boom = new Error("handler broke");
      bus.subscribe("errors", (m) => got.push(["before", m]));
      bus.subscribe("errors", () => {
        throw boom;
      });
      bus.subscribe("errors", (m) => got.push(["after", m]));
      bus.publish("errors", 1);
      bus.publish("errors", 2);
      assert.deepEqual(got, [["before", 1], ["after", 1], ["before", 2], ["after", 2]]);
      assert.deepEqual(handlerErrors, [{ error: boom, channel: "errors" }, { error: boom, channel: "errors" }]);
    });

    it("lets a handler unsubscribe itself while a message is being delivered", async () => {
      const { bus } = await (await start()).open();
      const got: unknown[] = [];
      const off = bus.subscribe("once", (m) => {
        got.push(m);
        off();
      });
      bus.publish("once", 1);
      bus.publish("once", 2);
      assert.deepEqual(got, [1]);
    });

    it("delivers JSON values deep-equal to what was published", async () => {
      const { bus } = await (await start()).open();
      const got: unknown[] = [];
      bus.subscribe("json", (m) => got.push(m));
      for (const value of JSON_VALUES) bus.publish("json", value);
      assert.deepStrictEqual(got, JSON_VALUES);
    });

    it("ends delivery at close; publish and subscribe after close are harmless and deliver nothing; a second close is a no-op", async () => {
      const { bus } = await (await start()).open();
      const got: unknown[] = [];
      bus.subscribe("closing", (m) => got.push(m));
      bus.publish("closing", "before");
      await bus.close();
      bus.publish("closing", "after");
      const off = bus.subscribe("closing", (m) => got.push(["late", m]));
      bus.publish("closing", "after again");
      off();
      await bus.close();
      assert.deepEqual(got, ["before"]);
    });

    if (!options.networked) return;
    describe("across nodes", () => {
      it("delivers to another node of the same cluster, in publish order, and to the publisher's own subscriber exactly once", async () => {
        const u = await start();
        const a = (await u.open()).bus;
        const b = (await u.open()).bus;
        const onA: unknown[] = [];
        const onB: unknown[] = [];
        a.subscribe("crew:c1:plan", (m) => onA.push(m));
        b.subscribe("crew:c1:plan", (m) => onB.push(m));
        await u.settled(b);
        const sent = Array.from({ length: 200 }, (_, n) => ({ n, crew: "c1" }));
        for (const m of sent) a.publish("crew:c1:plan", m);
        await until(() => onB.length >= sent.length, "node B to hear 200 messages");
        // Give a duplicate (the echo of A's own messages from the server) time to show up.
        await new Promise((r) => setTimeout(r, 100));
        assert.deepStrictEqual(onB, sent);
        assert.deepStrictEqual(onA, sent);
      });

      it("delivers nothing to another cluster or another database index on the same server", async () => {
        const u = await start();
        const settled = (bus: Bus): Promise<void> => u.settled(bus);
        const publisher = (await u.open()).bus;
        const sameCluster = (await u.open()).bus;
        const otherCluster = (await u.open({ cluster: randomName() })).bus;
        const otherDb = (await u.open({ db: 7 })).bus;
        const heard: Array<[string, unknown]> = [];
        sameCluster.subscribe("factory:events", (m) => heard.push(["same", m]));
        otherCluster.subscribe("factory:events", (m) => heard.push(["cluster", m]));
        otherDb.subscribe("factory:events", (m) => heard.push(["db", m]));
        await Promise.all([settled(sameCluster), settled(otherCluster), settled(otherDb)]);
        publisher.publish("factory:events", { seq: 1 });
        await until(() => heard.length >= 1, "the same cluster to hear the event");
        // A leak across clusters would take the same path through the same server; wait as long again and more.
        await new Promise((r) => setTimeout(r, 200));
        assert.deepStrictEqual(heard, [["same", { seq: 1 }]]);
      });

      it("keeps one publisher's order on another node when a handler publishes while handling a message", async () => {
        const u = await start();
        const a = (await u.open()).bus;
        const b = (await u.open()).bus;
        const onA: unknown[] = [];
        const onB: unknown[] = [];
        // A's own handler answers "first" with "second" on the same channel, during delivery.
        a.subscribe("chain", (m) => {
          onA.push(m);
          if (m === "first") a.publish("chain", "second");
        });
        b.subscribe("chain", (m) => onB.push(m));
        await u.settled(b);
        a.publish("chain", "first");
        await until(() => onB.length === 2, "node B to hear both");
        assert.deepStrictEqual(onA, ["first", "second"]);
        assert.deepStrictEqual(onB, ["first", "second"]);
      });

      it("stops delivering to another node once it unsubscribed", async () => {
        const u = await start();
        const a = (await u.open()).bus;
        const b = (await u.open()).bus;
        const onB: unknown[] = [];
        const off = b.subscribe("wake", (m) => onB.push(m));
        const marker: unknown[] = [];
        b.subscribe("marker", (m) => marker.push(m));
        await u.settled(b);
        a.publish("wake", 1);
        await until(() => onB.length === 1, "node B to hear the first wake-up");
        off();
        await u.settled(b);
        a.publish("wake", 2);
        // One publisher's messages arrive in order: once the marker is in, the wake-up would have been.
        a.publish("marker", "m");
        await until(() => marker.length === 1, "node B to hear the marker");
        assert.deepStrictEqual(onB, [1]);
      });
    });
  });
}

/** A name no other run uses: a cluster, a key prefix. */
export function randomName(prefix = "t"): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}${Date.now().toString(36)}`;
}
