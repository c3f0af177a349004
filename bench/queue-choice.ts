/**
 * The distributed task queue, chosen by measurement (issue 13 item 3). Each candidate runs on the
 * local Redis / PostgreSQL with the producer in this process and 3 consumer "nodes" as 3 child
 * processes (real processes, so kill -9 is real):
 *
 * - `bullmq`: BullMQ on Redis (one Queue, Workers with concurrency 50).
 * - `bullmq-pg`: BullMQ 6's PostgreSQL backend (same API; FOR UPDATE SKIP LOCKED + LISTEN/NOTIFY).
 * - `streams`: Redis Streams consumer groups through ioredis (XADD / XREADGROUP / XACK / XAUTOCLAIM).
 * - `pgboss`: pg-boss 12 (PostgreSQL SKIP LOCKED queue, NOTIFY wake-ups).
 * - `skiplocked`: a plain table claimed with `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`,
 *   leases renewed by the holder, NOTIFY wake-ups: the floor, to see what a library costs.
 * - `skiplocked-redis`: the same table, woken by a Redis PUBLISH after the commit instead of NOTIFY.
 *
 * Phases (all by default; `--only a,b`): throughput (20,000 jobs), latency (1,000 jobs/s offered),
 * priority (2,000 low then 10 high), lanes (1,000 lanes, each consumed on its home node),
 * crash (kill -9 of a node holding 50 jobs; settings tuned for ≤ 5 s; `--crash-defaults` also runs
 * the library's defaults where they finish within a minute; `--heartbeat`: pg-boss with its heartbeat), accept (a task made durable in
 * PostgreSQL and enqueued: two hops or one transaction).
 *
 *   npx node bench/queue-choice.ts --case bullmq|bullmq-pg|streams|pgboss|skiplocked [--only …] [--crash-defaults] [--rate 1000] [--heartbeat]
 *
 * Isolation: Redis keys under `af-qc-<run>`, PostgreSQL schemas `af_qc_<run>_*`; both removed at the end.
 */
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { readFile, mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Queue, Worker, createPostgresBackend, type Job as BullJob } from "bullmq";
import { Redis } from "ioredis";
import pg from "pg";
import { PgBoss } from "pg-boss";
import { formatNumber, summarize, type Summary } from "./stats.ts";

export const QUEUE_CASES = ["bullmq", "bullmq-pg", "streams", "pgboss", "skiplocked", "skiplocked-redis"] as const;
export type QueueCase = (typeof QUEUE_CASES)[number];
const PHASES = ["throughput", "latency", "priority", "lanes", "crash", "accept"] as const;
type Phase = (typeof PHASES)[number];

const here = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(here, "results", "queue-choice.json");
const REDIS = { host: "127.0.0.1", port: 6379 };
const PG_URL = "postgres://postgres@127.0.0.1:5432/test";
const NODES = 3;
const LANES = 1_000;

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
const wall = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (line: string): void => void process.stderr.write(`  ${line}\n`);

/** One job as the bench sees it; `t` is the wall time just before the producer's enqueue call. */
interface JobSpec {
  id: string;
  t: number;
  lane?: string;
  high?: boolean;
}

/** How a consumer node behaves in a phase. */
interface ConsumeOptions {
  run: string;
  concurrency: number;
  /** Lanes this node serves (its home lanes); none: the one shared queue. */
  lanes?: string[];
  /** Recovery settings tuned for re-delivery within 5 s (else the library's defaults). */
  tuned: boolean;
  /** How long a job runs; -1: forever (a node that will be killed). */
  holdMs: number;
}

/** The producer side of a candidate, in the bench process. */
interface Producer {
  add(jobs: JobSpec[]): Promise<void>;
  close(): Promise<void>;
}

/** A candidate: its producer, its consumer (in a child process), its accept path and its clean-up. */
interface Candidate {
  /** Creates what the queue needs (schemas, queues) and returns a producer. */
  producer(options: { run: string; lanes?: string[]; tuned: boolean; heartbeat?: boolean }): Promise<Producer>;
  /** Runs in a child: consumes, calling `started` when a job starts and `finished` once acked. */
  consume(options: ConsumeOptions, started: (id: string) => void, finished: (id: string) => void): Promise<{ close(): Promise<void> }>;
  /** One task accepted: made durable in PostgreSQL (the `tasks` table) and enqueued. */
  accept?(run: string): Promise<{ acceptOne(id: string): Promise<void>; close(): Promise<void> }>;
  /** Removes every key / schema of the run. */
  cleanup(run: string): Promise<void>;
  /** What the library does by default for a dead holder's jobs (for the table). */
  defaults: string;
  tunedText: string;
}

// ---------------------------------------------------------------------------------------------
// Shared PostgreSQL helpers: the `tasks` table stands for the factory's durable task record.

async function pgClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  return client;
}

const schemaOf = (run: string, what: string): string => `af_qc_${run}_${what}`;

async function dropSchemas(run: string): Promise<void> {
  const client = await pgClient();
  try {
    const { rows } = await client.query<{ nspname: string }>("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", [`af_qc_${run}_%`]);
    for (const r of rows) await client.query(`DROP SCHEMA "${r.nspname}" CASCADE`);
  } finally {
    await client.end();
  }
}

async function deleteKeys(run: string): Promise<void> {
  const redis = new Redis(REDIS);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `af-qc-${run}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

/** A `tasks` table in its own schema: the durable record of acceptance the factory keeps anyway. */
async function tasksTable(run: string): Promise<{ client: pg.Client; table: string }> {
  const client = await pgClient();
  const schema = schemaOf(run, "tasks");
  await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  await client.query(`CREATE TABLE IF NOT EXISTS "${schema}".tasks (id text PRIMARY KEY, state text NOT NULL, input jsonb NOT NULL)`);
  return { client, table: `"${schema}".tasks` };
}

/** Redis-based accept: commit the task in PostgreSQL, then enqueue in Redis (two hops, two systems). */
function twoHopAccept(enqueue: (id: string) => Promise<void>, close: () => Promise<void>) {
  return async (run: string) => {
    const { client, table } = await tasksTable(run);
    return {
      async acceptOne(id: string) {
        await client.query(`INSERT INTO ${table} (id, state, input) VALUES ($1, 'QUEUED', '{}')`, [id]);
        // A crash here leaves a task accepted but never enqueued: a sweeper must re-enqueue QUEUED rows.
        await enqueue(id);
      },
      async close() {
        await client.end();
        await close();
      },
    };
  };
}

// ---------------------------------------------------------------------------------------------
// (a) BullMQ, on Redis or on its PostgreSQL backend.

function bullmq(backend: "redis" | "pg"): Candidate {
  const queueName = (lane?: string): string => (lane === undefined ? "jobs" : `lane-${lane}`);
  // The producer (started first) runs BullMQ's migrations; consumers only check the schema.
  const pgConnection = (run: string, max: number, migrate = false) => ({ connectionString: PG_URL, schema: schemaOf(run, "bullmq"), max, migrate });
  /** A producer's queues share one connection (Redis) or one pool (PostgreSQL), as an application would. */
  const opener = (run: string) => {
    if (backend === "redis") {
      const shared = new Redis({ ...REDIS, maxRetriesPerRequest: null });
      return { open: (name: string) => new Queue(name, { connection: shared, prefix: `af-qc-${run}` }), close: async () => void shared.disconnect() };
    }
    // A pg.Pool passed in is used with BullMQ's default schema only, so each queue gets its own
    // (lazy) pool from a config carrying the run's schema.
    return { open: (name: string) => new Queue(name, { connection: pgConnection(run, 2, true) }, createPostgresBackend as never), close: async () => {} };
  };
  const jobOptions = (job: JobSpec) => ({
    jobId: job.id,
    removeOnComplete: true,
    removeOnFail: true,
    // BullMQ: 1 is the highest priority; jobs without one are taken before any prioritized job.
    ...(job.high === undefined ? {} : { priority: job.high ? 1 : 10 }),
  });
  return {
    defaults: "lockDuration 30 s, stalledInterval 30 s (stalled jobs moved back after 30–60 s)",
    tunedText: "lockDuration 2 s (renewed every 1 s), stalledInterval 1 s",
    async producer({ run, lanes }) {
      const o = opener(run);
      const queues = new Map<string, Queue>();
      for (const lane of lanes ?? [undefined]) {
        const q = o.open(queueName(lane));
        await q.waitUntilReady();
        queues.set(lane ?? "", q);
      }
      return {
        async add(jobs) {
          const byQueue = new Map<string, JobSpec[]>();
          for (const j of jobs) byQueue.set(j.lane ?? "", [...(byQueue.get(j.lane ?? "") ?? []), j]);
          await Promise.all(
            [...byQueue].map(([lane, list]) =>
              list.length === 1
                ? queues.get(lane)!.add("j", { id: list[0]!.id, t: list[0]!.t }, jobOptions(list[0]!))
                : queues.get(lane)!.addBulk(list.map((j) => ({ name: "j", data: { id: j.id, t: j.t }, opts: jobOptions(j) }))),
            ),
          );
        },
        async close() {
          await Promise.all([...queues.values()].map((q) => q.close()));
          await o.close();
        },
      };
    },
    async consume({ run, concurrency, lanes, tuned, holdMs }, started, finished) {
      const workers = (lanes ?? [undefined]).map((lane) => {
        const options = {
          ...(backend === "redis" ? { connection: REDIS, prefix: `af-qc-${run}` } : { connection: pgConnection(run, 2) }),
          concurrency,
          ...(tuned ? { lockDuration: 2_000, stalledInterval: 1_000 } : {}),
        };
        const processor = async (job: BullJob<{ id: string }>) => {
          started(job.data.id);
          if (holdMs < 0) await new Promise(() => {});
          if (holdMs > 0) await sleep(holdMs);
        };
        const w = backend === "redis" ? new Worker(queueName(lane), processor, options) : new Worker(queueName(lane), processor, options, createPostgresBackend as never);
        w.on("completed", (job: BullJob<{ id: string }>) => finished(job.data.id));
        w.on("error", (e: Error) => log(`bullmq worker: ${e.message}`));
        return w;
      });
      await Promise.all(workers.map((w) => w.waitUntilReady()));
      return { close: async () => void (await Promise.all(workers.map((w) => w.close(true)))) };
    },
    async accept(run) {
      const o = opener(run);
      const q = o.open("accept");
      await q.waitUntilReady();
      // On Redis: a commit in PostgreSQL, then a write to another system. On its PostgreSQL
      // backend: two commits in one database, through BullMQ's own pool (it takes no caller's transaction).
      return twoHopAccept(
        async (id) => void (await q.add("j", { id }, { jobId: id })),
        async () => {
          await q.close();
          await o.close();
        },
      )(run);
    },
    async cleanup(run) {
      if (backend === "redis") await deleteKeys(run);
      await dropSchemas(run);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// (b) Redis Streams consumer groups via ioredis. Priorities: one stream per level, read high first.
// Lanes: one stream per lane; a node reads all its home lanes in one XREADGROUP.

function streams(): Candidate {
  const key = (run: string, lane: string | undefined, high: boolean): string => `af-qc-${run}:s:${lane ?? "main"}:${high ? "hi" : "lo"}`;
  const GROUP = "nodes";
  return {
    defaults: "none: XAUTOCLAIM's min-idle and how often to run it are the application's choice (nothing re-delivers until it runs)",
    tunedText: "pending entries claimed after 2 s idle (XAUTOCLAIM every 1 s); holders refresh idle with XCLAIM JUSTID every 0.7 s",
    async producer({ run, lanes }) {
      const redis = new Redis(REDIS);
      for (const lane of lanes ?? [undefined])
        for (const high of [true, false]) await redis.xgroup("CREATE", key(run, lane, high), GROUP, "$", "MKSTREAM");
      return {
        async add(jobs) {
          const p = redis.pipeline();
          for (const j of jobs) p.xadd(key(run, j.lane, j.high === true), "*", "id", j.id, "t", String(j.t));
          await p.exec();
        },
        async close() {
          redis.disconnect();
        },
      };
    },
    async consume({ run, concurrency, lanes, tuned, holdMs }, started, finished) {
      const me = `node-${process.pid}`;
      const reader = new Redis(REDIS);
      const cmd = new Redis(REDIS);
      const keys = (lanes ?? [undefined]).flatMap((lane) => [key(run, lane, true), key(run, lane, false)]);
      const inFlight = new Map<string, { key: string; entry: string }>();
      let stopped = false;
      let slotFreed: (() => void) | undefined;
      const run1 = (k: string, entry: string, fields: string[]): void => {
        const id = fields[fields.indexOf("id") + 1]!;
        inFlight.set(entry, { key: k, entry });
        started(id);
        void (async () => {
          if (holdMs < 0) await new Promise(() => {});
          if (holdMs > 0) await sleep(holdMs);
          await cmd.xack(k, GROUP, entry);
          inFlight.delete(entry);
          finished(id);
          slotFreed?.();
        })();
      };
      const readLoop = async (): Promise<void> => {
        while (!stopped) {
          const free = concurrency - inFlight.size;
          if (free <= 0) {
            await new Promise<void>((r) => (slotFreed = r));
            continue;
          }
          const res = (await reader.xreadgroup("GROUP", GROUP, me, "COUNT", free, "BLOCK", 500, "STREAMS", ...keys, ...keys.map(() => ">")).catch(() => null)) as
            | Array<[string, Array<[string, string[]]>]>
            | null;
          if (res === null) continue;
          // Redis answers each stream in the order given: high-priority streams come first.
          for (const [k, entries] of res) for (const [entry, fields] of entries) run1(k, entry, fields);
        }
      };
      const timers: NodeJS.Timeout[] = [];
      if (tuned) {
        // Holders keep their entries young so a slow job is not taken from a live node.
        timers.push(
          setInterval(() => {
            const byKey = new Map<string, string[]>();
            for (const f of inFlight.values()) byKey.set(f.key, [...(byKey.get(f.key) ?? []), f.entry]);
            for (const [k, entries] of byKey) void cmd.xclaim(k, GROUP, me, 0, ...entries, "JUSTID").catch(() => {});
          }, 700),
        );
        timers.push(
          setInterval(() => {
            if (inFlight.size >= concurrency) return;
            for (const k of keys)
              void (cmd.xautoclaim(k, GROUP, me, 2_000, "0-0", "COUNT", concurrency - inFlight.size) as Promise<[string, Array<[string, string[]] | null>, string[]]>)
                .then(([, entries]) => {
                  for (const e of entries) if (e !== null && !inFlight.has(e[0])) run1(k, e[0], e[1]);
                })
                .catch(() => {});
          }, 1_000),
        );
      }
      const loop = readLoop();
      return {
        async close() {
          stopped = true;
          for (const t of timers) clearInterval(t);
          slotFreed?.();
          reader.disconnect();
          await loop.catch(() => {});
          cmd.disconnect();
        },
      };
    },
    async accept(run) {
      const redis = new Redis(REDIS);
      return twoHopAccept(async (id) => void (await redis.xadd(key(run, "accept", false), "*", "id", id)), async () => void redis.disconnect())(run);
    },
    cleanup: deleteKeys,
  };
}

// ---------------------------------------------------------------------------------------------
// (c) pg-boss. Lanes: one pg-boss queue per lane (its fetch cannot filter by a column).

function pgboss(): Candidate {
  const queueName = (lane?: string): string => (lane === undefined ? "jobs" : `lane-${lane}`);
  const boss = (run: string, primary: boolean): PgBoss =>
    new PgBoss({
      connectionString: PG_URL,
      schema: schemaOf(run, "boss"),
      useListenNotify: true,
      max: primary ? 10 : 4,
      connectionTimeoutMillis: 30_000,
      ...(primary ? { superviseIntervalSeconds: 1, monitorIntervalSeconds: 1 } : { supervise: false, migrate: false, schedule: false }),
    } as never);
  // Its timers may still fire once while the run's schema is being dropped; that is not a finding.
  const quiet = (e: Error): void => void (/does not exist/.test(e.message) || log(`pg-boss: ${e.message}`));
  return {
    defaults: "expireInSeconds 900: an active job whose worker died is retried after 15 min (heartbeatSeconds, ≥ 10 s, is off by default)",
    tunedText: "expireInSeconds 3 (a hard limit on a job's run time), supervise and monitor every 1 s, workers poll every 1 s beside NOTIFY",
    async producer({ run, lanes, tuned, heartbeat }) {
      const b = boss(run, true);
      b.on("error", quiet);
      await b.start();
      for (const lane of lanes ?? [undefined]) await b.createQueue(queueName(lane), {
          notify: true,
          retryLimit: 5,
          // --heartbeat: the way pg-boss is meant to detect a dead worker without capping a job's run
          // time (heartbeatSeconds, at least 10 s; workers refresh every 5 s).
          ...(heartbeat === true ? { heartbeatSeconds: 10 } : tuned ? { expireInSeconds: 3 } : {}),
        });
      return {
        async add(jobs) {
          const byQueue = new Map<string, JobSpec[]>();
          for (const j of jobs) byQueue.set(j.lane ?? "", [...(byQueue.get(j.lane ?? "") ?? []), j]);
          await Promise.all(
            [...byQueue].map(([lane, list]) => b.insert(queueName(lane || undefined), list.map((j) => ({ data: { id: j.id, t: j.t }, ...(j.high === undefined ? {} : { priority: j.high ? 10 : 1 }) })))),
          );
        },
        async close() {
          await b.stop({ graceful: false, wait: true } as never);
        },
      };
    },
    async consume({ run, concurrency, lanes, holdMs, tuned }, started, finished) {
      const b = boss(run, false);
      b.on("error", quiet);
      await b.start();
      // Batches of up to 10 fetched by concurrency/10 pollers: many small batches keep the slots busy.
      const pollers = Math.max(1, Math.round(concurrency / 10));
      for (const lane of lanes ?? [undefined])
        await b.work<{ id: string }>(
          queueName(lane),
          {
            batchSize: Math.min(concurrency, 10),
            localConcurrency: lanes === undefined ? pollers : 1,
            pollingIntervalSeconds: 0.5,
            burstWhenBatchFull: true,
            // An expired job goes back as `retry` without a NOTIFY: idle workers see it on their next
            // poll, every 30 s by default while NOTIFY is on.
            ...(tuned ? { notifyPollingIntervalSeconds: 1 } : {}),
          },
          async (jobs) => {
            for (const j of jobs) started(j.data.id);
            if (holdMs < 0) await new Promise(() => {});
            if (holdMs > 0) await sleep(holdMs);
            // pg-boss completes the batch when the handler resolves; report after that commit.
            setImmediate(() => {
              for (const j of jobs) finished(j.data.id);
            });
          },
        );
      return { close: async () => b.stop({ graceful: false, wait: true } as never) };
    },
    async accept(run) {
      const { client, table } = await tasksTable(run);
      const b = boss(run, true);
      await b.start();
      await b.createQueue("accept");
      // The caller's own transaction: pg-boss writes its job through the same client.
      const db = { executeSql: (text: string, values?: unknown[]) => client.query(text, values) };
      return {
        async acceptOne(id) {
          await client.query("BEGIN");
          await client.query(`INSERT INTO ${table} (id, state, input) VALUES ($1, 'QUEUED', '{}')`, [id]);
          await b.send("accept", { id }, { db } as never);
          await client.query("COMMIT");
        },
        async close() {
          await client.end();
          await b.stop({ graceful: false, wait: true } as never);
        },
      };
    },
    cleanup: dropSchemas,
  };
}

// ---------------------------------------------------------------------------------------------
// (d) Reference: a plain table and FOR UPDATE SKIP LOCKED, leases renewed by the holder.

function skiplocked(wakeBy: "notify" | "redis" = "notify"): Candidate {
  const table = (run: string): string => `"${schemaOf(run, "sl")}".jobs`;
  const channel = (run: string): string => `af_qc_${run}_wake`;
  const LEASE_S = 2;
  const ensure = async (client: pg.Client, run: string) => {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schemaOf(run, "sl")}"`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${table(run)} (
      seq bigserial PRIMARY KEY, id text NOT NULL UNIQUE, lane text, priority int NOT NULL DEFAULT 0,
      state smallint NOT NULL DEFAULT 0, t float8 NOT NULL, lease_until timestamptz, attempts int NOT NULL DEFAULT 0)`);
    await client.query(`CREATE INDEX IF NOT EXISTS jobs_ready ON ${table(run)} (priority DESC, seq) WHERE state = 0`);
    await client.query(`CREATE INDEX IF NOT EXISTS jobs_lane_ready ON ${table(run)} (lane, priority DESC, seq) WHERE state = 0`);
    await client.query(`CREATE INDEX IF NOT EXISTS jobs_leased ON ${table(run)} (lease_until) WHERE state = 1`);
  };
  // Wake-ups: a NOTIFY in the inserting transaction, or a Redis PUBLISH after the commit (the
  // LangGraph split: the row is the truth, the wake-up may be lost; a 250 ms poll backs it up).
  const insert = (run: string) =>
    wakeBy === "notify"
      ? `WITH ins AS (INSERT INTO ${table(run)} (id, lane, priority, t) SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::float8[]) RETURNING 1)
     SELECT pg_notify('${channel(run)}', '') FROM (SELECT count(*) FROM ins) c`
      : `INSERT INTO ${table(run)} (id, lane, priority, t) SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::float8[])`;
  return {
    defaults: "none (ours): the lease length is a column we set; expired leases are reclaimed by any node",
    tunedText: "lease 2 s renewed every 0.7 s; expired leases reclaimed every 1 s",
    async producer({ run }) {
      const client = await pgClient();
      await ensure(client, run);
      await client.end();
      // A pool, as the factory's intake would have: concurrent accepts each get a connection.
      const pool = new pg.Pool({ connectionString: PG_URL, max: 8 });
      const redis = wakeBy === "redis" ? new Redis(REDIS) : undefined;
      return {
        async add(jobs) {
          await pool.query(insert(run), [jobs.map((j) => j.id), jobs.map((j) => j.lane ?? null), jobs.map((j) => (j.high === true ? 10 : 0)), jobs.map((j) => j.t)]);
          if (redis !== undefined) await redis.publish(`af-qc-${run}:wake`, "");
        },
        async close() {
          redis?.disconnect();
          await pool.end();
        },
      };
    },
    async consume({ run, concurrency, lanes, holdMs }, started, finished) {
      const claim = await pgClient();
      const work = await pgClient();
      const listen = await pgClient();
      let wake: (() => void) | undefined;
      listen.on("notification", () => wake?.());
      const subscriber = wakeBy === "redis" ? new Redis(REDIS) : undefined;
      if (subscriber === undefined) await listen.query(`LISTEN ${channel(run)}`);
      else {
        subscriber.on("message", () => wake?.());
        await subscriber.subscribe(`af-qc-${run}:wake`);
      }
      const inFlight = new Set<number>();
      const done: number[] = [];
      const doneIds: string[] = [];
      let stopped = false;
      let slotFreed: (() => void) | undefined;
      const laneFilter = lanes === undefined ? "" : "AND lane = ANY($2)";
      const claimSql = `UPDATE ${table(run)} SET state = 1, lease_until = now() + interval '${LEASE_S} seconds', attempts = attempts + 1
        WHERE seq IN (SELECT seq FROM ${table(run)} WHERE state = 0 ${laneFilter} ORDER BY priority DESC, seq LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING seq, id, priority`;
      const loop = (async () => {
        while (!stopped) {
          const free = concurrency - inFlight.size;
          if (free <= 0) {
            await new Promise<void>((r) => (slotFreed = r));
            continue;
          }
          const woken = new Promise<void>((r) => (wake = r));
          const { rows } = await claim.query<{ seq: string; id: string; priority: number }>(claimSql, lanes === undefined ? [free] : [free, lanes]).catch(() => ({ rows: [] }));
          // RETURNING does not keep the subquery's order: start the highest priority first.
          rows.sort((a, b) => b.priority - a.priority || Number(a.seq) - Number(b.seq));
          for (const r of rows) {
            const seq = Number(r.seq);
            inFlight.add(seq);
            started(r.id);
            void (async () => {
              if (holdMs < 0) await new Promise(() => {});
              if (holdMs > 0) await sleep(holdMs);
              done.push(seq);
              doneIds.push(r.id);
            })();
          }
          if (rows.length === 0) await Promise.race([woken, sleep(250)]);
        }
      })();
      // Completions are flushed in one statement every 5 ms (an ack is a row update).
      const flush = setInterval(() => {
        if (done.length === 0) return;
        const seqs = done.splice(0);
        const ids = doneIds.splice(0);
        void work.query(`UPDATE ${table(run)} SET state = 2 WHERE seq = ANY($1)`, [seqs]).then(() => {
          for (const s of seqs) inFlight.delete(s);
          for (const id of ids) finished(id);
          slotFreed?.();
        });
      }, 5);
      const renew = setInterval(() => {
        if (inFlight.size > 0) void work.query(`UPDATE ${table(run)} SET lease_until = now() + interval '${LEASE_S} seconds' WHERE seq = ANY($1) AND state = 1`, [[...inFlight]]).catch(() => {});
      }, 700);
      const reap = setInterval(() => {
        void work.query(`UPDATE ${table(run)} SET state = 0 WHERE state = 1 AND lease_until < now()`).then((r) => (r.rowCount ?? 0) > 0 && wake?.()).catch(() => {});
      }, 1_000);
      return {
        async close() {
          stopped = true;
          clearInterval(flush);
          clearInterval(renew);
          clearInterval(reap);
          wake?.();
          slotFreed?.();
          await loop;
          subscriber?.disconnect();
          await Promise.all([claim.end(), work.end(), listen.end()]);
        },
      };
    },
    async accept(run) {
      const client = await pgClient();
      await ensure(client, run);
      const { table: tasks } = await tasksTable(run).then(async (t) => (await t.client.end(), t));
      return {
        async acceptOne(id) {
          await client.query("BEGIN");
          await client.query(`INSERT INTO ${tasks} (id, state, input) VALUES ($1, 'QUEUED', '{}')`, [id]);
          await client.query(insert(run), [[id], [null], [0], [wall()]]);
          await client.query("COMMIT");
        },
        close: () => client.end(),
      };
    },
    async cleanup(run) {
      await dropSchemas(run);
      if (wakeBy === "redis") await deleteKeys(run);
    },
  };
}

const CANDIDATES: Record<QueueCase, () => Candidate> = {
  bullmq: () => bullmq("redis"),
  "bullmq-pg": () => bullmq("pg"),
  streams,
  pgboss,
  skiplocked: () => skiplocked("notify"),
  "skiplocked-redis": () => skiplocked("redis"),
};

// ---------------------------------------------------------------------------------------------
// The consumer node (child process): consumes and reports starts and acks to the parent in batches.

type ToChild = { type: "stop" };
type FromChild = { type: "ready" } | { type: "events"; node: number; started: Array<[string, number]>; finished: Array<[string, number]> };

async function consumerMain(name: QueueCase, node: number, options: ConsumeOptions): Promise<void> {
  const candidate = CANDIDATES[name]();
  let started: Array<[string, number]> = [];
  let finished: Array<[string, number]> = [];
  const send = (m: FromChild): void => void process.send?.(m);
  const tick = setInterval(() => {
    if (started.length === 0 && finished.length === 0) return;
    send({ type: "events", node, started, finished });
    started = [];
    finished = [];
  }, 10);
  const consumer = await candidate.consume(
    options,
    (id) => started.push([id, wall()]),
    (id) => finished.push([id, wall()]),
  );
  send({ type: "ready" });
  process.on("message", (m: ToChild) => {
    if (m.type !== "stop") return;
    void consumer.close().finally(() => {
      clearInterval(tick);
      if (started.length > 0 || finished.length > 0) send({ type: "events", node, started, finished });
      process.disconnect();
      setTimeout(() => process.exit(0), 50).unref();
    });
  });
}

/** The parent's view of the consumer nodes: every start and ack, with the node and the time. */
class Nodes {
  readonly children: ChildProcess[] = [];
  readonly starts: Array<{ id: string; at: number; node: number }> = [];
  readonly finishes = new Map<string, number[]>();
  #waiters: Array<() => void> = [];

  async start(name: QueueCase, options: ConsumeOptions, count: number, laneOf?: (node: number) => string[]): Promise<void> {
    const base = this.children.length;
    await Promise.all(Array.from({ length: count }, (_, i) => this.startOne(name, { ...options, ...(laneOf === undefined ? {} : { lanes: laneOf(base + i) }) }, base + i)));
  }

  startOne(name: QueueCase, options: ConsumeOptions, node = this.children.length): Promise<ChildProcess> {
    const child = fork(fileURLToPath(import.meta.url), ["--consumer", name, "--node", String(node), "--options", JSON.stringify(options)], {
      execArgv: ["--disable-warning=ExperimentalWarning"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.children[node] = child;
    return new Promise((resolve, reject) => {
      child.on("message", (m: FromChild) => {
        if (m.type === "ready") resolve(child);
        else {
          for (const [id, at] of m.started) this.starts.push({ id, at, node: m.node });
          for (const [id, at] of m.finished) this.finishes.set(id, [...(this.finishes.get(id) ?? []), at]);
          for (const w of this.#waiters.splice(0)) w();
        }
      });
      child.once("exit", (code, signal) => reject(new Error(`consumer ${node} exited (${signal ?? code}) before it was ready`)));
      setTimeout(() => reject(new Error(`consumer ${node} not ready after 30 s`)), 30_000).unref();
    });
  }

  /** Resolves when `done()` holds, checked after each report; rejects after `timeoutMs`. */
  async until(done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error("timed out");
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((r) => {
            if (c.exitCode !== null || c.signalCode !== null) return r();
            c.once("exit", () => r());
            c.send({ type: "stop" } satisfies ToChild);
            setTimeout(() => c.kill("SIGKILL"), 5_000).unref();
          }),
      ),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Phases (in the parent: the producer).

type Figures = Record<string, number | string>;
const ms = (n: number): number => Math.round(n * 10) / 10;

async function withNodes<T>(name: QueueCase, run: string, f: (nodes: Nodes) => Promise<T>): Promise<T> {
  const nodes = new Nodes();
  try {
    return await f(nodes);
  } finally {
    await nodes.stop();
    void run;
  }
}

async function throughput(name: QueueCase, c: Candidate, run: string): Promise<Figures> {
  const total = 20_000;
  const producer = await c.producer({ run, tuned: false });
  return withNodes(name, run, async (nodes) => {
    await nodes.start(name, { run, concurrency: 50, tuned: false, holdMs: 0 }, NODES);
    const t0 = wall();
    for (let i = 0; i < total; i += 500) await producer.add(Array.from({ length: 500 }, (_, k) => ({ id: `t${i + k}`, t: wall() })));
    const enqueued = wall();
    await nodes.until(() => nodes.finishes.size >= total, 60_000);
    const elapsed = wall() - t0;
    await producer.close();
    const twice = [...nodes.finishes.values()].filter((f) => f.length > 1).length;
    const perNode = [0, 1, 2].map((n) => nodes.starts.filter((s) => s.node === n).length).join("/");
    return { "throughput.jobsPerS": Math.round((total * 1000) / elapsed), "throughput.enqueuePerS": Math.round((total * 1000) / (enqueued - t0)), "throughput.acked": nodes.finishes.size, "throughput.twice": twice, "throughput.perNode": perNode };
  });
}

async function latency(name: QueueCase, c: Candidate, run: string, rate: number): Promise<Figures> {
  const seconds = 3;
  const producer = await c.producer({ run, tuned: false });
  return withNodes(name, run, async (nodes) => {
    await nodes.start(name, { run, concurrency: 50, tuned: false, holdMs: 0 }, NODES);
    // Warm-up: connections opened, code paths compiled, before anything is timed.
    await Promise.all(Array.from({ length: 200 }, (_, k) => producer.add([{ id: `w${k}`, t: wall() }])));
    await nodes.until(() => nodes.finishes.size >= 200, 20_000);
    const sent = new Map<string, number>();
    const adds: Promise<void>[] = [];
    const t0 = wall();
    // rate/100 single-job enqueues every 10 ms, each its own call (as tasks arrive one by one).
    const perTick = Math.max(1, Math.round(rate / 100));
    for (let tick = 0; tick < 100 * seconds; tick++) {
      const due = t0 + tick * 10;
      const wait = due - wall();
      if (wait > 0) await sleep(wait);
      for (let k = 0; k < perTick; k++) {
        const id = `l${tick * perTick + k}`;
        const t = wall();
        sent.set(id, t);
        adds.push(producer.add([{ id, t }]));
      }
    }
    const loopS = (wall() - t0) / 1000;
    await Promise.all(adds);
    const offeredS = (wall() - t0) / 1000;
    if (process.env.QC_DEBUG) log(`latency loop ${loopS.toFixed(2)} s, adds done ${offeredS.toFixed(2)} s`);
    await nodes.until(() => nodes.finishes.size >= sent.size + 200, 30_000);
    await producer.close();
    const first = new Map<string, number>();
    for (const s of nodes.starts) if (!first.has(s.id)) first.set(s.id, s.at);
    const lat = summarize([...sent].map(([id, t]) => first.get(id)! - t));
    const tag = rate === 1_000 ? "latency" : `latency${rate}`;
    return { [`${tag}.offeredPerS`]: Math.round(sent.size / offeredS), [`${tag}.p50Ms`]: ms(lat.p50), [`${tag}.p99Ms`]: ms(lat.p99), [`${tag}.maxMs`]: ms(lat.max) };
  });
}

async function priority(name: QueueCase, c: Candidate, run: string): Promise<Figures> {
  const producer = await c.producer({ run, tuned: false });
  return withNodes(name, run, async (nodes) => {
    // Slow consumers (2 slots each, 2 ms per job) so a backlog stands when the high jobs arrive.
    await nodes.start(name, { run, concurrency: 2, tuned: false, holdMs: 2 }, NODES);
    for (let i = 0; i < 2_000; i += 500) await producer.add(Array.from({ length: 500 }, (_, k) => ({ id: `lo${i + k}`, t: wall(), high: false })));
    const highT = wall();
    for (let i = 0; i < 10; i++) await producer.add([{ id: `hi${i}`, t: wall(), high: true }]);
    await nodes.until(() => nodes.finishes.size >= 2_010, 60_000);
    await producer.close();
    const order = [...nodes.starts].sort((a, b) => a.at - b.at);
    const ranks = order.flatMap((s, i) => (s.id.startsWith("hi") ? [i + 1] : []));
    const lastHigh = Math.max(...order.filter((s) => s.id.startsWith("hi")).map((s) => s.at));
    const lowBefore = order.filter((s) => s.id.startsWith("lo") && s.at < highT).length;
    return {
      "priority.backlogWhenHighAdded": 2_000 - lowBefore,
      "priority.highStartRankMedian": ranks[Math.floor(ranks.length / 2)] ?? Number.NaN,
      "priority.highStartRankMax": Math.max(...ranks),
      // Low jobs that started after the first high one was enqueued and before the last high one started.
      "priority.lowOvertaking": order.filter((s) => s.id.startsWith("lo") && s.at > highT && s.at < lastHigh).length,
    };
  });
}

async function lanes(name: QueueCase, c: Candidate, run: string): Promise<Figures> {
  const laneIds = Array.from({ length: LANES }, (_, i) => `L${i}`);
  const homeLanes = (node: number): string[] => laneIds.filter((_, i) => i % NODES === node);
  const setupStart = wall();
  const producer = await c.producer({ run, lanes: laneIds, tuned: false });
  const producerSetupMs = wall() - setupStart;
  const redis = new Redis(REDIS);
  const clients = async (): Promise<number> => Number(/connected_clients:(\d+)/.exec(await redis.info("clients"))?.[1]);
  const pgConns = async (): Promise<number> => {
    const client = await pgClient();
    const { rows } = await client.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = 'test'");
    await client.end();
    return Number(rows[0]!.n);
  };
  const before = { redis: await clients(), pg: await pgConns() };
  return withNodes(name, run, async (nodes) => {
    const t0 = wall();
    await nodes.start(name, { run, concurrency: 50, tuned: false, holdMs: 0 }, NODES, homeLanes);
    const nodesReadyMs = wall() - t0;
    const conns = { redis: (await clients()) - before.redis, pg: (await pgConns()) - before.pg };
    // Idle cost: CPU the 3 nodes burn in 2 s with 1,000 empty lanes.
    const cpu0 = cpuOf(nodes);
    await sleep(2_000);
    const idleCpuPct = ((cpuOf(nodes) - cpu0) / 2_000) * 100;
    const total = 3_000;
    const t1 = wall();
    for (let i = 0; i < total; i += 500) await producer.add(Array.from({ length: 500 }, (_, k) => ({ id: `n${i + k}`, t: wall(), lane: laneIds[(i + k) % LANES]! })));
    await nodes.until(() => nodes.finishes.size >= total, 60_000);
    const elapsed = wall() - t1;
    await producer.close();
    redis.disconnect();
    const first = new Map<string, number>();
    for (const s of nodes.starts) if (!first.has(s.id)) first.set(s.id, s.at);
    // Every job must start on its lane's home node (the agent's own node).
    const wrongNode = nodes.starts.filter((s) => Number(s.id.slice(1)) % LANES % NODES !== s.node).length;
    return {
      "lanes.setupMs": ms(producerSetupMs),
      "lanes.nodesReadyMs": ms(nodesReadyMs),
      "lanes.redisConnections": conns.redis,
      "lanes.pgConnections": conns.pg,
      "lanes.idleCpuPct": ms(idleCpuPct),
      "lanes.jobsPerS": Math.round((total * 1000) / elapsed),
      "lanes.wrongNode": wrongNode,
    };
  });
}

/** CPU milliseconds used so far by the consumer processes (from /proc: utime + stime). */
function cpuOf(nodes: Nodes): number {
  const tick = 10; // USER_HZ is 100 on Linux
  let total = 0;
  for (const c of nodes.children) {
    try {
      const stat = readFileSync(`/proc/${c.pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += (Number(fields[11]) + Number(fields[12])) * tick;
    } catch {
      // exited
    }
  }
  return total;
}

async function crash(name: QueueCase, c: Candidate, run: string, tuned: boolean, heartbeat = false): Promise<Figures> {
  const tag = heartbeat ? "crashHeartbeat" : tuned ? "crash" : "crashDefault";
  const producer = await c.producer({ run, tuned, heartbeat });
  return withNodes(name, run, async (nodes) => {
    // The victim alone first, so that it (and only it) holds the first 50 jobs.
    const victim = await nodes.startOne(name, { run, concurrency: 50, tuned, holdMs: -1 }, 0);
    const held = Array.from({ length: 50 }, (_, i) => ({ id: `c${i}`, t: wall() }));
    await producer.add(held);
    await nodes.until(() => nodes.starts.filter((s) => s.node === 0).length >= 50, 15_000);
    await Promise.all([1, 2].map((n) => nodes.startOne(name, { run, concurrency: 50, tuned, holdMs: 5 }, n)));
    const killedAt = wall();
    victim.kill("SIGKILL");
    // Load goes on while the survivors recover the victim's jobs.
    const more = Array.from({ length: 200 }, (_, i) => ({ id: `d${i}`, t: wall() }));
    for (let i = 0; i < more.length; i += 20) {
      await producer.add(more.slice(i, i + 20));
      await sleep(20);
    }
    const all = [...held, ...more].map((j) => j.id);
    const limit = tuned ? 20_000 : 75_000;
    const timedOut = await nodes.until(() => all.every((id) => nodes.finishes.has(id)), limit).then(
      () => false,
      () => true,
    );
    const redelivered = held.map((j) => nodes.starts.find((s) => s.id === j.id && s.node !== 0)?.at ?? Number.NaN).filter((x) => !Number.isNaN(x));
    // Processed twice: a job started by more than one live node, or acked more than once.
    const survivorStarts = new Map<string, number>();
    for (const s of nodes.starts) if (s.node !== 0) survivorStarts.set(s.id, (survivorStarts.get(s.id) ?? 0) + 1);
    const twice = all.filter((id) => (survivorStarts.get(id) ?? 0) > 1 || (nodes.finishes.get(id)?.length ?? 0) > 1).length;
    const lost = all.filter((id) => !nodes.finishes.has(id)).length;
    await producer.close();
    const first = redelivered.length === 0 ? Number.NaN : Math.min(...redelivered) - killedAt;
    const last = redelivered.length < held.length ? Number.NaN : Math.max(...redelivered) - killedAt;
    return {
      [`${tag}.firstRedeliveryMs`]: ms(first),
      [`${tag}.allRedeliveredMs`]: timedOut && Number.isNaN(last) ? `> ${limit / 1000} s` : ms(last),
      [`${tag}.redelivered`]: redelivered.length,
      [`${tag}.processedTwice`]: twice,
      [`${tag}.lost`]: lost,
    };
  });
}

async function accept(c: Candidate, run: string): Promise<Figures> {
  if (c.accept === undefined) return {};
  const a = await c.accept(run);
  const samples: number[] = [];
  // Baseline: the PostgreSQL insert alone (the durable record the factory keeps in any case).
  const { client, table } = await tasksTable(run);
  const base: number[] = [];
  try {
    for (let i = 0; i < 1_000; i++) {
      const t = wall();
      await client.query(`INSERT INTO ${table} (id, state, input) VALUES ($1, 'QUEUED', '{}')`, [`b${i}`]);
      base.push(wall() - t);
      const t2 = wall();
      await a.acceptOne(`a${i}`);
      samples.push(wall() - t2);
    }
  } finally {
    await client.end();
    await a.close();
  }
  const s: Summary = summarize(samples);
  const b = summarize(base);
  return { "accept.p50Ms": ms(s.p50 * 1000) / 1000, "accept.p99Ms": ms(s.p99 * 1000) / 1000, "accept.pgOnlyP50Ms": ms(b.p50 * 1000) / 1000, "accept.perS": Math.round(1000 / s.mean) };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      case: { type: "string" },
      only: { type: "string" },
      "crash-defaults": { type: "boolean", default: false },
      rate: { type: "string", default: "1000" },
      heartbeat: { type: "boolean", default: false },
      consumer: { type: "string" },
      node: { type: "string" },
      options: { type: "string" },
    },
  });
  if (values.consumer !== undefined) return consumerMain(values.consumer as QueueCase, Number(values.node), JSON.parse(values.options!) as ConsumeOptions);
  const name = values.case as QueueCase;
  if (!QUEUE_CASES.includes(name)) {
    process.stderr.write(`usage: npx node bench/queue-choice.ts --case ${QUEUE_CASES.join("|")} [--only ${PHASES.join(",")}] [--crash-defaults]\n`);
    process.exit(2);
  }
  const phases = (values.only?.split(",") ?? PHASES) as Phase[];
  const c = CANDIDATES[name]();
  const figures: Figures = { defaults: c.defaults, tuned: c.tunedText };
  const timings: Record<string, number> = {};
  for (const phase of phases) {
    const run = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}${phase.slice(0, 2)}`;
    const t = wall();
    process.stderr.write(`▶ ${name} ${phase}\n`);
    try {
      if (phase === "throughput") Object.assign(figures, await throughput(name, c, run));
      if (phase === "latency") Object.assign(figures, await latency(name, c, run, Number(values.rate)));
      if (phase === "priority") Object.assign(figures, await priority(name, c, run));
      if (phase === "lanes") Object.assign(figures, await lanes(name, c, run));
      if (phase === "crash") {
        Object.assign(figures, await crash(name, c, run, true));
        if (values.heartbeat && name === "pgboss") {
          await c.cleanup(run);
          Object.assign(figures, await crash(name, c, `${run}h`, true, true));
          await c.cleanup(`${run}h`);
        }
        if (values["crash-defaults"]) {
          await c.cleanup(run);
          Object.assign(figures, await crash(name, c, `${run}d`, false));
          await c.cleanup(`${run}d`);
        }
      }
      if (phase === "accept") Object.assign(figures, await accept(c, run));
    } catch (e) {
      figures[`${phase}.error`] = (e as Error).message;
      log(`${phase} failed: ${(e as Error).message}`);
    } finally {
      await c.cleanup(run);
      timings[phase] = Math.round(wall() - t);
    }
  }
  for (const [k, v] of Object.entries(figures)) process.stdout.write(`${k.padEnd(34)} ${typeof v === "number" ? formatNumber(v, Number.isInteger(v) ? 0 : 1) : v}\n`);
  const previous: { cases?: Record<string, unknown> } = await readFile(RESULTS, "utf8").then(
    (t) => JSON.parse(t) as { cases?: Record<string, unknown> },
    () => ({}),
  );
  const cases = previous.cases ?? {};
  const cpus = os.cpus();
  const versions = Object.fromEntries(
    await Promise.all(["bullmq", "ioredis", "pg", "pg-boss"].map(async (p) => [p, (JSON.parse(await readFile(join(here, "..", "node_modules", p, "package.json"), "utf8")) as { version: string }).version])),
  ) as Record<string, string>;
  const old = (cases[name] ?? {}) as { figures?: Figures; phaseMs?: Record<string, number>; commands?: string[] };
  const command = `npx node bench/queue-choice.ts --case ${name}${values.only === undefined ? "" : ` --only ${values.only}`}${values["crash-defaults"] ? " --crash-defaults" : ""}${values.heartbeat ? " --heartbeat" : ""}${values.rate === "1000" ? "" : ` --rate ${values.rate}`}`;
  // A run of some phases updates those figures and keeps the others from earlier runs (less the
  // errors of the phases that ran again).
  const rerun = new Set(phases.map((p) => `${p}.error`));
  const fresh = (f: Figures): Figures => Object.fromEntries(Object.entries(f).filter(([k]) => !rerun.has(k)));
  cases[name] = {
    date: new Date().toISOString(),
    commands: [...new Set([...(old.commands ?? []), command])],
    phaseMs: { ...old.phaseMs, ...timings },
    figures: { ...fresh(old.figures ?? {}), ...figures },
  };
  const report = {
    suite: "queue-choice",
    machine: { cpu: cpus[0]?.model.trim(), cores: cpus.length, node: process.version, os: `${os.type()} ${os.release()}` },
    versions,
    cases: { ...cases },
  };
  await mkdir(dirname(RESULTS), { recursive: true });
  await writeFile(RESULTS, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`results: ${RESULTS}\n`);
}

await main();
