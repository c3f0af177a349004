/**
 * Store benchmarks (issue 13): `Store.apply` throughput of batches of 100 task writes, as the
 * journal sends them (one batch at a time per store), on the embedded SQLite file and on the
 * local PostgreSQL. The first half of the batches insert new tasks, the second half update them
 * (a state change). (Two stores on one schema are refused since the schema lock: one writing
 * factory per schema until event and ledger numbers come from PostgreSQL.)
 *
 *   node bench/store.ts --case sqlite|postgres [--quick] [--batches N]
 *
 * PostgreSQL: AGENT_FACTORY_BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test;
 * the bench works in a schema of its own (af_bench_<random>) and drops it afterwards.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { createPostgresStore } from "../src/adapters/store/postgres/postgres-store.ts";
import { createSqliteStore } from "../src/adapters/store/sqlite/sqlite-store.ts";
import type { Store, StoreWrite } from "../src/core/ports/store.ts";
import type { Task } from "../src/core/task.ts";
import { withTempDir } from "./spawn.ts";
import { check, metric, perSecond, summarize, type Metric } from "./stats.ts";

export const STORE_CASE_NAMES = ["sqlite", "postgres"] as const;
export type StoreCaseName = (typeof STORE_CASE_NAMES)[number];

const BATCH = 100;
const PG_URL = process.env.AGENT_FACTORY_BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const now = (): number => performance.now();

function task(id: string, state: Task["state"]): Task {
  const at = new Date().toISOString();
  return {
    id,
    state,
    input: { prompt: "review the diff", files: ["src/a.ts", "src/b.ts"] },
    role: "Coder",
    profile: null,
    capabilities: ["ts"],
    crewId: null,
    priority: 5,
    timeoutMs: null,
    maxAttempts: 3,
    attempts: state === "QUEUED" ? 0 : 1,
    retryBackoffMs: 200,
    retryAt: null,
    redrives: 0,
    traceId: null,
    affinityKey: null,
    idempotencyKey: null,
    balancer: null,
    targetAgentId: null,
    agentId: null,
    createdAt: at,
    startedAt: null,
    finishedAt: null,
    updatedAt: at,
  };
}

/** `batches` applies, one after another: inserts of new tasks, then updates of the same tasks. Returns each apply's ms. */
async function drive(store: Store, node: string, batches: number): Promise<number[]> {
  const ms: number[] = [];
  const half = Math.ceil(batches / 2);
  for (let b = 0; b < batches; b++) {
    const insert = b < half;
    const round = insert ? b : b - half;
    const writes: StoreWrite[] = Array.from({ length: BATCH }, (_, i) => ({ kind: "task", value: task(`${node}-${round}-${i}`, insert ? "QUEUED" : "RUNNING") }));
    const t0 = now();
    await store.apply(writes);
    ms.push(now() - t0);
  }
  return ms;
}

async function withSchema<T>(fn: (schema: string) => Promise<T>): Promise<T> {
  const schema = `af_bench_${randomBytes(6).toString("hex")}`;
  try {
    return await fn(schema);
  } finally {
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`drop schema if exists ${schema} cascade`);
    await admin.end();
  }
}

export async function runStoreCase(name: StoreCaseName, { quick, batches: given }: { quick: boolean; batches?: number }): Promise<{ name: string; title: string; metrics: Metric[]; details: Record<string, unknown>; durationMs: number }> {
  const batches = given ?? (quick ? 200 : 1_000);
  const started = now();
  const run = async (store: Store): Promise<{ metrics: Metric[]; details: Record<string, unknown> }> => {
    const t0 = now();
    const all = await drive(store, "n0", batches);
    const wallMs = now() - t0;
    const latency = summarize(all);
    const rows = (await store.listTasks({ limit: 10_000_000 })).length;
    const expected = Math.ceil(batches / 2) * BATCH;
    return {
      metrics: [
        metric(`store.${name}.batches_per_s`, `apply() of ${BATCH} task writes, one at a time: batches/s`, perSecond(all.length, wallMs), "batches/s"),
        metric(`store.${name}.writes_per_s`, "task writes/s", perSecond(all.length * BATCH, wallMs), "writes/s"),
        metric(`store.${name}.apply_p50`, "one apply(), p50", latency.p50, "ms"),
        metric(`store.${name}.apply_p99`, "one apply(), p99", latency.p99, "ms"),
        check(`store.${name}.rows`, "tasks stored", rows, expected),
      ],
      details: { batches, batchSize: BATCH, wallMs, latency },
    };
  };
  let out: { metrics: Metric[]; details: Record<string, unknown> };
  if (name === "sqlite") {
    out = await withTempDir(async (dir) => {
      const store = await createSqliteStore({ filename: join(dir, "factory.db") });
      try {
        return await run(store);
      } finally {
        await store.close();
      }
    });
  } else {
    out = await withSchema(async (schema) => {
      const store = await createPostgresStore({ url: PG_URL, schema });
      try {
        return await run(store);
      } finally {
        await store.close();
      }
    });
  }
  const title = name === "sqlite" ? "Store apply: SQLite (WAL file)" : "Store apply: PostgreSQL (local)";
  return { name, title, ...out, durationMs: now() - started };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { case: { type: "string" }, quick: { type: "boolean", default: false }, batches: { type: "string" } } });
  if (!STORE_CASE_NAMES.includes(values.case as StoreCaseName)) {
    process.stderr.write(`usage: node bench/store.ts --case ${STORE_CASE_NAMES.join("|")} [--quick] [--batches N]\n`);
    process.exit(2);
  }
  const result = await runStoreCase(values.case as StoreCaseName, { quick: values.quick, ...(values.batches === undefined ? {} : { batches: Number(values.batches) }) });
  if (process.send !== undefined) process.send(result, undefined, {}, () => process.disconnect());
  else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
