/**
 * Several `serve` nodes on one PostgreSQL schema and one Redis cluster (issue 13): real child
 * processes, loaded over HTTP from this process, beside BullMQ on the same Redis.
 *
 * - `cluster-dispatch`: 1, 2 and 3 nodes, each with the same function agents (`echo`); tasks
 *   submitted round-robin across the nodes with a fixed number in flight, each result read with
 *   the long-poll `GET /v1/tasks/:id?waitMs=`. Peer: a BullMQ queue with 1, 2 and 3 Worker
 *   processes doing the same echo job, producers adding jobs with the same number in flight and
 *   waiting with `job.waitUntilFinished` (QueueEvents). Tasks/s and submit → result p50 / p99.
 * - `cluster-failover`: 3 nodes, 4 sandboxed Python agents on one with 20 slow tasks accepted
 *   there; that node is killed with SIGKILL. Detection (the survivor's `node.adopted` event's
 *   noticedAt minus the kill), all agents READY again on a survivor, all tasks SUCCEEDED. Three
 *   rounds, each on a fresh schema; medians.
 *
 *   npx node --disable-warning=ExperimentalWarning bench/cluster.ts [--quick] [--case cluster-dispatch|cluster-failover]
 *
 * Without `--case` both run, a table is printed and bench/results/cluster.json written; with it
 * (how bench/run.ts calls it) the one case is sent back to the runner. Needs PostgreSQL (trust)
 * on 127.0.0.1:5432, db `test`, and Redis on 127.0.0.1:6379. Isolation: schemas `af_bench_<hex>`,
 * clusters and BullMQ prefixes `af-bench-<hex>`; all removed at the end.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Queue, QueueEvents, Worker } from "bullmq";
import { Redis } from "ioredis";
import pg from "pg";
import { cli, ENV, startServe, type Server } from "../test/e2e/serve.ts";
import { formatMs, formatNumber, metric, check, perSecond, summarize, type Claim, type Metric, type Summary } from "./stats.ts";

export const CLUSTER_CASES = ["cluster-dispatch", "cluster-failover"] as const;
export type ClusterCaseName = (typeof CLUSTER_CASES)[number];

const here = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(here, "results", "cluster.json");
const PG_URL = "postgres://postgres@127.0.0.1:5432/test";
const REDIS_URL = "redis://127.0.0.1:6379";
const REDIS = { host: "127.0.0.1", port: 6379 };

/** Function agents per node, and tasks each may hold at once: capacity 32 per node, never the bound. */
const AGENTS_PER_NODE = 4;
const LOAD_LIMIT = 8;
/** Tasks (or jobs) in flight across the whole run, the same for ours and BullMQ. */
const IN_FLIGHT = 32;
const ROLE = "BenchEcho";
const NODE_COUNTS = [1, 2, 3] as const;

/** Failover: Python agents on the victim, slow tasks accepted there, each sleeping this long. */
const VICTIM_AGENTS = 4;
const SLOW_TASKS = 20;
const SLEEP_MS = 500;

/**
 * Orleans' default failure detection, for comparison: ClusterMembershipOptions defaults
 * ProbeTimeout = 5 s and NumMissedProbesLimit = 3 (with NumVotesForDeathDeclaration = 2 silos
 * probing), so a silently dead silo is declared dead after about 3 × 5 s = 15 s
 * (dotnet.github.io/orleans API docs: ProbeTimeout "every 5 seconds by default",
 * NumMissedProbesLimit "three probes … by default").
 */
const ORLEANS_DETECTION_MS = 15_000;
const CLAIMS = {
  detection: { text: "≤ 5 s", source: "issue 13", kind: "max", limit: 5_001 } satisfies Claim,
  agentsBack: { text: "≤ 10 s", source: "issue 13", kind: "max", limit: 10_001 } satisfies Claim,
  orleans: { text: "Orleans default ~15 s", source: "Orleans ClusterMembershipOptions", kind: "max", limit: ORLEANS_DETECTION_MS } satisfies Claim,
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (line: string): void => void process.stderr.write(`  ${line}\n`);
const hex = (): string => randomBytes(6).toString("hex");

interface TaskView {
  id: string;
  state: string;
  result?: unknown;
}
interface AgentView {
  id: string;
  state: string;
  nodeId?: string;
}

async function http<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: (text === "" ? undefined : JSON.parse(text)) as T };
}
const post = <T>(url: string, body: unknown): Promise<{ status: number; body: T }> =>
  http<T>(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

/** A PostgreSQL schema of the bench's own, with a connection to read its events; dropped at the end. */
async function benchSchema(): Promise<{ name: string; client: pg.Client; drop: () => Promise<void> }> {
  const name = `af_bench_${hex()}`;
  const client = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${name}` });
  await client.connect();
  await client.query(`create schema ${name}`);
  return {
    name,
    client,
    drop: async () => {
      try {
        await client.query(`drop schema if exists ${name} cascade`);
      } finally {
        await client.end();
      }
    },
  };
}

/** N `serve` nodes on one schema and one cluster name; `stop` ends the ones still running and removes their data. */
async function startCluster(count: number, schema: string, extra: readonly string[] = []): Promise<{ nodes: Server[]; stop: () => Promise<void> }> {
  const cluster = `af-bench-${hex()}`;
  const data = join(os.tmpdir(), cluster);
  const nodes: Server[] = [];
  const started: Server[] = [];
  const stop = async (): Promise<void> => {
    for (const s of started) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGTERM");
    await Promise.all(started.map((s) => Promise.race([s.exited, sleep(10_000).then(() => s.child.kill("SIGKILL"))])));
    await rm(data, { recursive: true, force: true });
    // A killed node's entry stays in the cluster's node list (no TTL on it); the list is ours to remove.
    await dropPrefix(`af:${cluster}`);
  };
  try {
    for (let i = 1; i <= count; i++) {
      const args = ["--postgres", `${PG_URL}?schema=${schema}`, "--redis", `${REDIS_URL}/0`, "--cluster", cluster, "--node-id", `n${i}`, "--data", join(data, `n${i}`), ...extra];
      nodes.push(await startServe(args, (s) => started.push(s), ENV));
    }
    const first = nodes[0] as Server;
    for (let t = 0; ; t++) {
      const { body } = await http<{ items: Array<{ alive: boolean }> }>(`${first.url}/v1/nodes`);
      if (body.items.filter((n) => n.alive).length === count) break;
      if (t > 200) throw new Error(`only ${body.items.filter((n) => n.alive).length} of ${count} nodes listed alive`);
      await sleep(50);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes, stop };
}

/**
 * Runs `total` operations with `inFlight` loops, each timing its own; returns the rate over the
 * whole window and the latency summary.
 */
async function drive(total: number, inFlight: number, one: (i: number) => Promise<void>): Promise<{ rate: number; latency: Summary; ms: number }> {
  const samples = new Float64Array(total);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < total; i = next++) {
        const t0 = performance.now();
        await one(i);
        samples[i] = performance.now() - t0;
      }
    }),
  );
  const ms = performance.now() - started;
  return { rate: perSecond(total, ms), latency: summarize(samples), ms };
}

/**
 * CPU time (user + system) a process has used so far, in ms, from /proc (Linux; clock ticks of
 * 1/100 s, the kernel's USER_HZ everywhere Node runs); NaN elsewhere.
 */
function cpuMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}
const cpuOf = (pids: ReadonlyArray<number | undefined>): number => pids.reduce<number>((sum, pid) => sum + cpuMs(pid), 0);
const ownCpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** Submit over HTTP, then long-poll until final; throws unless SUCCEEDED with the input echoed. */
async function submitAndWait(url: string, i: number): Promise<void> {
  const submitted = await post<TaskView>(`${url}/v1/tasks`, { role: ROLE, input: { i } });
  if (submitted.status !== 202) throw new Error(`submit answered ${submitted.status}: ${JSON.stringify(submitted.body)}`);
  let task = submitted.body;
  while (task.state !== "SUCCEEDED") {
    if (["FAILED", "CANCELLED", "DEAD"].includes(task.state)) throw new Error(`task ${task.id} ended ${task.state}`);
    task = (await http<TaskView>(`${url}/v1/tasks/${task.id}?waitMs=30000`)).body;
  }
  if ((task.result as { i?: number } | undefined)?.i !== i) throw new Error(`task ${task.id} answered ${JSON.stringify(task.result)} for input ${i}`);
}

interface RunFigures {
  nodes: number;
  tasks: number;
  rate: number;
  latency: Summary;
  /** CPU used per task by the nodes (or workers) together, and by this process (the load generator). */
  serverCpuMsPerTask: number;
  clientCpuMsPerTask: number;
}

/** Runs `go` and measures the CPU the given processes and this one spent per task meanwhile. */
async function withCpu(pids: ReadonlyArray<number | undefined>, tasks: number, go: () => Promise<{ rate: number; latency: Summary }>): Promise<Omit<RunFigures, "nodes">> {
  const [server0, client0] = [cpuOf(pids), ownCpuMs()];
  const run = await go();
  return { tasks, rate: run.rate, latency: run.latency, serverCpuMsPerTask: (cpuOf(pids) - server0) / tasks, clientCpuMsPerTask: (ownCpuMs() - client0) / tasks };
}

async function ourDispatch(count: number, tasks: number): Promise<RunFigures> {
  const schema = await benchSchema();
  const cluster = await startCluster(count, schema.name).catch(async (error: unknown) => {
    await schema.drop();
    throw error;
  });
  try {
    const config = { name: "bench-echo", role: ROLE, cognitiveLoadLimit: LOAD_LIMIT, runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual" } };
    for (const node of cluster.nodes) {
      for (let a = 0; a < AGENTS_PER_NODE; a++) {
        const spawned = await post<AgentView>(`${node.url}/v1/agents`, { config });
        if (spawned.status !== 201) throw new Error(`spawn on ${node.url} answered ${spawned.status}: ${JSON.stringify(spawned.body)}`);
      }
    }
    const urls = cluster.nodes.map((n) => n.url);
    const at = (i: number): string => urls[i % urls.length] as string;
    await drive(Math.min(500, tasks), IN_FLIGHT, (i) => submitAndWait(at(i), i)); // warm-up
    const run = await withCpu(
      cluster.nodes.map((n) => n.child.pid),
      tasks,
      () => drive(tasks, IN_FLIGHT, (i) => submitAndWait(at(i), i)),
    );
    log(`ours, ${count} node(s): ${formatNumber(run.rate)} tasks/s, p50 ${formatMs(run.latency.p50)}, p99 ${formatMs(run.latency.p99)}, CPU/task: nodes ${run.serverCpuMsPerTask.toFixed(2)} ms, client ${run.clientCpuMsPerTask.toFixed(2)} ms`);
    return { nodes: count, ...run };
  } finally {
    await cluster.stop();
    await schema.drop();
  }
}

/** A BullMQ Worker in a child process (this file with `--bullmq-worker`), ready when it says so. */
function bullWorker(queue: string, prefix: string): Promise<ChildProcess> {
  const child = fork(fileURLToPath(import.meta.url), ["--bullmq-worker", queue, "--prefix", prefix], {
    execArgv: ["--disable-warning=ExperimentalWarning"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((ready, fail) => {
    child.once("message", () => ready(child));
    child.once("exit", (code) => fail(new Error(`BullMQ worker exited (${code}) before it was ready`)));
  });
}

async function workerMain(queue: string, prefix: string): Promise<void> {
  // The same capacity as one of our nodes (4 agents × 8 tasks each).
  const worker = new Worker(queue, async (job) => job.data as unknown, { connection: REDIS, prefix, concurrency: AGENTS_PER_NODE * LOAD_LIMIT });
  await worker.waitUntilReady();
  process.send?.("ready");
  process.on("message", () => {
    void worker.close().then(() => process.exit(0));
  });
}

async function bullDispatch(workers: number, tasks: number, prefix: string): Promise<RunFigures> {
  const name = `echo-${workers}`;
  const children: ChildProcess[] = [];
  const queue = new Queue(name, { connection: REDIS, prefix });
  const events = new QueueEvents(name, { connection: REDIS, prefix });
  // Each waiting producer listens on both.
  queue.setMaxListeners(IN_FLIGHT * 2);
  events.setMaxListeners(IN_FLIGHT * 2);
  try {
    await events.waitUntilReady();
    for (let w = 0; w < workers; w++) children.push(await bullWorker(name, prefix));
    const one = async (i: number): Promise<void> => {
      // Jobs are kept until the prefix is dropped: removeOnComplete races waitUntilFinished ("Missing key … isFinished").
      const job = await queue.add("echo", { i });
      const result = (await job.waitUntilFinished(events, 30_000)) as { i?: number };
      if (result.i !== i) throw new Error(`job ${job.id} answered ${JSON.stringify(result)} for input ${i}`);
    };
    await drive(Math.min(500, tasks), IN_FLIGHT, one);
    const run = await withCpu(
      children.map((c) => c.pid),
      tasks,
      () => drive(tasks, IN_FLIGHT, (i) => one(i + tasks)),
    );
    log(`BullMQ, ${workers} worker(s): ${formatNumber(run.rate)} jobs/s, p50 ${formatMs(run.latency.p50)}, p99 ${formatMs(run.latency.p99)}, CPU/task: workers ${run.serverCpuMsPerTask.toFixed(2)} ms, client ${run.clientCpuMsPerTask.toFixed(2)} ms`);
    return { nodes: workers, ...run };
  } finally {
    for (const child of children) child.send("stop");
    await Promise.all(children.map((c) => new Promise((done) => (c.exitCode === null ? c.once("exit", done) : done(undefined)))));
    await events.close();
    await queue.close();
  }
}

/** Deletes every Redis key under the prefix. */
async function dropPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS);
  try {
    let cursor = "0";
    do {
      const [nextCursor, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = nextCursor;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

async function dispatchCase(quick: boolean): Promise<{ title: string; metrics: Metric[]; details: Record<string, unknown> }> {
  const tasks = quick ? 2_000 : 10_000;
  const ours: RunFigures[] = [];
  const bull: RunFigures[] = [];
  const prefix = `af-bench-${hex()}`;
  try {
    for (const n of NODE_COUNTS) {
      ours.push(await ourDispatch(n, tasks));
      bull.push(await bullDispatch(n, tasks, prefix));
    }
  } finally {
    await dropPrefix(prefix);
  }
  const metrics: Metric[] = [];
  for (const [i, n] of NODE_COUNTS.entries()) {
    const o = ours[i] as RunFigures;
    const b = bull[i] as RunFigures;
    metrics.push(
      metric(`cluster.${n}.rate`, `${n} node(s): tasks/s, ${IN_FLIGHT} in flight`, o.rate, "tasks/s"),
      metric(`cluster.${n}.p50`, "  submit → SUCCEEDED p50", o.latency.p50, "ms"),
      metric(`cluster.${n}.p99`, "  submit → SUCCEEDED p99", o.latency.p99, "ms"),
      metric(`cluster.${n}.cpu`, "  CPU per task, all nodes together", o.serverCpuMsPerTask, "ms"),
      metric(`cluster.bullmq.${n}.rate`, `  BullMQ, ${n} worker process(es): jobs/s`, b.rate, "tasks/s"),
      metric(`cluster.bullmq.${n}.p50`, "    add → completed p50", b.latency.p50, "ms"),
      metric(`cluster.bullmq.${n}.p99`, "    add → completed p99", b.latency.p99, "ms"),
      metric(`cluster.bullmq.${n}.cpu`, "    CPU per job, all workers together", b.serverCpuMsPerTask, "ms"),
    );
  }
  const one = ours[0] as RunFigures;
  const three = ours[2] as RunFigures;
  metrics.push(metric("cluster.scaling3", "3 nodes ÷ 1 node, tasks/s (on the same 2 cores)", three.rate / one.rate, "×"));
  // A projection, not a measurement: each task is handled by one node, whose work is on its one
  // main thread, so on a core of its own a node finishes at most 1,000 ÷ (CPU ms per task) tasks/s;
  // N such nodes N times that, as long as PostgreSQL, Redis and the clients keep up (not measured).
  const perNode = 1000 / three.serverCpuMsPerTask;
  metrics.push(metric("cluster.projected.perNode", "PROJECTED: one node on a core of its own, tasks/s (1,000 ÷ CPU ms per task per node, 3-node run)", perNode, "tasks/s"));
  metrics.push(metric("cluster.projected.3", "PROJECTED: 3 nodes on 3 machines, tasks/s (if PostgreSQL and Redis keep up)", 3 * perNode, "tasks/s"));
  return {
    title: `Cluster dispatch: nodes on one PostgreSQL schema + Redis, HTTP from this process (${formatNumber(tasks)} echo tasks per row, ${AGENTS_PER_NODE} agents × ${LOAD_LIMIT} per node), beside BullMQ`,
    metrics,
    details: { tasks, inFlight: IN_FLIGHT, agentsPerNode: AGENTS_PER_NODE, loadLimit: LOAD_LIMIT, ours, bullmq: bull },
  };
}

interface FailoverRound {
  detectionMs: number;
  agentsBackMs: number;
  tasksDoneMs: number;
  adoptTookMs: number;
  adopted: { node?: string; agents?: number; agentsBack?: number; tasks?: number };
  succeededOnce: number;
  tasks: number;
}

async function failoverRound(round: number): Promise<FailoverRound> {
  const schema = await benchSchema();
  const cluster = await startCluster(3, schema.name, ["--agent-files", "examples/agents"]).catch(async (error: unknown) => {
    await schema.drop();
    throw error;
  });
  try {
    const [victim, ...survivors] = cluster.nodes as [Server, Server, Server];
    const agents: string[] = [];
    for (let a = 0; a < VICTIM_AGENTS; a++) {
      const spawned = await cli(victim.url, "--json", "spawn", "-f", "examples/profiles/py-agent.yaml");
      if (spawned.code !== 0) throw new Error(`spawn: ${spawned.stderr}`);
      agents.push((JSON.parse(spawned.stdout) as AgentView).id);
    }
    const tasks: string[] = [];
    for (let i = 0; i < SLOW_TASKS; i++) {
      const { status, body } = await post<TaskView>(`${victim.url}/v1/tasks`, { role: "Analyst", input: { text: `t${i}`, sleepMs: SLEEP_MS }, maxAttempts: 3 });
      if (status !== 202) throw new Error(`submit answered ${status}: ${JSON.stringify(body)}`);
      tasks.push(body.id);
    }
    // Kill while the first wave runs: 4 tasks held by agents, 16 queued behind them.
    for (let t = 0; (await http<TaskView>(`${victim.url}/v1/tasks/${tasks[0]}`)).body.state !== "RUNNING"; t++) {
      if (t > 200) throw new Error("the first task did not start");
      await sleep(10);
    }
    const killedAt = Date.now();
    victim.child.kill("SIGKILL");
    await victim.exited;

    // Agents: back when each is seen live on a survivor (the exact READY time is read from the events below).
    const deadline = killedAt + 60_000;
    for (;;) {
      const seen = new Set<string>();
      for (const s of survivors) {
        const { body } = await http<{ items: AgentView[] }>(`${s.url}/v1/agents`);
        for (const a of body.items) if (["READY", "BUSY", "IDLE"].includes(a.state) && a.nodeId !== "n1") seen.add(a.id);
      }
      if (agents.every((id) => seen.has(id))) break;
      if (Date.now() > deadline) throw new Error(`round ${round}: the victim's agents were not back within 60 s`);
      await sleep(20);
    }
    // Tasks: every one SUCCEEDED (any survivor reads the shared store).
    const reader = survivors[0];
    let tasksDoneAt = 0;
    for (const id of tasks) {
      for (;;) {
        const { body } = await http<TaskView>(`${reader.url}/v1/tasks/${id}?waitMs=1000`);
        if (body.state === "SUCCEEDED") break;
        if (["FAILED", "CANCELLED", "DEAD"].includes(body.state)) throw new Error(`round ${round}: task ${id} ended ${body.state}`);
        if (Date.now() > deadline) throw new Error(`round ${round}: task ${id} still ${body.state} 60 s after the kill`);
      }
    }
    // The times as the nodes recorded them (their events), rather than as this poller saw them.
    await sleep(500); // the journal writes behind
    const rows = (await schema.client.query<{ type: string; at: string; agent_id: string | null; task_id: string | null; data: string }>(
      "select type, at, agent_id, task_id, data from events where type in ('node.adopted', 'agent.state', 'task.state') order by seq",
    )).rows;
    const adoptedRow = rows.find((r) => r.type === "node.adopted");
    if (adoptedRow === undefined) throw new Error(`round ${round}: no node.adopted event`);
    const adopted = (JSON.parse(adoptedRow.data) as { data: { node?: string; agents?: number; agentsBack?: number; tasks?: number; noticedAt: string; tookMs: number } }).data;
    const to = (r: { data: string }): string | undefined => (JSON.parse(r.data) as { to?: string }).to;
    const after = rows.filter((r) => Date.parse(r.at) >= killedAt);
    const readyAt = agents.map((id) => after.find((r) => r.type === "agent.state" && r.agent_id === id && to(r) === "READY")?.at);
    const succeeded = tasks.map((id) => rows.filter((r) => r.type === "task.state" && r.task_id === id && to(r) === "SUCCEEDED"));
    tasksDoneAt = Math.max(...succeeded.map((s) => (s[0] === undefined ? Number.NaN : Date.parse(s[0].at))));
    const figures: FailoverRound = {
      detectionMs: Date.parse(adopted.noticedAt) - killedAt,
      agentsBackMs: Math.max(...readyAt.map((at) => (at === undefined ? Number.NaN : Date.parse(at)))) - killedAt,
      tasksDoneMs: tasksDoneAt - killedAt,
      adoptTookMs: adopted.tookMs,
      adopted: { node: adopted.node, agents: adopted.agents, agentsBack: adopted.agentsBack, tasks: adopted.tasks },
      succeededOnce: succeeded.filter((s) => s.length === 1).length,
      tasks: tasks.length,
    };
    log(`failover round ${round}: detection ${formatMs(figures.detectionMs)}, agents READY ${formatMs(figures.agentsBackMs)}, tasks SUCCEEDED ${formatMs(figures.tasksDoneMs)} (adopted ${JSON.stringify(figures.adopted)})`);
    return figures;
  } finally {
    await cluster.stop();
    await schema.drop();
  }
}

async function failoverCase(quick: boolean): Promise<{ title: string; metrics: Metric[]; details: Record<string, unknown> }> {
  const rounds: FailoverRound[] = [];
  for (let r = 1; r <= (quick ? 1 : 3); r++) rounds.push(await failoverRound(r));
  const median = (pick: (r: FailoverRound) => number): number => summarize(rounds.map(pick)).p50;
  const worst = (pick: (r: FailoverRound) => number): number => summarize(rounds.map(pick)).max;
  const detection = median((r) => r.detectionMs);
  return {
    title: `Cluster failover: 3 nodes, kill -9 of the one holding ${VICTIM_AGENTS} sandboxed Python agents and ${SLOW_TASKS} tasks of ${SLEEP_MS} ms (median of ${rounds.length} round(s), fresh schema each)`,
    metrics: [
      metric("failover.detection", "kill → node.adopted noticedAt, median", detection, "ms", CLAIMS.detection),
      metric("failover.detection.max", "  worst round", worst((r) => r.detectionMs), "ms"),
      metric("failover.detection.vsOrleans", "  against Orleans' default detection", detection, "ms", CLAIMS.orleans),
      metric("failover.adoptTook", "  take-over itself (node.adopted tookMs), median", median((r) => r.adoptTookMs), "ms"),
      metric("failover.agentsBack", "kill → all agents READY on a survivor, median", median((r) => r.agentsBackMs), "ms", CLAIMS.agentsBack),
      metric("failover.agentsBack.max", "  worst round", worst((r) => r.agentsBackMs), "ms"),
      metric("failover.tasksDone", `kill → all ${SLOW_TASKS} tasks SUCCEEDED, median`, median((r) => r.tasksDoneMs), "ms"),
      check("failover.once", "tasks recorded SUCCEEDED exactly once", rounds.reduce((n, r) => n + r.succeededOnce, 0), rounds.reduce((n, r) => n + r.tasks, 0), "tasks"),
    ],
    details: { rounds, victimAgents: VICTIM_AGENTS, slowTasks: SLOW_TASKS, sleepMs: SLEEP_MS, orleansDetectionMs: ORLEANS_DETECTION_MS },
  };
}

/** One case, in the shape bench/run.ts reads. */
export async function runClusterCase(name: ClusterCaseName, options: { quick: boolean }) {
  const start = performance.now();
  const result = name === "cluster-dispatch" ? await dispatchCase(options.quick) : await failoverCase(options.quick);
  return { name, ...result, durationMs: performance.now() - start, gcExposed: (globalThis as { gc?: () => void }).gc !== undefined };
}

export const CLUSTER_NOTES = [
  `Every node is a real \`agent-factory serve\` process; all of them, Redis, PostgreSQL, the load generator (this process) and BullMQ's workers share the machine's ${os.availableParallelism()} cores. ` +
    "More nodes here add processes competing for the same cores, not capacity: the rows show what coordination through one schema and one Redis costs, not how separate machines would scale.",
  `Ours: each node holds ${AGENTS_PER_NODE} function agents (echo) taking ${LOAD_LIMIT} tasks each; tasks go round-robin to the nodes over HTTP, ${IN_FLIGHT} in flight; each is stored in PostgreSQL before the 202 and read back with GET /v1/tasks/:id?waitMs=30000. ` +
    `BullMQ: 1–3 Worker processes (concurrency ${AGENTS_PER_NODE * LOAD_LIMIT} each) on the same Redis, this process adding jobs with ${IN_FLIGHT} in flight and waiting with job.waitUntilFinished (QueueEvents); nothing is stored in PostgreSQL.`,
  "CPU per task is read from /proc (user + system of the node or worker processes, over the measured window, ÷ tasks); the PROJECTED rows divide 1,000 ms by it: " +
    "what one node could do with a core to itself, and three such nodes on three machines, assuming PostgreSQL, Redis and the clients are not the bound — a reasoned estimate, not a measurement.",
  "Failover: the victim's lease is 3 s, renewed every 1 s; detection is the adopter's noticedAt minus the kill; agents READY and tasks SUCCEEDED are the times in the nodes' own events (first READY per agent, last SUCCEEDED) minus the kill. " +
    "Orleans' default (ProbeTimeout 5 s × NumMissedProbesLimit 3) declares a silent silo dead after ~15 s.",
];

function table(results: ReadonlyArray<{ title: string; metrics: Metric[] }>): string {
  const rows: string[] = [];
  for (const r of results) {
    rows.push(`\n${r.title}`);
    const width = Math.max(...r.metrics.map((m) => m.label.length));
    const valueWidth = Math.max(...r.metrics.map((m) => m.display.length));
    for (const m of r.metrics) rows.push(`${m.label.padEnd(width)}  ${m.display.padStart(valueWidth)}  ${m.claim === null ? "" : `${m.claim.text} (${m.claim.source}): ${m.verdict}`}`.trimEnd());
  }
  return rows.join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { case: { type: "string" }, quick: { type: "boolean", default: false }, "bullmq-worker": { type: "string" }, prefix: { type: "string" } } });
  if (values["bullmq-worker"] !== undefined) return workerMain(values["bullmq-worker"], values.prefix ?? "bull");
  if (values.case !== undefined) {
    if (!(CLUSTER_CASES as readonly string[]).includes(values.case)) {
      process.stderr.write(`usage: node bench/cluster.ts [--quick] [--case ${CLUSTER_CASES.join("|")}]\n`);
      process.exit(2);
    }
    const result = await runClusterCase(values.case as ClusterCaseName, { quick: values.quick });
    if (process.send !== undefined) process.send(result, undefined, {}, () => process.disconnect());
    else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const date = new Date().toISOString();
  const results = [];
  for (const name of CLUSTER_CASES) {
    process.stderr.write(`▶ ${name}\n`);
    results.push(await runClusterCase(name, { quick: values.quick }));
  }
  const machine = { cpuModel: os.cpus()[0]?.model.trim() ?? "unknown", cpuCount: os.cpus().length, totalMemory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`, os: `${os.type()} ${os.release()} ${os.arch()}`, node: process.version, loadAverage: os.loadavg() };
  await mkdir(dirname(RESULTS), { recursive: true });
  await writeFile(RESULTS, `${JSON.stringify({ suite: "cluster", mode: values.quick ? "quick" : "full", date, machine, notes: CLUSTER_NOTES, cases: results }, null, 2)}\n`);
  process.stdout.write(`\nAgent Factory cluster benchmarks\nmachine: ${machine.cpuModel} ×${machine.cpuCount}, ${machine.totalMemory}, ${machine.os}, node ${process.version}, ${date}\n`);
  process.stdout.write(`${table(results)}\n\nnotes:\n${CLUSTER_NOTES.map((n) => `  - ${n}`).join("\n")}\n\nresults: ${RESULTS}\n`);
  if (results.some((r) => r.metrics.some((m) => m.verdict === "MISMATCH"))) process.exitCode = 1;
}

if (import.meta.main) await main();
