// Pins node membership across factories on one Redis cluster: they list each other through GET /v1/nodes' source, a second factory started with a live node's id refuses (NODE_ID_TAKEN) before it restores anything, and another cluster on the same Redis sees none of them.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Redis } from "ioredis";
import type { Factory } from "../../src/factory/factory.ts";
import { createFactory, createMemoryStore, createRedisMembership } from "../../src/index.ts";
import { REDIS_SKIP, REDIS_URL } from "../adapters/redis-test-server.ts";
import { silentLogger, testFactory } from "../helpers.ts";

describe("factories as nodes of one Redis cluster", { timeout: 30_000, skip: REDIS_SKIP }, () => {
  const cluster = `af-test-nodes-${Math.random().toString(36).slice(2, 10)}`;
  const other = `af-test-nodes-${Math.random().toString(36).slice(2, 10)}`;
  const closers: Array<() => Promise<void>> = [];

  const node = async (nodeId: string, inCluster = cluster): Promise<Factory> => {
    const membership = await createRedisMembership({ url: REDIS_URL, cluster: inCluster });
    const { factory, close } = await testFactory({ store: createMemoryStore(), membership, nodeId, nodeLease: { leaseMs: 1_500, renewMs: 200 } });
    closers.push(close);
    return factory;
  };

  after(async () => {
    await Promise.all(closers.map((close) => close()));
    const admin = new Redis(REDIS_URL);
    try {
      // Each factory left at close: nothing of either cluster remains.
      assert.deepEqual([...(await admin.keys(`af:${cluster}:*`)), ...(await admin.keys(`af:${other}:*`))], []);
    } finally {
      admin.disconnect();
    }
  });

  it("two nodes list each other; one started with a live node's id refuses; another cluster sees neither", async () => {
    const a = await node("node-a");
    const b = await node("node-b");
    for (const f of [a, b]) assert.deepEqual((await f.listNodes()).map((n) => [n.id, n.alive]), [["node-a", true], ["node-b", true]]);
    // Started through createFactory itself: a refused start leaves no temp dir to clean (and closes its membership).
    const twin = createFactory({ dataDir: ":memory:", logger: silentLogger, nodeId: "node-a", membership: await createRedisMembership({ url: REDIS_URL, cluster }) });
    await assert.rejects(twin, (error: unknown) => {
      assert.equal((error as { code: string }).code, "NODE_ID_TAKEN");
      assert.match((error as Error).message, /^node id 'node-a' is held by a live node of this cluster \(joined /);
      return true;
    });
    const elsewhere = await node("node-a", other);
    assert.deepEqual((await elsewhere.listNodes()).map((n) => n.id), ["node-a"]);
    assert.deepEqual((await a.listNodes()).map((n) => n.id), ["node-a", "node-b"]);
  });
});
