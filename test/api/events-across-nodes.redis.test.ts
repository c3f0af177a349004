// The event stream of a node on a shared Redis bus: another node's events come through without an `id` (their seq counts that node's events), and this node's own stay in order with their ids — a busier neighbour's higher seqs must not hide them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createApp } from "../../src/api/app.ts";
import { createMemoryStore, createRedisBus } from "../../src/index.ts";
import { randomName } from "../conformance/bus.conformance.ts";
import { testFactory, until } from "../helpers.ts";
import { REDIS_SKIP } from "../adapters/redis-test-server.ts";

const REDIS = "redis://127.0.0.1:6379/0";

describe("/v1/events on a node of a cluster", { timeout: 30_000, skip: REDIS_SKIP }, () => {
  it("streams its own events with ids and another node's without, whatever their seqs", async () => {
    const cluster = randomName("af-test");
    const a = await testFactory({ store: createMemoryStore(), bus: await createRedisBus({ url: REDIS, cluster }), nodeId: "node-a" });
    const b = await testFactory({ store: createMemoryStore(), bus: await createRedisBus({ url: REDIS, cluster }), nodeId: "node-b" });
    const reader = await createApp(a.factory).request("/v1/events?types=profile.registered");
    const stream = reader.body?.getReader();
    assert.ok(stream !== undefined);
    let text = "";
    const pump = (async () => {
      for (;;) {
        const { value, done } = await stream.read();
        if (done) return;
        text += new TextDecoder().decode(value);
      }
    })();
    try {
      await until(() => text.includes("event: ready"), "the stream to be ready", 5_000);
      // The neighbour is busier: its seqs run ahead of node A's.
      for (let i = 0; i < 20; i++) b.factory.registerProfile({ name: `b-${i}`, role: "Coder", pool: { spawnStrategy: "manual" } });
      await until(() => text.includes('"name":"b-19"'), "node B's events", 10_000);
      a.factory.registerProfile({ name: "a-0", role: "Coder", pool: { spawnStrategy: "manual" } });
      await until(() => text.includes('"name":"a-0"'), "node A's own event after B's", 10_000);
      const frames = text.split("\n\n").filter((f) => f.includes("event: profile.registered"));
      const seen = frames.map((f) => {
        const data = JSON.parse(/^data: (.*)$/m.exec(f)?.[1] ?? "{}") as { nodeId: string; data: { name: string } };
        return [data.nodeId, data.data.name, /^id: /m.test(f)];
      });
      assert.equal(seen.length, 21);
      assert.deepEqual(seen.slice(0, 2), [["node-b", "b-0", false], ["node-b", "b-1", false]]);
      assert.deepEqual(seen.at(-1), ["node-a", "a-0", true]);
    } finally {
      await stream.cancel();
      await pump.catch(() => {});
      await a.close();
      await b.close();
    }
  });
});
