// Pins operator keys on a cluster of two real `serve` nodes sharing PostgreSQL and Redis: a key made on one node works on the other, and revoked on one it is refused there at once and on the other within a second.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { PG_SKIP, PG_URL, testSchema, type TestSchema } from "../adapters/postgres-test-schema.ts";
import { REDIS_SKIP, REDIS_URL, dropRedisClusters } from "../adapters/redis-test-server.ts";
import { until } from "../helpers.ts";
import { cli, startServe, type Server } from "./serve.ts";

const status = async (url: string, key?: string): Promise<number> =>
  (await fetch(`${url}/v1/agents`, { headers: key === undefined ? {} : { authorization: `Bearer ${key}` } })).status;

describe("operator keys on a cluster", { timeout: 90_000, skip: PG_SKIP || REDIS_SKIP }, () => {
  let schema: TestSchema | undefined;
  const servers: Server[] = [];
  const cluster = `af-keys-${randomBytes(6).toString("hex")}`;
  const data = join(tmpdir(), cluster);
  let rootKey = "";
  after(async () => {
    for (const s of servers) {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill("SIGKILL");
        await s.exited;
      }
    }
    await schema?.drop();
    rmSync(data, { recursive: true, force: true });
    // Last, once every node is gone: what they left on Redis (a killed node never leaves).
    await dropRedisClusters(cluster);
  });

  it("a key made on node 1 works on node 2; revoked on node 1 it is refused there at once and on node 2 within a second", async () => {
    schema = await testSchema();
    const [one, two] = await Promise.all(
      ["n1", "n2"].map((id) =>
        startServe(["--postgres", `${PG_URL}?schema=${schema?.name}`, "--redis", `${REDIS_URL}/0`, "--cluster", cluster, "--node-id", id, "--data", join(data, id)], (s) => servers.push(s)),
      ),
    );
    const a = (one as Server).url;
    const b = (two as Server).url;
    const root = await cli(a, "--json", "keys", "create", "--name", "root", "--role", "admin");
    assert.equal(root.code, 0, root.stderr);
    rootKey = (JSON.parse(root.stdout) as { secret: string }).secret;
    // Node 2 learns that keys exist from the store: within its cache time it closes /v1 to callers without one.
    await until(async () => (await status(b)) === 401, "node 2 refusing a caller without a key", 2_000);
    assert.equal(await status(b, rootKey), 200);

    const viewer = JSON.parse((await cli(a, "--api-key", rootKey, "--json", "keys", "create", "--name", "dash", "--role", "viewer")).stdout) as { id: string; secret: string };
    await until(async () => (await status(b, viewer.secret)) === 200, "node 2 accepting the new viewer key", 2_000);

    const revoked = await cli(b, "--api-key", rootKey, "keys", "revoke", viewer.id);
    assert.equal(revoked.code, 0, revoked.stderr);
    const at = Date.now();
    assert.equal(await status(b, viewer.secret), 401, "refused at once on the node that revoked it");
    await until(async () => (await status(a, viewer.secret)) === 401, "node 1 refusing the revoked key", 2_000);
    const tookMs = Date.now() - at;
    assert.ok(tookMs <= 1_200, `node 1 kept accepting the revoked key for ${tookMs} ms`);
  });

  it("a crew-limited key asks node 2 about crews node 1 runs: its own crew answers, another crew is 403 CROSS_CREW", async () => {
    const [one, two] = servers as [Server, Server];
    const asAdmin = (url: string, path: string, body: unknown) =>
      fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${rootKey}` }, body: JSON.stringify(body) });
    const assemble = async (name: string) => ((await (await asAdmin(one.url, "/v1/crews/assemble", { manifest: { name, members: [{ profile: { name: "c", role: "C" } }] } })).json()) as { id: string }).id;
    const mine = await assemble("mine");
    const theirs = await assemble("theirs");
    const key = (await (await asAdmin(one.url, "/v1/keys", { name: "team", role: "viewer", crews: [mine] })).json()) as { secret: string };
    const ask = (url: string, crew: string) => fetch(`${url}/v1/crews/${crew}`, { headers: { authorization: `Bearer ${key.secret}` } });
    await until(async () => (await ask(two.url, mine)).status === 200, "node 2 answering the key about its crew", 2_000);
    for (const url of [one.url, two.url]) {
      const refused = await ask(url, theirs);
      assert.deepEqual([refused.status, ((await refused.json()) as { error: { code: string } }).error.code], [403, "CROSS_CREW"]);
    }
  });

  it("with stored keys and no AGENT_FACTORY_API_KEY, nodes still call each other: a crew spread over both assembles, and a broadcast reaches every member", async () => {
    assert.ok(rootKey !== "", "the first case made the admin key");
    const [one] = servers;
    const a = (one as Server).url;
    const manifest = { name: "spread-keys", placement: "spread", members: [{ config: { name: "sk-coder", role: "Coder", runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual" } }, count: 2 }] };
    const assembled = await fetch(`${a}/v1/crews/assemble`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${rootKey}` }, body: JSON.stringify({ manifest }) });
    const crew = (await assembled.json()) as { id: string; agents: Array<{ nodeId: string }> };
    assert.equal(assembled.status, 201, JSON.stringify(crew));
    assert.deepEqual(crew.agents.map((x) => x.nodeId).sort(), ["n1", "n2"]);
    const signal = await fetch(`${a}/v1/crews/${crew.id}/broadcast`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${rootKey}` }, body: JSON.stringify({ signal: "GO" }) });
    assert.equal(((await signal.json()) as { delivered: number }).delivered, 2);
    // Without the nodes' credential (or a key), a node-to-node route is refused.
    const direct = await fetch(`${a}/v1/cluster/crews/${crew.id}/signals`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ agentIds: [], signal: "GO", at: new Date().toISOString() }) });
    assert.equal(direct.status, 401);
  });
});
