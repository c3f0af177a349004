// Pins the factory as a node: its id (given, kept per data dir, generated for :memory:, refused when malformed), agents carrying it through spawn, restart and the API, GET /v1/nodes on a single node, and a second factory under a live node id refused.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { MemoryMembership } from "../../src/adapters/membership/memory/memory-membership.ts";
import { createApp } from "../../src/api/app.ts";
import { createFactory } from "../../src/factory/create-factory.ts";
import { silentLogger, tempDir, testFactory, until } from "../helpers.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const post = (body: unknown): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("the factory as a node", () => {
  it("keeps its generated node id in the data dir, so a restart is the same node; :memory: gets a new one each time", async () => {
    const dir = tempDir();
    try {
      const first = await createFactory({ dataDir: dir.path, logger: silentLogger });
      const id = first.nodeId;
      assert.match(id, /^node-[0-9a-f]{8}$/);
      assert.equal(readFileSync(join(dir.path, "node-id"), "utf8"), `${id}\n`);
      await first.close();
      const second = await createFactory({ dataDir: dir.path, logger: silentLogger });
      assert.equal(second.nodeId, id);
      await second.close();
      // A given id wins over the kept one, and does not replace it.
      const named = await createFactory({ dataDir: dir.path, logger: silentLogger, nodeId: "edge-1" });
      assert.equal(named.nodeId, "edge-1");
      await named.close();
      assert.equal(readFileSync(join(dir.path, "node-id"), "utf8"), `${id}\n`);
    } finally {
      dir.cleanup();
    }
    const [a, b] = [await createFactory({ dataDir: ":memory:", logger: silentLogger }), await createFactory({ dataDir: ":memory:", logger: silentLogger })];
    assert.match(a.nodeId, /^node-[0-9a-f]{8}$/);
    assert.notEqual(a.nodeId, b.nodeId);
    await Promise.all([a.close(), b.close()]);
  });

  it("refuses a malformed node id, a damaged node-id file and a lease renewed no faster than it runs out, naming the field", async () => {
    await assert.rejects(createFactory({ dataDir: ":memory:", nodeId: "../etc" }), {
      code: "VALIDATION_FAILED",
      field: "nodeId",
      message: `invalid factory options: nodeId: must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, got "../etc"`,
    });
    await assert.rejects(createFactory({ dataDir: ":memory:", nodeId: "" }), { code: "VALIDATION_FAILED", field: "nodeId" });
    await assert.rejects(createFactory({ dataDir: ":memory:", nodeLease: { leaseMs: 1_000, renewMs: 1_000 } }), {
      code: "VALIDATION_FAILED",
      field: "nodeLease.renewMs",
      message: `invalid factory options: nodeLease.renewMs: renewMs must be less than leaseMs, got {"leaseMs":1000,"renewMs":1000}`,
    });
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, "node-id"), "not a node id\n");
      await assert.rejects(createFactory({ dataDir: dir.path, logger: silentLogger }), {
        code: "VALIDATION_FAILED",
        field: "nodeId",
        message: `nodeId: ${join(dir.path, "node-id")} holds 'not a node id', not a node id (1-64 letters, digits, '.', '_' or '-'); fix or delete the file, or pass nodeId`,
      });
    } finally {
      dir.cleanup();
    }
  });

  it("GET /v1/nodes on a single node lists that node, alive, with its agents, load and capacity as of its last renewal", async () => {
    const { factory, close } = await testFactory({ nodeId: "solo", nodeUrl: "http://127.0.0.1:7371", nodeLease: { leaseMs: 600, renewMs: 50 } });
    try {
      const app = createApp(factory);
      factory.registerProfile({ name: "coder", role: "Coder", cognitiveLoadLimit: 3 });
      await factory.spawnAgent({ profile: "coder" });
      await factory.spawnAgent({ profile: "coder" });
      await until(async () => (await factory.listNodes())[0]?.agents === 2, "a renewal reporting both agents");
      const response = await app.request("/v1/nodes");
      assert.equal(response.status, 200);
      const body = (await response.json()) as Json;
      assert.deepEqual(Object.keys(body), ["items"]);
      assert.equal(body.items.length, 1);
      const [node] = body.items as Json[];
      assert.deepEqual(Object.keys(node as Json).sort(), ["agents", "alive", "capacity", "id", "leaseUntil", "load", "startedAt", "url"]);
      const { startedAt, leaseUntil, ...rest } = node as Json;
      assert.deepEqual(rest, { id: "solo", alive: true, agents: 2, load: 0, capacity: 6, url: "http://127.0.0.1:7371" });
      assert.ok(Date.parse(startedAt) <= Date.now());
      assert.ok(Date.parse(leaseUntil) > Date.now() && Date.parse(leaseUntil) <= Date.now() + 600, leaseUntil);
      assert.equal(factory.nodeState, "member");
    } finally {
      await close();
    }
  });

  it("every agent carries the node's id, through the API and after a restart on the same data dir", async () => {
    const dir = tempDir();
    try {
      const first = await createFactory({ dataDir: dir.path, logger: silentLogger, nodeId: "node-a" });
      const app = createApp(first);
      const created = await app.request("/v1/agents", post({ config: { name: "coder", role: "Coder" } }));
      assert.equal(created.status, 201);
      const agent = (await created.json()) as Json;
      assert.equal(agent.nodeId, "node-a");
      const listed = (await (await app.request("/v1/agents")).json()) as Json;
      assert.deepEqual(listed.items.map((a: Json) => [a.id, a.nodeId]), [[agent.id, "node-a"]]);
      await first.close();
      // The store kept it; the restarted node (same data dir, same id) runs it again.
      const second = await createFactory({ dataDir: dir.path, logger: silentLogger, nodeId: "node-a" });
      const back = await second.getAgent(agent.id as string);
      assert.deepEqual([back.state, back.restarts, back.nodeId], ["READY", 1, "node-a"]);
      await second.close();
      // Restarted under another id: the agent is run by that node now.
      const third = await createFactory({ dataDir: dir.path, logger: silentLogger, nodeId: "node-b" });
      const moved = (await (await createApp(third).request(`/v1/agents/${agent.id as string}`)).json()) as Json;
      assert.deepEqual([moved.state, moved.restarts, moved.nodeId], ["READY", 2, "node-b"]);
      await third.close();
    } finally {
      dir.cleanup();
    }
  });

  it("a second factory under the node id of a live one on the same membership refuses to start with NODE_ID_TAKEN; once the first closed it starts", async () => {
    const membership = new MemoryMembership();
    // The factory closes the membership it was given; these share one that must outlive the first.
    const shared = { join: membership.join.bind(membership), renew: membership.renew.bind(membership), leave: membership.leave.bind(membership), list: membership.list.bind(membership), close: async () => {} };
    const first = await createFactory({ dataDir: ":memory:", logger: silentLogger, nodeId: "twin", membership: shared });
    await assert.rejects(createFactory({ dataDir: ":memory:", logger: silentLogger, nodeId: "twin", membership: shared }), (error: unknown) => {
      assert.equal((error as { code: string }).code, "NODE_ID_TAKEN");
      assert.match((error as Error).message, /^node id 'twin' is held by a live node of this cluster \(joined .+\); start this node with another --node-id, or stop the other first$/);
      return true;
    });
    const other = await createFactory({ dataDir: ":memory:", logger: silentLogger, nodeId: "other", membership: shared });
    assert.deepEqual((await other.listNodes()).map((n) => [n.id, n.alive]), [["twin", true], ["other", true]]);
    await first.close();
    assert.deepEqual((await other.listNodes()).map((n) => n.id), ["other"]);
    const again = await createFactory({ dataDir: ":memory:", logger: silentLogger, nodeId: "twin", membership: shared });
    assert.equal(again.nodeState, "member");
    await Promise.all([again.close(), other.close()]);
  });
});
