// Real `serve` nodes whose Redis or PostgreSQL is cut through a relay. PostgreSQL away under load: intake answers 503 STORE_UNAVAILABLE with Retry-After, nothing accepted is lost, both nodes recover by themselves and nobody is taken over. Redis away from every node for longer than a lease: all lapse, all join again, and none takes another over. Redis away from one node only: the others take its agents over, and when the cut-off node next writes it learns it is fenced, refuses with 503 NODE_FENCED and exits 75 to be restarted.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { PG_SKIP, PG_URL, PostgresRelay, testSchema, type TestSchema } from "../adapters/postgres-test-schema.ts";
import { REDIS_SKIP, REDIS_URL, dropRedisClusters } from "../adapters/redis-test-server.ts";
import { cli, startServe, type Server } from "./serve.ts";
import { until } from "../helpers.ts";

const T = { timeout: 90_000, skip: PG_SKIP || REDIS_SKIP };

interface NodeView {
  id: string;
  alive: boolean;
  startedAt: string;
}

async function json<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as T };
}

describe("a cluster whose Redis goes away", T, () => {
  const schemas: TestSchema[] = [];
  const servers: Server[] = [];
  const relays: PostgresRelay[] = [];
  const data = join(tmpdir(), `af-test-faults-${randomBytes(4).toString("hex")}`);
  const clusters: string[] = [];
  after(async () => {
    for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGTERM");
    await Promise.all(servers.map((s) => s.exited));
    await Promise.all(relays.map((r) => r.close()));
    await Promise.all(schemas.map((s) => s.drop()));
    rmSync(data, { recursive: true, force: true });
    // Last, once every node is gone: what they left on Redis (a killed node never leaves).
    await dropRedisClusters(...clusters);
  });

  const redisRelay = async (): Promise<{ relay: PostgresRelay; url: string }> => {
    const target = new URL(REDIS_URL);
    const relay = await PostgresRelay.start({ host: target.hostname, port: Number(target.port || 6379) });
    relays.push(relay);
    return { relay, url: `redis://127.0.0.1:${relay.port}/0` };
  };
  const startNode = async (schema: TestSchema, cluster: string, id: string, redis: string): Promise<Server> =>
    startServe(["--postgres", `${PG_URL}?schema=${schema.name}`, "--redis", redis, "--cluster", cluster, "--node-id", id, "--data", join(data, cluster, id)], (s) => servers.push(s));

  it("away from every node past a lease: every node lapses, joins again, and none takes another over", async () => {
    const schema = await testSchema();
    schemas.push(schema);
    const cluster = `af-test-${randomBytes(6).toString("hex")}`;
    clusters.push(cluster);
    const { relay, url } = await redisRelay();
    const a = await startNode(schema, cluster, "a", url);
    const b = await startNode(schema, cluster, "b", url);
    const spawned = await cli(a.url, "--json", "spawn", "-f", "examples/profiles/coder.yaml");
    assert.equal(spawned.code, 0, spawned.stderr);
    await until(async () => (await json<{ items: NodeView[] }>(`${b.url}/v1/nodes`)).body.items.filter((n) => n.alive).length === 2, "both alive", 10_000);

    relay.cut();
    await until(async () => (await fetch(`${a.url}/ready`)).status === 503 && (await fetch(`${b.url}/ready`)).status === 503, "both lapsed (/ready 503)", 10_000);
    await new Promise((r) => setTimeout(r, 1_500)); // well past the 3 s lease
    relay.resume();
    await until(async () => (await fetch(`${a.url}/ready`)).status === 200 && (await fetch(`${b.url}/ready`)).status === 200, "both ready again", 15_000);
    await new Promise((r) => setTimeout(r, 4_000)); // a lease and more: time enough for a wrong take-over
    const nodes = (await json<{ items: NodeView[] }>(`${a.url}/v1/nodes`)).body.items;
    assert.deepEqual(nodes.map((n) => [n.id, n.alive]).sort(), [["a", true], ["b", true]]); // in (re)join order
    assert.deepEqual(await schema.query("select data from events where type = 'node.adopted'"), []);
    assert.deepEqual(await schema.query<{ node_id: string }>("select node_id from agents where state <> 'TERMINATED'"), [{ node_id: "a" }]);
    // And both still take work.
    for (const s of [a, b]) {
      const task = await cli(s.url, "--json", "task", "submit", "--role", "Coder", "--input", '{"n":1}', "--wait");
      assert.equal(task.code, 0, task.stderr);
      assert.equal((JSON.parse(task.stdout) as { state: string }).state, "SUCCEEDED");
    }
  });

  it("away from one node: the others take its agents over; it learns it is fenced on its next write (503 NODE_FENCED) and exits 75", async () => {
    const schema = await testSchema();
    schemas.push(schema);
    const cluster = `af-test-${randomBytes(6).toString("hex")}`;
    clusters.push(cluster);
    const { relay, url } = await redisRelay();
    const cutOff = await startNode(schema, cluster, "cut", url);
    const other = await startNode(schema, cluster, "other", `${REDIS_URL}/0`);
    const spawned = await cli(cutOff.url, "--json", "spawn", "-f", "examples/profiles/coder.yaml");
    assert.equal(spawned.code, 0, spawned.stderr);
    const agentId = (JSON.parse(spawned.stdout) as { id: string }).id;
    await until(async () => (await json<{ items: NodeView[] }>(`${other.url}/v1/nodes`)).body.items.filter((n) => n.alive).length === 2, "both alive", 10_000);

    relay.cut();
    await until(
      async () => {
        const { status, body } = await json<{ nodeId: string; state: string }>(`${other.url}/v1/agents/${agentId}`);
        return status === 200 && body.nodeId === "other" && body.state === "READY";
      },
      "the agent READY on the other node",
      15_000,
    );
    // The cut-off node still runs its copy until it writes: a submit makes it write.
    const refused = await json<{ error: { code: string; message: string } }>(`${cutOff.url}/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-agent-factory-forwarded-by": "test" }, // answered by this node, not passed on
      body: JSON.stringify({ role: "Coder", input: { n: 2 } }),
    });
    assert.deepEqual([refused.status, refused.body.error?.code], [503, "NODE_FENCED"], `${JSON.stringify(refused.body)}\n${cutOff.stdout()}\n${cutOff.stderr()}`);
    assert.equal(refused.body.error.message, "node 'cut' may no longer write: node 'other' took over its agents and tasks after its lease ran out; restart it to join again");
    const exit = await cutOff.exited;
    assert.deepEqual(exit, { code: 75, signal: null });
    assert.match(cutOff.stderr(), /error: node cut was fenced out of its cluster: .*Exiting \(75\) to be restarted \[NODE_FENCED\]/);
    relay.resume();
    // The survivor runs the agent alone.
    const task = await cli(other.url, "--json", "task", "submit", "--role", "Coder", "--input", '{"n":3}', "--wait");
    assert.equal(task.code, 0, task.stderr);
    assert.equal((JSON.parse(task.stdout) as { agentId: string }).agentId, agentId);
  });

  it("PostgreSQL away for a few seconds under load: 503 STORE_UNAVAILABLE with Retry-After meanwhile, every accepted task SUCCEEDED after, nobody taken over", async () => {
    const schema = await testSchema();
    schemas.push(schema);
    const cluster = `af-test-${randomBytes(6).toString("hex")}`;
    clusters.push(cluster);
    const pg = await PostgresRelay.start();
    relays.push(pg);
    const node = (id: string): Promise<Server> =>
      startServe(["--postgres", `${pg.url()}?schema=${schema.name}`, "--redis", `${REDIS_URL}/0`, "--cluster", cluster, "--node-id", id, "--data", join(data, cluster, id)], (s) => servers.push(s));
    const nodes = [await node("p1"), await node("p2")];
    for (const n of nodes) {
      const spawned = await cli(n.url, "--json", "spawn", "-f", "examples/profiles/coder.yaml");
      assert.equal(spawned.code, 0, spawned.stderr);
    }
    const accepted: Array<{ url: string; id: string }> = [];
    const refusals: Array<{ code: string; retryAfter: string | null }> = [];
    let load = true;
    const submitter = (async () => {
      for (let i = 0; load; i++) {
        const n = nodes[i % 2] as Server;
        const res = await fetch(`${n.url}/v1/tasks`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-agent-factory-forwarded-by": "test" },
          body: JSON.stringify({ role: "Coder", input: { i } }),
          signal: AbortSignal.timeout(20_000),
        }).catch(() => undefined);
        if (res === undefined) continue;
        const body = (await res.json()) as { id?: string; error?: { code: string } };
        if (res.status === 202 && body.id !== undefined) accepted.push({ url: n.url, id: body.id });
        else refusals.push({ code: body.error?.code ?? String(res.status), retryAfter: res.headers.get("retry-after") });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await until(() => accepted.length >= 20, "some tasks accepted before the cut", 10_000);
    pg.cut();
    await until(() => refusals.length >= 4, "submits refused while PostgreSQL is away", 15_000);
    await new Promise((r) => setTimeout(r, 2_000));
    pg.resume();
    const before = accepted.length;
    await until(() => accepted.length >= before + 20, "submits accepted again", 20_000);
    load = false;
    await submitter;
    for (const r of refusals) assert.deepEqual(r, { code: "STORE_UNAVAILABLE", retryAfter: "1" });
    for (const { url, id } of accepted) {
      await until(async () => (await json<{ state: string }>(`${url}/v1/tasks/${id}`)).body.state === "SUCCEEDED", `task ${id} SUCCEEDED`, 20_000);
    }
    const stored = await schema.query<{ n: string }>("select count(*) as n from tasks where state = 'SUCCEEDED'");
    assert.equal(Number(stored[0]?.n), accepted.length, "every accepted task stored SUCCEEDED, and nothing else");
    for (const n of nodes) assert.equal((await fetch(`${n.url}/ready`)).status, 200);
    assert.deepEqual(await schema.query("select data from events where type = 'node.adopted'"), []);
  });
});
