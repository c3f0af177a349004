// `agent-factory cluster`: what bad input says before anything starts, and a real local cluster of serve processes on PostgreSQL and Redis — listed, one node killed and reported, all stopped on SIGINT.
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { createServer, type Server as NetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Redis } from "ioredis";
import { PG_SKIP, PG_URL, testSchema, type TestSchema } from "../adapters/postgres-test-schema.ts";
import { REDIS_SKIP, REDIS_URL, dropRedisClusters } from "../adapters/redis-test-server.ts";
import { alive, until } from "../helpers.ts";
import { BIN, ENV, ROOT, startServe, type Server } from "./serve.ts";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `agent-factory …args` that must end by itself (bad input, a failed start): its exit code and output. */
function runCli(args: readonly string[], env: NodeJS.ProcessEnv = ENV): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr });
    });
  });
}

/** Resolves once `port` is free on 127.0.0.1 (true) or taken (false). */
function isFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => done(true)));
  });
}

/** A base port whose next `count` ports are all free now. */
async function freePorts(count: number): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    let free = true;
    for (let i = 0; i < count && free; i++) free = await isFree(base + i);
    if (free) return base;
  }
}

function listen(port: number): Promise<NetServer> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => done(server));
  });
}

const NO_URLS: NodeJS.ProcessEnv = ENV;

describe("agent-factory cluster: bad input", { timeout: 60_000 }, () => {
  it("without --postgres and --redis says a cluster needs both, naming what is missing (exit 2)", async () => {
    const none = await runCli(["cluster", "--nodes", "2"], NO_URLS);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /a cluster needs both PostgreSQL .* and Redis .*: give --postgres URL \(or AGENT_FACTORY_POSTGRES_URL\) and --redis URL \(or AGENT_FACTORY_REDIS_URL\)/);
    const noRedis = await runCli(["--json", "cluster", "--postgres", "postgres://127.0.0.1:1/x"], NO_URLS);
    assert.equal(noRedis.code, 2);
    const error = (JSON.parse(noRedis.stderr) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, "USAGE_ERROR");
    assert.match(error.message, /give --redis URL \(or AGENT_FACTORY_REDIS_URL\)$/);
    assert.equal(noRedis.stdout, "");
    // AGENT_FACTORY_POSTGRES_URL counts as --postgres.
    const fromEnv = await runCli(["cluster"], { ...NO_URLS, AGENT_FACTORY_POSTGRES_URL: "postgres://127.0.0.1:1/x" });
    assert.equal(fromEnv.code, 2);
    assert.match(fromEnv.stderr, /give --redis URL/);
    assert.doesNotMatch(fromEnv.stderr, /give --postgres/);
  });

  it("refuses --nodes that is not a whole number from 1 to 16 (exit 2)", async () => {
    for (const nodes of ["0", "17", "two", "1.5"]) {
      const run = await runCli(["cluster", "--nodes", nodes, "--postgres", "postgres://127.0.0.1:1/x", "--redis", "redis://127.0.0.1:1"]);
      assert.equal(run.code, 2, nodes);
      assert.match(run.stderr, new RegExp(`--nodes must be a whole number from 1 to 16, got '${nodes.replace(".", "\\.")}'`));
    }
  });

  it("refuses a URL of the wrong kind, a bad cluster name and a missing --agent-files folder before starting a node (exit 2, naming the flag, the password hidden)", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["--postgres", "127.0.0.1:5432/test", "--redis", "redis://127.0.0.1:1"], /^error: --postgres must be a PostgreSQL URL .*, not 127\.0\.0\.1:5432\/test$/m],
      [["--postgres", "postgres://u:s3cret@127.0.0.1:1/x", "--redis", "http://127.0.0.1:6379"], /^error: --redis: url: must start with redis:\/\/ or rediss:\/\//m],
      [["--postgres", "postgres://127.0.0.1:1/x", "--redis", "redis://127.0.0.1:1", "--cluster", "no spaces"], /^error: --cluster: /m],
      [["--postgres", "postgres://127.0.0.1:1/x", "--redis", "redis://127.0.0.1:1", "--agent-files", "/nonexistent-af-folder"], /^error: --agent-files \/nonexistent-af-folder: no such folder$/m],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(["cluster", "--nodes", "2", ...args]);
      assert.equal(run.code, 2, args.join(" "));
      assert.match(run.stderr, message);
      assert.doesNotMatch(run.stderr, /s3cret|starting \d+ node/);
    }
  });

  it("names a taken port of the range, and the node it was for, before starting anything (exit 2)", async () => {
    const base = await freePorts(3);
    const blocker = await listen(base + 1);
    try {
      const run = await runCli(["cluster", "--nodes", "3", "--port", String(base), "--postgres", "postgres://127.0.0.1:1/x", "--redis", "redis://127.0.0.1:1"]);
      assert.equal(run.code, 2);
      assert.match(run.stderr, new RegExp(`port ${base + 1} \\(for node-2\\) on 127\\.0\\.0\\.1 is in use: the 3 node\\(s\\) need ports ${base}-${base + 2}; pick another base with --port`));
      assert.doesNotMatch(run.stderr, /starting/);
    } finally {
      blocker.close();
    }
  });

  it("refuses serve flags after -- that the cluster sets itself, and arguments not after --", async () => {
    const urls = ["--postgres", "postgres://127.0.0.1:1/x", "--redis", "redis://127.0.0.1:1"];
    const owned = await runCli(["cluster", ...urls, "--", "--chaos", "--node-id=x"]);
    assert.equal(owned.code, 2);
    assert.match(owned.stderr, /--node-id after `--`: the cluster sets each node's --port, --host, --data, --node-id, --postgres, --redis, --cluster itself/);
    const stray = await runCli(["cluster", ...urls, "chaos"]);
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /unexpected argument 'chaos': flags for every node's serve go after `--`/);
  });

  it("a node that fails to start ends the command with its error and its last lines (exit 1), the password hidden", async () => {
    const base = await freePorts(2);
    const data = join(tmpdir(), `af-cluster-${randomBytes(6).toString("hex")}`);
    try {
      const run = await runCli(["cluster", "--nodes", "2", "--port", String(base), "--data", data, "--postgres", "postgres://postgres:s3cret@127.0.0.1:1/test", "--redis", "redis://127.0.0.1:1"]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /starting 2 node\(s\) of cluster default…/);
      assert.match(run.stderr, /\[node-1\] error: .*postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test.*\[STORE_UNAVAILABLE\]/);
      assert.match(run.stderr, /error: node-1 \(pid \d+\) failed to start: exited with code 1 — error: .*\[STORE_UNAVAILABLE\]/);
      assert.doesNotMatch(run.stderr, /s3cret/);
      // node-2 is started only after node-1 is ready.
      assert.doesNotMatch(run.stderr, /node-2/);
      assert.equal(run.stdout, "");
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
});

/** A running `agent-factory cluster`: its process, what it printed, and how it ended. */
interface ClusterRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startCluster(args: readonly string[]): ClusterRun {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: ENV, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once("exit", (code, signal) => done({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exited };
}

interface NodeLine {
  id: string;
  pid: number;
  url: string;
}

async function listedNodes(url: string): Promise<Array<{ id: string; alive: boolean; url: string | null }>> {
  const response = await fetch(`${url}/v1/nodes`);
  assert.equal(response.status, 200);
  const body = (await response.json()) as { items: Array<{ id: string; alive: boolean; url: string | null }> };
  return body.items.map(({ id, alive: live, url: u }) => ({ id, alive: live, url: u })).sort((a, b) => a.id.localeCompare(b.id));
}

describe("agent-factory cluster on PostgreSQL and Redis", { timeout: 120_000, skip: PG_SKIP || REDIS_SKIP }, () => {
  const cluster = `af-test-${randomBytes(6).toString("hex")}`;
  // The second case's: the node-2 killed in the first keeps its lease for a few seconds.
  const other = `${cluster}-b`;
  const data = join(tmpdir(), cluster);
  let schema: TestSchema | undefined;
  let run: ClusterRun | undefined;
  let pids: number[] = [];
  let twin: Server | undefined;
  after(async () => {
    if (run !== undefined && run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill("SIGINT");
      await Promise.race([run.exited, new Promise((resolve) => setTimeout(resolve, 20_000))]);
    }
    // The nodes are in process groups of their own: a cluster command that did not stop them leaves them running.
    for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
    if (twin !== undefined && twin.child.exitCode === null) {
      twin.child.kill("SIGKILL");
      await twin.exited;
    }
    await schema?.drop();
    const admin = new Redis(`${REDIS_URL}/0`);
    try {
      for (const name of [cluster, other]) {
        const keys = await admin.keys(`af:${name}:*`);
        if (keys.length > 0) await admin.del(...keys);
      }
    } finally {
      admin.disconnect();
    }
    rmSync(data, { recursive: true, force: true });
    // Last, once every node is gone: what they left on Redis (a killed node never leaves).
    await dropRedisClusters(cluster, other);
  });

  it("starts 2 nodes that list each other, reports a node killed with SIGKILL while the other answers, and stops the rest on SIGINT with exit 0", async () => {
    schema = await testSchema();
    const base = await freePorts(2);
    run = startCluster(["--json", "cluster", "--nodes", "2", "--port", String(base), "--data", data, "--postgres", `${PG_URL}?schema=${schema.name}`, "--redis", `${REDIS_URL}/0`, "--cluster", cluster]);
    const started = run;
    let ended = false;
    void started.exited.then(() => (ended = true));
    await until(() => ended || started.stdout().includes("\n"), "the nodes' JSON line", 90_000);
    assert.ok(!ended, `the cluster ended before printing its nodes:\n${started.stderr()}`);
    const { nodes } = JSON.parse(started.stdout()) as { nodes: NodeLine[] };
    pids = nodes.map((n) => n.pid);
    assert.deepEqual(nodes.map(({ id, url }) => ({ id, url })), [
      { id: "node-1", url: `http://127.0.0.1:${base}` },
      { id: "node-2", url: `http://127.0.0.1:${base + 1}` },
    ]);
    for (const n of nodes) assert.ok(alive(n.pid), `${n.id}'s pid ${n.pid} is alive`);
    assert.match(started.stderr(), new RegExp(`node-1 ready at http://127\\.0\\.0\\.1:${base} \\(pid ${nodes[0]?.pid}\\)`));
    // Their own lines reach stderr under --json, prefixed; stdout holds the one JSON line only.
    assert.match(started.stderr(), /\[node-2\] agent-factory listening on/);
    const expected = nodes.map((n) => ({ id: n.id, alive: true, url: n.url }));
    for (const n of nodes) assert.deepEqual(await listedNodes(n.url), expected, `GET ${n.url}/v1/nodes`);

    const [first, second] = nodes as [NodeLine, NodeLine];
    process.kill(second.pid, "SIGKILL");
    await until(() => started.stderr().includes(`node-2 (pid ${second.pid}) exited: signal SIGKILL; 1 node(s) still running`), "the report of node-2's end", 10_000);
    assert.equal((await fetch(`${first.url}/ready`)).status, 200);
    assert.equal((await listedNodes(first.url)).find((n) => n.id === "node-1")?.alive, true);
    assert.ok(alive(first.pid));
    assert.equal(started.child.exitCode, null, "the command keeps running while a node is left");

    started.child.kill("SIGINT");
    const { code } = await started.exited;
    assert.equal(code, 0, started.stderr());
    assert.match(started.stderr(), new RegExp(`SIGINT: stopping 1 node\\(s\\)`));
    assert.match(started.stderr(), new RegExp(`node-1 \\(pid ${first.pid}\\) stopped \\(code 0\\)`));
    for (const pid of pids) assert.ok(!alive(pid), `pid ${pid} is gone`);
    assert.equal(started.stdout().trim().split("\n").length, 1);
  });

  it("a node refused at start (its id live elsewhere in the cluster) stops the nodes already up and ends with exit 1", async () => {
    schema ??= await testSchema();
    const base = await freePorts(2);
    // A lone node of the same cluster holding node-2's id.
    twin = await startServe(["--data", `${data}-twin`, "--postgres", `${PG_URL}?schema=${schema.name}`, "--redis", `${REDIS_URL}/0`, "--cluster", other, "--node-id", "node-2"], (s) => (twin = s));
    try {
      const failed = await runCli(["cluster", "--nodes", "2", "--port", String(base), "--data", data, "--postgres", `${PG_URL}?schema=${schema.name}`, "--redis", `${REDIS_URL}/0`, "--cluster", other]);
      assert.equal(failed.code, 1, failed.stderr);
      const ready = /node-1 ready at \S+ \(pid (\d+)\)/.exec(failed.stderr);
      assert.ok(ready !== null, failed.stderr);
      assert.match(failed.stderr, /error: node-2 \(pid \d+\) failed to start: exited with code 1 — error: .*node-2.*\[NODE_ID_TAKEN\]/);
      // A node's stdout is the command's stdout (without --json).
      assert.match(failed.stdout, /\[node-1\] stopped;/);
      assert.ok(!alive(Number(ready[1])), "node-1 was stopped");
      assert.equal(failed.stdout.includes("node-1  "), false, "no node table when the start failed");
    } finally {
      twin.child.kill("SIGTERM");
      await twin.exited;
      rmSync(`${data}-twin`, { recursive: true, force: true });
    }
  });
});
