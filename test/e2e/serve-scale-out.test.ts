// `agent-factory serve --postgres URL --redis URL --cluster NAME`: the store in a PostgreSQL schema, the bus on Redis, and what a wrong URL says at start.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { PG_SKIP, PG_URL, testSchema, type TestSchema } from "../adapters/postgres-test-schema.ts";
import { REDIS_SKIP, REDIS_URL, dropRedisClusters } from "../adapters/redis-test-server.ts";
import { BIN, cli, ENV, ROOT, startServe, type Server } from "./serve.ts";
import { until } from "../helpers.ts";

const T = { timeout: 60_000, skip: PG_SKIP || REDIS_SKIP };

/** `serve` that must fail at start: its exit code and what it said. */
function failedStart(args: readonly string[], env: NodeJS.ProcessEnv = ENV): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, "serve", "--port", "0", ...args], { cwd: ROOT, env, timeout: 30_000 }, (error, _stdout, stderr) => {
      done({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stderr });
    });
  });
}

async function stop(server: Server | undefined): Promise<void> {
  if (server === undefined || server.child.exitCode !== null) return;
  server.child.kill("SIGTERM");
  await server.exited;
}

describe("serve on PostgreSQL and Redis", T, () => {
  let schema: TestSchema | undefined;
  let server: Server | undefined;
  const cluster = `af-test-${randomBytes(6).toString("hex")}`;
  // Agents' workspaces still live in the data folder; the store does not.
  const data = join(tmpdir(), cluster);
  after(async () => {
    await stop(server);
    await schema?.drop();
    rmSync(data, { recursive: true, force: true });
    // Last, once every node is gone: what they left on Redis (a killed node never leaves).
    await dropRedisClusters(cluster);
  });

  it("keeps its store in the URL's schema and its bus on the cluster's channels; a restart on the same schema brings the task back", async () => {
    schema = await testSchema();
    const postgres = `${PG_URL}?schema=${schema.name}`;
    const args = ["--postgres", postgres, "--redis", `${REDIS_URL}/0`, "--cluster", cluster, "--data", data];
    server = await startServe(args, (s) => (server = s));
    const started = server;
    await until(() => started.stdout().includes("bus: Redis"), "the bus line", 10_000);
    assert.match(server.stdout(), new RegExp(`store: PostgreSQL ${PG_URL.replace(/[.?/]/g, "\\$&")}\\?schema=${schema.name};`));
    assert.match(server.stdout(), new RegExp(`bus: Redis ${REDIS_URL.replace(/[.?/]/g, "\\$&")}/0, cluster ${cluster}`));
    const profile = await cli(server.url, "--json", "spawn", "-f", "examples/profiles/coder.yaml");
    assert.equal(profile.code, 0, profile.stderr);
    const submitted = await cli(server.url, "--json", "task", "submit", "--role", "Coder", "--input", JSON.stringify({ n: 1 }), "--wait");
    assert.equal(submitted.code, 0, submitted.stderr);
    const task = JSON.parse(submitted.stdout) as { id: string; state: string; result: unknown };
    assert.deepEqual([task.state, task.result], ["SUCCEEDED", { n: 1 }]);
    // The task is a row of the schema, not of <data>/factory.db.
    const rows = await schema.query<{ state: string }>("select state from tasks where id = $1", [task.id]);
    assert.deepEqual(rows, [{ state: "SUCCEEDED" }]);
    await stop(server);
    server = await startServe(args, (s) => (server = s));
    const again = await cli(server.url, "--json", "task", "get", task.id);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual((JSON.parse(again.stdout) as { state: string; result: unknown }).result, { n: 1 });
  });

  it("takes the URLs and the cluster from AGENT_FACTORY_POSTGRES_URL, AGENT_FACTORY_REDIS_URL and AGENT_FACTORY_CLUSTER", async () => {
    await stop(server);
    schema ??= await testSchema();
    const env = { ...ENV, AGENT_FACTORY_POSTGRES_URL: `${PG_URL}?schema=${schema.name}`, AGENT_FACTORY_REDIS_URL: `${REDIS_URL}/0`, AGENT_FACTORY_CLUSTER: cluster };
    server = await startServe(["--data", data], (s) => (server = s), env);
    const started = server;
    await until(() => started.stdout().includes("bus: Redis"), "the bus line", 10_000);
    assert.match(started.stdout(), new RegExp(`store: PostgreSQL .*schema=${schema.name};`));
    assert.match(started.stdout(), new RegExp(`bus: Redis .*, cluster ${cluster}`));
  });

  it("refuses to start on an unreachable PostgreSQL or Redis, naming the URL with its password hidden", async () => {
    const pg = await failedStart(["--postgres", "postgres://postgres:s3cret@127.0.0.1:1/test"]);
    assert.equal(pg.code, 1);
    assert.match(pg.stderr, /postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test/);
    assert.match(pg.stderr, /STORE_UNAVAILABLE/);
    assert.doesNotMatch(pg.stderr, /s3cret/);
    schema ??= await testSchema();
    const store = ["--postgres", `${PG_URL}?schema=${schema.name}`];
    const redis = await failedStart(["--data", `${data}-r`, ...store, "--redis", "redis://:s3cret@127.0.0.1:1/0"]);
    assert.equal(redis.code, 1);
    assert.match(redis.stderr, /redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0/);
    assert.match(redis.stderr, /BUS_UNAVAILABLE/);
    assert.doesNotMatch(redis.stderr, /s3cret/);
    const name = await failedStart(["--data", `${data}-c`, ...store, "--redis", `${REDIS_URL}/0`, "--cluster", "no spaces"]);
    assert.equal(name.code, 2);
    assert.match(name.stderr, /^error: --cluster: /m);
    const notRedis = await failedStart(["--data", `${data}-n`, ...store, "--redis", "127.0.0.1:6379"]);
    assert.equal(notRedis.code, 2);
    assert.match(notRedis.stderr, /^error: --redis: url: not a URL: '127\.0\.0\.1:6379'/m);
    // A node of a cluster without the cluster's store is refused before anything opens.
    const alone = await failedStart(["--data", `${data}-s`, "--redis", `${REDIS_URL}/0`]);
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /--redis joins this node to a cluster, whose nodes share one store: give --postgres URL/);
  });

  it("two nodes of one cluster list each other (agent-factory nodes); a second node under a live --node-id is refused", async () => {
    await stop(server);
    schema ??= await testSchema();
    const redis = ["--postgres", `${PG_URL}?schema=${schema.name}`, "--redis", `${REDIS_URL}/0`, "--cluster", cluster];
    const a = await startServe(["--data", `${data}-a`, ...redis, "--node-id", "node-a"], (s) => (server = s));
    let b: Server | undefined;
    try {
      b = await startServe(["--data", `${data}-b`, ...redis, "--node-id", "node-b"]);
      const listed = await cli(a.url, "--json", "nodes");
      assert.equal(listed.code, 0, listed.stderr);
      const nodes = JSON.parse(listed.stdout) as Array<{ id: string; alive: boolean }> | { items: Array<{ id: string; alive: boolean }> };
      const items = Array.isArray(nodes) ? nodes : nodes.items;
      assert.deepEqual(items.map((n) => [n.id, n.alive]), [["node-a", true], ["node-b", true]]);
      const twin = await failedStart(["--data", `${data}-c`, ...redis, "--node-id", "node-a"]);
      assert.equal(twin.code, 1);
      assert.match(twin.stderr, /NODE_ID_TAKEN/);
      assert.match(twin.stderr, /node-a/);
    } finally {
      await stop(b);
      await stop(a);
      for (const suffix of ["-a", "-b", "-c"]) rmSync(`${data}${suffix}`, { recursive: true, force: true });
    }
  });
});
