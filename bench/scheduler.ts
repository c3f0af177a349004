/**
 * Scheduler benchmarks: in-process task dispatch (beside a Piscina peer), tasks over HTTP, and
 * the memory of resident agents. Like bench/spawn.ts, every case runs against a real SQLite
 * file in a fresh temp dir, warms up first, closes what it opens and checks its counts.
 *
 * One case per process (`bench/run.ts` forks them with `--expose-gc`). Run one alone (it prints
 * its result as JSON):
 *
 *   node --expose-gc bench/scheduler.ts --case dispatch|piscina|http-tasks|resident [--quick]
 */
import { Agent as HttpAgent, request } from "node:http";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Piscina } from "piscina";
import { createFactory, type Agent, type Factory, type FactoryOptions, type ProfileInput, type Task } from "../src/index.ts";
import { spawn } from "node:child_process";
import { startServer } from "../src/api/server.ts";
import { dispatchTasks, IN_FLIGHT, SCHEDULER_CLAIMS } from "./scheduler-claims.ts";
import { memory, withTempDir, type MemorySample } from "./spawn.ts";
import { check, formatNumber, metric, MiB, perSecond, summarize, type Metric, type Summary } from "./stats.ts";

export const SCHEDULER_CASE_NAMES = ["dispatch", "piscina", "http-tasks", "resident", "observability"] as const;
export type SchedulerCaseName = (typeof SCHEDULER_CASE_NAMES)[number];

export interface SchedulerCaseOptions {
  quick: boolean;
}

export interface SchedulerCaseResult {
  name: SchedulerCaseName;
  title: string;
  metrics: Metric[];
  details: Record<string, unknown>;
  durationMs: number;
  gcExposed: boolean;
}

type CaseBody = Omit<SchedulerCaseResult, "name" | "durationMs" | "gcExposed">;

/** Sequential submits after the windowed run: more than the dispatcher's latency ring (4,096). */
const SEQUENTIAL = 5_000;
/** One worker thread per core (2 on the project's machine). */
const PISCINA_THREADS = availableParallelism();
const PISCINA_WORKER = fileURLToPath(new URL("./peers/echo-worker.mjs", import.meta.url));

const ECHO = "bench-echo";

/**
 * A crewless echo profile that never spawns by itself (the benchmark spawns its agents) and
 * whose queue is deep enough never to refuse a task.
 */
const echoProfile = (cognitiveLoadLimit: number): ProfileInput => ({
  name: ECHO,
  role: "Worker",
  capabilities: ["bench"],
  cognitiveLoadLimit,
  runtime: { kind: "function", handler: "echo" },
  pool: { spawnStrategy: "manual", maxSize: 10_000_000, queueDepth: 10_000_000 },
});

interface Shape {
  agents: number;
  limit: number;
}

/** Agent counts × load limits tried; the first is the primary shape (warm dispatch is read there). */
const SHAPES: readonly Shape[] = [
  { agents: 64, limit: 64 },
  { agents: 8, limit: 512 },
  { agents: 2_000, limit: 1 },
];

const shapeLabel = (s: Shape): string => `${formatNumber(s.agents)} agents × load ${formatNumber(s.limit)}`;

const now = (): number => performance.now();
const gc = (globalThis as { gc?: () => void }).gc;
const log = (message: string): void => void process.stderr.write(`  · ${message}\n`);

// ------------------------------------------------------------------ helpers

/** A factory on a fresh SQLite file with `agents` echo agents of the given load limit; closed and deleted afterwards. */
async function withEchoFactory<T>(shape: Shape, fn: (factory: Factory, dir: string) => Promise<T>, options: FactoryOptions = {}): Promise<T> {
  return withTempDir(async (dir) => {
    const factory = await createFactory({ dataDir: dir, ...options });
    try {
      factory.registerProfile(echoProfile(shape.limit));
      for (let i = 0; i < shape.agents; i++) await factory.spawnAgent({ profile: ECHO });
      return await fn(factory, dir);
    } finally {
      await factory.close();
    }
  });
}

interface Finished {
  /** now() when the final task.state event arrived. */
  at: number;
  ok: boolean;
}

const FINAL = new Set(["SUCCEEDED", "FAILED", "DEAD", "CANCELLED"]);

/**
 * Completion as a library user sees it: `task.state` events. A task may finish before its
 * submitter learns its id (the handler runs right after the commit), so those are kept aside.
 */
class Completions {
  readonly #waiting = new Map<string, (done: Finished) => void>();
  readonly #early = new Map<string, Finished>();
  readonly #unsubscribe: () => void;
  succeeded = 0;
  failed = 0;

  constructor(factory: Factory) {
    this.#unsubscribe = factory.onEvent(
      (event) => {
        if (event.to === undefined || !FINAL.has(event.to) || event.taskId === undefined) return;
        const done = { at: now(), ok: event.to === "SUCCEEDED" };
        if (done.ok) this.succeeded++;
        else this.failed++;
        const waiter = this.#waiting.get(event.taskId);
        if (waiter === undefined) this.#early.set(event.taskId, done);
        else {
          this.#waiting.delete(event.taskId);
          waiter(done);
        }
      },
      { types: ["task.state"] },
    );
  }

  wait(taskId: string): Finished | Promise<Finished> {
    const early = this.#early.get(taskId);
    if (early !== undefined) {
      this.#early.delete(taskId);
      return early;
    }
    return new Promise((resolve) => this.#waiting.set(taskId, resolve));
  }

  close(): void {
    this.#unsubscribe();
  }
}

interface WindowRun {
  latencies: Float64Array;
  totalMs: number;
}

/** Runs `total` operations with at most `inFlight` at once; `one(i)` returns operation i's latency in ms. */
async function windowed(total: number, inFlight: number, one: (i: number) => Promise<number>): Promise<WindowRun> {
  const latencies = new Float64Array(total);
  let next = 0;
  const slot = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      latencies[i] = await one(i);
    }
  };
  const start = now();
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, slot));
  return { latencies, totalMs: now() - start };
}

/** submitTask → its SUCCEEDED event, for task i (its input is i). */
function submitAndWait(factory: Factory, completions: Completions): (i: number) => Promise<number> {
  return async (i) => {
    const start = now();
    const task = await factory.submitTask({ profile: ECHO, input: i });
    const done = await completions.wait(task.id);
    return done.at - start;
  };
}

interface TaskRows {
  /** SUCCEEDED tasks whose stored result equals their input (what echo returns). */
  echoed: number;
  tasks: number;
  taskStateEvents: number;
}

/** Counts task rows in the factory's SQLite file through a second, read-only connection. */
function taskRows(dir: string): TaskRows {
  const db = new DatabaseSync(join(dir, "factory.db"), { readOnly: true });
  try {
    const count = (sql: string): number => Number((db.prepare(sql).get() as { n: number | bigint }).n);
    return {
      echoed: count("select count(*) as n from tasks where state = 'SUCCEEDED' and json_extract(data, '$.result') = json_extract(data, '$.input')"),
      tasks: count("select count(*) as n from tasks"),
      taskStateEvents: count("select count(*) as n from events where type = 'task.state'"),
    };
  } finally {
    db.close();
  }
}

function agentRows(dir: string): number {
  const db = new DatabaseSync(join(dir, "factory.db"), { readOnly: true });
  try {
    const sql = "select count(*) as n from agents a join wallets w on w.address = json_extract(a.data, '$.walletAddress') and w.owner_id = a.id";
    return Number((db.prepare(sql).get() as { n: number | bigint }).n);
  } finally {
    db.close();
  }
}

/** QUEUED, ASSIGNED, RUNNING, SUCCEEDED. */
const EVENTS_PER_TASK = 4;

// ------------------------------------------------------------------ (1) in-process dispatch

interface ShapeRun {
  shape: Shape;
  rate: number;
  totalMs: number;
  latencyMs: Summary;
  tasks: number;
  succeededEvents: number;
  failedEvents: number;
  store: TaskRows;
  sequential?: { rate: number; latencyMs: Summary; dispatchUs: { samples: number; p50Us: number; p99Us: number } };
}

async function dispatch({ quick }: SchedulerCaseOptions): Promise<CaseBody> {
  const n = dispatchTasks(quick);
  const warm = quick ? 4_000 : 10_000;

  const runs: ShapeRun[] = [];
  for (const [index, shape] of SHAPES.entries()) {
    const primary = index === 0;
    log(`dispatch: ${shapeLabel(shape)}: ${formatNumber(warm)} warm-up + ${formatNumber(n)} tasks, ${formatNumber(IN_FLIGHT)} in flight${primary ? `, then ${formatNumber(SEQUENTIAL)} one at a time` : ""}`);
    const run = await withEchoFactory(shape, async (factory, dir): Promise<ShapeRun> => {
      const completions = new Completions(factory);
      const one = submitAndWait(factory, completions);
      await windowed(warm, IN_FLIGHT, one);
      gc?.();
      const measured = await windowed(n, IN_FLIGHT, one);
      let sequential: ShapeRun["sequential"];
      if (primary) {
        // A READY agent is always free, so every dispatch is direct and stats().dispatch holds only these.
        const seq = await windowed(SEQUENTIAL, 1, one);
        sequential = { rate: perSecond(SEQUENTIAL, seq.totalMs), latencyMs: summarize(seq.latencies), dispatchUs: factory.stats().dispatch };
      }
      completions.close();
      // Drains the journal; closing again on the way out does nothing.
      await factory.close();
      return {
        shape,
        rate: perSecond(n, measured.totalMs),
        totalMs: measured.totalMs,
        latencyMs: summarize(measured.latencies),
        tasks: warm + n + (primary ? SEQUENTIAL : 0),
        succeededEvents: completions.succeeded,
        failedEvents: completions.failed,
        store: taskRows(dir),
        ...(sequential === undefined ? {} : { sequential }),
      };
    });
    runs.push(run);
  }

  const primary = runs[0] as ShapeRun;
  const best = runs.reduce((a, b) => (b.rate > a.rate ? b : a));
  const seq = primary.sequential as NonNullable<ShapeRun["sequential"]>;
  const expected = runs.reduce((sum, r) => sum + r.tasks, 0);
  const sum = (f: (r: ShapeRun) => number): number => runs.reduce((s, r) => s + f(r), 0);
  const label = formatNumber(n);
  return {
    title: `Task dispatch, library (echo handler, SQLite file; ${label} tasks, ${formatNumber(IN_FLIGHT)} in flight)`,
    metrics: [
      ...runs.map((r) =>
        metric(`dispatch.shape.${r.shape.agents}x${r.shape.limit}.rate`, `${shapeLabel(r.shape)}: submit → SUCCEEDED`, r.rate, "tasks/s", SCHEDULER_CLAIMS.dispatchRate),
      ),
      metric("dispatch.rate", `best shape (${shapeLabel(best.shape)})`, best.rate, "tasks/s", SCHEDULER_CLAIMS.dispatchRate),
      metric("dispatch.p50", "  submit → SUCCEEDED event, p50", best.latencyMs.p50, "ms", SCHEDULER_CLAIMS.latency),
      metric("dispatch.p99", "  submit → SUCCEEDED event, p99", best.latencyMs.p99, "ms", SCHEDULER_CLAIMS.latency),
      metric("dispatch.warm.p50", `warm dispatch, stats().dispatch p50 (${formatNumber(seq.dispatchUs.samples)} samples)`, seq.dispatchUs.p50Us, "µs", SCHEDULER_CLAIMS.warmDispatch),
      metric("dispatch.warm.p99", "warm dispatch, stats().dispatch p99", seq.dispatchUs.p99Us, "µs", SCHEDULER_CLAIMS.warmDispatch),
      metric("dispatch.seq.rate", `one at a time (${formatNumber(SEQUENTIAL)}): submit → SUCCEEDED`, seq.rate, "tasks/s"),
      metric("dispatch.seq.p50", "  latency p50 (includes the durable commit)", seq.latencyMs.p50, "ms", SCHEDULER_CLAIMS.latency),
      metric("dispatch.seq.p99", "  latency p99", seq.latencyMs.p99, "ms", SCHEDULER_CLAIMS.latency),
      check("dispatch.events", "  SUCCEEDED events seen, all runs", sum((r) => r.succeededEvents), expected, "tasks"),
      check("dispatch.stored", "  store rows: SUCCEEDED, result = input", sum((r) => r.store.echoed), expected, "rows"),
      check("dispatch.storedEvents", "  store rows: task.state events", sum((r) => r.store.taskStateEvents), expected * EVENTS_PER_TASK, "rows"),
    ],
    details: {
      tasks: n,
      inFlight: IN_FLIGHT,
      warmUpTasks: warm,
      best: shapeLabel(best.shape),
      shapes: runs,
    },
  };
}

// ------------------------------------------------------------------ (2) the Piscina peer

async function piscina({ quick }: SchedulerCaseOptions): Promise<CaseBody> {
  const n = dispatchTasks(quick);
  const warm = quick ? 4_000 : 10_000;
  const pool = new Piscina<number, number>({ filename: PISCINA_WORKER, minThreads: PISCINA_THREADS, maxThreads: PISCINA_THREADS });
  let wrong = 0;
  let completed = 0;
  const one = async (i: number): Promise<number> => {
    const start = now();
    const result = await pool.run(i);
    const ms = now() - start;
    if (result === i) completed++;
    else wrong++;
    return ms;
  };
  let measured: WindowRun;
  let seq: WindowRun;
  try {
    log(`piscina: warm-up (${formatNumber(warm)} tasks, ${formatNumber(IN_FLIGHT)} in flight, ${PISCINA_THREADS} threads)`);
    await windowed(warm, IN_FLIGHT, one);
    gc?.();
    log(`piscina: ${formatNumber(n)} tasks, ${formatNumber(IN_FLIGHT)} in flight, then ${formatNumber(SEQUENTIAL)} one at a time`);
    measured = await windowed(n, IN_FLIGHT, one);
    seq = await windowed(SEQUENTIAL, 1, one);
  } finally {
    await pool.close();
  }
  const latency = summarize(measured.latencies);
  const seqLatency = summarize(seq.latencies);
  return {
    title: `Piscina peer (${PISCINA_THREADS} worker threads, echo function; same tasks and window, no persistence)`,
    metrics: [
      metric("piscina.rate", `pool.run → result, ${formatNumber(n)} tasks, ${formatNumber(IN_FLIGHT)} in flight`, perSecond(n, measured.totalMs), "tasks/s"),
      metric("piscina.p50", "  latency p50", latency.p50, "ms"),
      metric("piscina.p99", "  latency p99", latency.p99, "ms"),
      metric("piscina.seq.rate", `one at a time (${formatNumber(SEQUENTIAL)})`, perSecond(SEQUENTIAL, seq.totalMs), "tasks/s"),
      metric("piscina.seq.p50", "  latency p50", seqLatency.p50, "ms"),
      metric("piscina.seq.p99", "  latency p99", seqLatency.p99, "ms"),
      check("piscina.results", "  results equal to their input", completed, warm + n + SEQUENTIAL, "tasks"),
    ],
    details: {
      version: Piscina.version,
      threads: PISCINA_THREADS,
      tasks: n,
      inFlight: IN_FLIGHT,
      latencyMs: latency,
      sequential: { tasks: SEQUENTIAL, totalMs: seq.totalMs, latencyMs: seqLatency },
      wrongResults: wrong,
      warmUpTasks: warm,
    },
  };
}

// ------------------------------------------------------------------ (3) tasks over HTTP

interface HttpReply {
  status: number;
  body: Partial<Task>;
}

async function httpTasks({ quick }: SchedulerCaseOptions): Promise<CaseBody> {
  const n = quick ? 4_000 : 20_000;
  const warm = quick ? 1_000 : 4_000;
  const clients = 32;
  const shape = SHAPES[0] as Shape;

  return withEchoFactory(shape, async (factory, dir) => {
    const server = await startServer(factory, { port: 0, host: "127.0.0.1" });
    // node:http with keep-alive: a lighter load generator than fetch, so more of the shared CPU goes to the server.
    const agent = new HttpAgent({ keepAlive: true, maxSockets: clients });
    const call = (method: string, path: string, body?: string): Promise<HttpReply> =>
      new Promise((resolve, reject) => {
        const headers = body === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
        const req = request({ host: "127.0.0.1", port: server.port, path, method, agent, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            try {
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Partial<Task> });
            } catch (error) {
              reject(error);
            }
          });
          res.on("error", reject);
        });
        req.on("error", reject);
        req.end(body);
      });

    let accepted = 0;
    let refused = 0;
    let succeeded = 0;
    let gets = 0;
    const one = async (i: number): Promise<number> => {
      const start = now();
      const posted = await call("POST", "/v1/tasks", JSON.stringify({ profile: ECHO, input: i }));
      if (posted.status !== 202 || typeof posted.body.id !== "string") {
        refused++;
        return now() - start;
      }
      accepted++;
      let task = posted.body;
      while (task.state !== "SUCCEEDED" && task.state !== "FAILED" && task.state !== "DEAD" && task.state !== "CANCELLED") {
        gets++;
        task = (await call("GET", `/v1/tasks/${posted.body.id}?waitMs=5000`)).body;
      }
      if (task.state === "SUCCEEDED" && task.result === i) succeeded++;
      return now() - start;
    };

    let run: WindowRun;
    let getsMeasured: number;
    try {
      log(`http-tasks: warm-up (${formatNumber(warm)} tasks, ${clients} clients)`);
      await windowed(warm, clients, one);
      gc?.();
      log(`http-tasks: ${formatNumber(n)} tasks, ${clients} clients: POST /v1/tasks, then GET /v1/tasks/{id}?waitMs=5000 until final`);
      const getsBefore = gets;
      run = await windowed(n, clients, one);
      getsMeasured = gets - getsBefore;
    } finally {
      // Closes the factory too, which drains the journal.
      await server.close();
      agent.destroy();
    }
    const rows = taskRows(dir);
    const latency = summarize(run.latencies);
    return {
      title: `Tasks over HTTP (server in-process on 127.0.0.1; ${clients} node:http keep-alive clients in the same process; ${shapeLabel(shape)})`,
      metrics: [
        metric("http-tasks.rate", `POST + GET ?waitMs until SUCCEEDED, ${formatNumber(n)} tasks`, perSecond(n, run.totalMs), "tasks/s", SCHEDULER_CLAIMS.httpRate),
        metric("http-tasks.p50", "  submit → result latency p50", latency.p50, "ms", SCHEDULER_CLAIMS.latency),
        metric("http-tasks.p99", "  submit → result latency p99", latency.p99, "ms", SCHEDULER_CLAIMS.latency),
        metric("http-tasks.requests", "  HTTP requests per task", (n + getsMeasured) / n, "req"),
        check("http-tasks.succeeded", "  SUCCEEDED with result = input", succeeded, warm + n, "tasks"),
        check("http-tasks.stored", "  store rows after close: SUCCEEDED, result = input", rows.echoed, warm + n, "rows"),
      ],
      details: {
        clients,
        tasks: n,
        totalMs: run.totalMs,
        latencyMs: latency,
        getsMeasured,
        accepted,
        refused,
        warmUpTasks: warm,
        store: rows,
        client: "node:http Agent({ keepAlive: true, maxSockets: clients }), same process as the server",
      },
    };
  });
}

// ------------------------------------------------------------------ (4) resident agents

interface Checkpoint {
  agents: number;
  elapsedMs: number;
  rss: number;
  heapUsed: number;
  /** Heap V8 has committed; RSS above it is mostly freed heap pages V8 still holds. */
  heapTotal: number;
}

/** Memory after gc, with the committed heap beside it. */
function sample(agents: number, elapsedMs: number): Checkpoint {
  const { rss, heapUsed } = memory();
  return { agents, elapsedMs, rss, heapUsed, heapTotal: process.memoryUsage().heapTotal };
}

async function resident({ quick }: SchedulerCaseOptions): Promise<CaseBody> {
  const target = quick ? 100_000 : 1_000_000;
  const checkpoints = quick ? [100_000] : [100_000, 250_000, 500_000, 750_000, 1_000_000];
  const batch = 10_000;
  const budgetMs = 180_000;
  const warm = 20_000;
  const profile = echoProfile(1);

  log(`resident: warm-up (${formatNumber(warm)} agents in batches of ${formatNumber(batch)})`);
  await withTempDir(async (dir) => {
    const factory = await createFactory({ dataDir: dir });
    try {
      factory.registerProfile(profile);
      for (let done = 0; done < warm; done += batch) {
        const agents = await Promise.all(Array.from({ length: batch }, () => factory.spawnAgent({ profile: ECHO })));
        await factory.getWallet((agents.at(-1) as Agent).walletAddress);
      }
    } finally {
      await factory.close();
    }
  });

  log(`resident: up to ${formatNumber(target)} agents in batches of ${formatNumber(batch)}, each batch awaited until stored (budget ${budgetMs / 1000} s)`);
  return withTempDir(async (dir) => {
    const factory = await createFactory({ dataDir: dir });
    let base: MemorySample;
    const curve: Checkpoint[] = [];
    let spawned = 0;
    let stoppedBy: string | null = null;
    let live: number;
    let spawnMs: number;
    try {
      factory.registerProfile(profile);
      base = memory();
      const start = now();
      while (spawned < target) {
        const size = Math.min(batch, target - spawned);
        const agents = await Promise.all(Array.from({ length: size }, () => factory.spawnAgent({ profile: ECHO })));
        // Keeps the write-behind journal from piling up, so memory is what resident agents hold.
        await factory.getWallet((agents.at(-1) as Agent).walletAddress);
        spawned += size;
        if (checkpoints.includes(spawned)) {
          const c = sample(spawned, now() - start);
          curve.push(c);
          log(`resident: ${formatNumber(spawned)} agents after ${(c.elapsedMs / 1000).toFixed(1)} s: RSS ${(c.rss / MiB).toFixed(0)} MiB, heap ${(c.heapUsed / MiB).toFixed(0)} MiB used, ${(c.heapTotal / MiB).toFixed(0)} MiB committed`);
        }
        if (spawned < target && now() - start > budgetMs) {
          stoppedBy = `time budget of ${budgetMs / 1000} s`;
          break;
        }
      }
      spawnMs = now() - start;
      if (curve.at(-1)?.agents !== spawned) curve.push(sample(spawned, spawnMs));
      live = factory.stats().agents;
    } finally {
      await factory.close();
    }
    const stored = agentRows(dir);
    const perAgent = (c: Checkpoint): { rss: number; heap: number } => ({ rss: (c.rss - base.rss) / c.agents, heap: (c.heapUsed - base.heapUsed) / c.agents });
    const last = curve.at(-1) as Checkpoint;
    const metrics: Metric[] = [];
    for (const c of curve) {
      const at = formatNumber(c.agents);
      const full = c.agents === 1_000_000;
      metrics.push(metric(`resident.${c.agents}.rss`, `${at} agents: RSS after gc`, c.rss / MiB, "MiB", full ? SCHEDULER_CLAIMS.residentRss : null));
      metrics.push(metric(`resident.${c.agents}.heap`, "  JS heap used", c.heapUsed / MiB, "MiB"));
      if (c === curve[0] || c === last) {
        metrics.push(metric(`resident.${c.agents}.rssPerAgent`, "  RSS growth per agent", perAgent(c).rss, "bytes", SCHEDULER_CLAIMS.residentPerAgent));
        metrics.push(metric(`resident.${c.agents}.heapPerAgent`, "  JS heap growth per agent", perAgent(c).heap, "bytes"));
      }
    }
    metrics.push(metric("resident.rate", `spawned and stored in ${(spawnMs / 1000).toFixed(0)} s`, perSecond(spawned, spawnMs), "agents/s"));
    if (!quick) metrics.push(metric("resident.reached", `agents reached${stoppedBy === null ? "" : ` (stopped by the ${stoppedBy})`}`, spawned, "agents", SCHEDULER_CLAIMS.residentCount));
    metrics.push(check("resident.live", "  live agents in the factory", live, spawned, "agents"));
    metrics.push(check("resident.stored", "  store rows after close: agent with its wallet", stored, spawned, "rows"));
    return {
      title: `Resident agents (library, batches of ${formatNumber(batch)} awaited until stored; memory after gc)`,
      metrics,
      details: {
        target,
        spawned,
        stoppedBy,
        batch,
        spawnMs,
        base,
        curve: curve.map((c) => ({ ...c, rssMiB: c.rss / MiB, heapMiB: c.heapUsed / MiB, heapTotalMiB: c.heapTotal / MiB, perAgentBytes: perAgent(c) })),
        warmUpAgents: warm,
        gcExposed: gc !== undefined,
      },
    };
  });
}

// ------------------------------------------------------------------ (5) the cost of metrics and tracing

/** An OTLP/HTTP sink in a process of its own (a collector elsewhere): reads each POST and answers 200; prints its port. */
const SINK = `
const http = require("node:http");
let posts = 0;
const server = http.createServer((req, res) => { let n = 0; req.on("data", (c) => (n += c.length)); req.on("end", () => { posts++; res.writeHead(200, { "content-type": "application/json" }); res.end("{}"); }); });
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
`;

async function startSink(): Promise<{ url: string; stop(): void }> {
  const child = spawn(process.execPath, ["-e", SINK], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding("utf8");
    child.stdout.once("data", (line: string) => resolve(line.trim()));
    child.once("exit", (code) => reject(new Error(`the OTLP sink exited (${code})`)));
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => void child.kill("SIGTERM") };
}

/**
 * Dispatch throughput (the dispatch case's first shape, windowed, echo tasks on a SQLite file)
 * with metrics and tracing on and off: metrics on (the default) or off (`metrics: false`);
 * tracing off (the default), on to a Tracer that drops every span (what the factory's own
 * bookkeeping costs), and on over OTLP/HTTP JSON to a sink in another process (the SDK's batching
 * and encoding too). The configurations take turns, round after round (each round starting with
 * the next one), so a busy moment of the machine falls on all of them; each one's median round is reported.
 */
async function observability({ quick }: SchedulerCaseOptions): Promise<CaseBody> {
  const n = quick ? 5_000 : 20_000;
  const rounds = quick ? 3 : 5;
  const shape = SHAPES[0] as Shape;
  const sink = await startSink();
  const dropping = { record() {}, flush: async () => {}, close: async () => {} };
  const configs: Array<{ id: string; label: string; options: () => FactoryOptions }> = [
    { id: "default", label: "metrics on, tracing off (the default)", options: () => ({}) },
    { id: "bare", label: "metrics off, tracing off", options: () => ({ metrics: false }) },
    { id: "dropped", label: "metrics on, tracing to a Tracer that drops spans", options: () => ({ tracing: { tracer: dropping } }) },
    { id: "otlp", label: "metrics on, tracing over OTLP/HTTP JSON (sink in another process)", options: () => ({ tracing: { endpoint: sink.url } }) },
  ];
  const rates = new Map<string, number[]>(configs.map((c) => [c.id, []]));
  // CPU time of this process per task: far less sensitive than wall time to a machine others share.
  const cpu = new Map<string, number[]>(configs.map((c) => [c.id, []]));
  try {
    for (let round = 0; round < rounds; round++) {
      // Each round starts with another configuration, so none always runs after the same one.
      for (const config of [...configs.slice(round % configs.length), ...configs.slice(0, round % configs.length)]) {
        log(`observability: round ${round + 1}/${rounds}, ${config.label}: ${formatNumber(n)} tasks, ${formatNumber(IN_FLIGHT)} in flight`);
        const { rate, cpuUs } = await withEchoFactory(
          shape,
          async (factory) => {
            const completions = new Completions(factory);
            const one = submitAndWait(factory, completions);
            await windowed(Math.min(2_000, n), IN_FLIGHT, one);
            gc?.();
            const before = process.cpuUsage();
            const measured = await windowed(n, IN_FLIGHT, one);
            const used = process.cpuUsage(before);
            completions.close();
            return { rate: perSecond(n, measured.totalMs), cpuUs: (used.user + used.system) / n };
          },
          config.options(),
        );
        rates.get(config.id)?.push(rate);
        cpu.get(config.id)?.push(cpuUs);
      }
    }
  } finally {
    sink.stop();
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const base = median(rates.get("default") as number[]);
  const baseCpu = median(cpu.get("default") as number[]);
  const metrics: Metric[] = [];
  for (const config of configs) {
    const m = median(rates.get(config.id) as number[]);
    const c = median(cpu.get(config.id) as number[]);
    metrics.push(metric(`observability.${config.id}.rate`, `${config.label}: submit → SUCCEEDED`, m, "tasks/s"));
    metrics.push(metric(`observability.${config.id}.cpu`, "  CPU time of the process per task", c, "µs"));
    if (config.id !== "default") {
      metrics.push(metric(`observability.${config.id}.vsDefault`, "  throughput against the default", (m / base - 1) * 100, "%"));
      metrics.push(metric(`observability.${config.id}.cpuVsDefault`, "  CPU per task against the default", (c / baseCpu - 1) * 100, "%"));
    }
  }
  return {
    title: `The cost of metrics and tracing on dispatch (library, ${shapeLabel(shape)}, ${formatNumber(n)} echo tasks × ${rounds} rounds, medians)`,
    metrics,
    details: { tasks: n, rounds, shape, rates: Object.fromEntries(rates), cpuUsPerTask: Object.fromEntries(cpu) },
  };
}

// ------------------------------------------------------------------ entry

const CASES: Record<SchedulerCaseName, (options: SchedulerCaseOptions) => Promise<CaseBody>> = {
  dispatch,
  piscina,
  "http-tasks": httpTasks,
  resident,
  observability,
};

export async function runSchedulerCase(name: SchedulerCaseName, options: SchedulerCaseOptions): Promise<SchedulerCaseResult> {
  const start = now();
  const result = await CASES[name](options);
  return { name, ...result, durationMs: now() - start, gcExposed: gc !== undefined };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { case: { type: "string" }, quick: { type: "boolean", default: false } } });
  const name = values.case as SchedulerCaseName | undefined;
  if (name === undefined || !SCHEDULER_CASE_NAMES.includes(name)) {
    process.stderr.write(`usage: node --expose-gc bench/scheduler.ts --case ${SCHEDULER_CASE_NAMES.join("|")} [--quick]\n`);
    process.exit(2);
  }
  const result = await runSchedulerCase(name, { quick: values.quick });
  if (process.send !== undefined) process.send(result, undefined, {}, () => process.disconnect());
  else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
