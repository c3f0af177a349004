/**
 * Spawn and crew-assembly benchmarks. Every measurement runs against a real SQLite file in a
 * fresh temp dir (the default embedded store, not `:memory:`), after a warm-up in a throwaway
 * factory, and closes what it opens.
 *
 * One case per process, so each starts from a clean heap (`--expose-gc` lets it collect before
 * reading memory): `bench/run.ts` forks them and collects the results over IPC. Run one alone
 * (it prints its result as JSON):
 *
 *   node --expose-gc bench/spawn.ts --case sequential|concurrent|crew|http [--agents 10000] [--quick]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { setImmediate as nextTurn } from "node:timers/promises";
import { parseArgs } from "node:util";
import { createFactory, type Agent, type CrewManifestInput, type Factory, type ProfileInput } from "../src/index.ts";
import { startServer } from "../src/api/server.ts";
import { createSqliteStore } from "../src/adapters/store/sqlite/sqlite-store.ts";
import type { Store } from "../src/core/ports/store.ts";
import { check, metric, MiB, perSecond, summarize, type Claim, type Metric } from "./stats.ts";

/** The figures the seeds state (shared/seeds/*). */
export const CLAIMS = {
  spawnLatency: { text: "< 5 ms per spawn", source: "seed 000", kind: "max", limit: 5 },
  spawnRate: { text: "1,000 spawns/s", source: "seed 002", kind: "min", limit: 1_000 },
  crewOfThree: { text: "crew of 3 in < 10 s", source: "seed 001", kind: "max", limit: 10_000 },
  scaleUp: { text: "1,000 agents in < 5 s", source: "seed 002", kind: "max", limit: 5_000 },
} as const satisfies Record<string, Claim>;

export const CASE_NAMES = ["sequential", "concurrent", "crew", "http"] as const;
export type CaseName = (typeof CASE_NAMES)[number];

export interface CaseOptions {
  quick: boolean;
  /** Agents of the concurrent case; default 10,000. */
  agents?: number;
}

export interface CaseResult {
  name: CaseName;
  title: string;
  metrics: Metric[];
  /** Raw figures behind the metrics (latency summaries, store counts, memory). */
  details: Record<string, unknown>;
  durationMs: number;
  gcExposed: boolean;
}

const WORKER = {
  name: "bench-worker",
  role: "Worker",
  capabilities: ["bench"],
  runtime: { kind: "function", handler: "echo" },
} satisfies ProfileInput;

const BY_NAME = { profile: WORKER.name };

const CREW_PROFILES: ProfileInput[] = [
  { name: "planner", role: "Planner", capabilities: ["planning"], runtime: { kind: "function", handler: "echo" } },
  { name: "coder", role: "Coder", capabilities: ["typescript"], cognitiveLoadLimit: 2, runtime: { kind: "function", handler: "echo" } },
  { name: "reviewer", role: "Reviewer", capabilities: ["review"], runtime: { kind: "function", handler: "echo" } },
];

const TRIO: CrewManifestInput = { name: "bench-trio", members: [{ profile: "planner" }, { profile: "coder" }, { profile: "reviewer" }] };

const THOUSAND: CrewManifestInput = {
  name: "bench-thousand",
  members: [
    { profile: "planner", count: 100 },
    { profile: "coder", count: 800 },
    { profile: "reviewer", count: 100 },
  ],
};

const now = (): number => performance.now();
const gc = (globalThis as { gc?: () => void }).gc;
const log = (message: string): void => void process.stderr.write(`  · ${message}\n`);

// ------------------------------------------------------------------ helpers

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "agent-factory-bench-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A factory on a fresh SQLite file; closed (idempotently) and deleted afterwards. The store is
 * handed in too: the factory holds its file exclusively, so rows are counted through it.
 */
async function withFactory<T>(fn: (factory: Factory, dir: string, store: Store) => Promise<T>): Promise<T> {
  return withTempDir(async (dir) => {
    const store = await createSqliteStore({ filename: join(dir, "factory.db") });
    const factory = await createFactory({ dataDir: dir, store });
    try {
      return await fn(factory, dir, store);
    } finally {
      await factory.close();
    }
  });
}

/**
 * Waits until every write made so far is in the store: `getWallet` commits the journal
 * (write-behind) before it reads.
 */
async function untilDurable(factory: Factory, walletAddress: string): Promise<void> {
  await factory.getWallet(walletAddress);
}

interface StoreCounts {
  agents: number;
  /** Agents whose wallet row exists. */
  agentsWithWallet: number;
  crews: number;
  activeCrews: number;
  events: number;
}

/** Counts rows in the factory's SQLite file through a second, read-only connection. */
function storeCounts(dir: string): StoreCounts {
  const db = new DatabaseSync(join(dir, "factory.db"), { readOnly: true });
  try {
    const count = (sql: string): number => Number((db.prepare(sql).get() as { n: number | bigint }).n);
    return {
      agents: count("select count(*) as n from agents"),
      agentsWithWallet: count(
        "select count(*) as n from agents a join wallets w on w.address = json_extract(a.data, '$.walletAddress') and w.owner_id = a.id",
      ),
      crews: count("select count(*) as n from crews"),
      activeCrews: count("select count(*) as n from crews where state = 'ACTIVE'"),
      events: count("select count(*) as n from events"),
    };
  } finally {
    db.close();
  }
}

export interface MemorySample {
  rss: number;
  heapUsed: number;
}

export function memory(): MemorySample {
  gc?.();
  gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

interface LoopResult {
  latencies: Float64Array;
  totalMs: number;
  last: Agent;
}

/** `n` spawns, each awaited before the next; `durableEach` also waits for its store write. */
async function spawnLoop(factory: Factory, n: number, request: Parameters<Factory["spawnAgent"]>[0], durableEach = false): Promise<LoopResult> {
  const latencies = new Float64Array(n);
  let last: Agent | undefined;
  const start = now();
  for (let i = 0; i < n; i++) {
    const t = now();
    last = await factory.spawnAgent(request);
    if (durableEach) await untilDurable(factory, last.walletAddress);
    latencies[i] = now() - t;
  }
  const totalMs = now() - start;
  if (last === undefined) throw new Error("spawnLoop needs n > 0");
  return { latencies, totalMs, last };
}

// ------------------------------------------------------------------ (a) sequential spawn

async function sequential({ quick }: CaseOptions): Promise<Omit<CaseResult, "name" | "durationMs" | "gcExposed">> {
  const n = quick ? 2_000 : 10_000;
  const nInline = quick ? 1_000 : 5_000;
  const nDurable = quick ? 500 : 2_000;
  const warm = quick ? 500 : 2_000;

  log(`sequential: warm-up (${warm} spawns of each kind)`);
  await withFactory(async (factory) => {
    factory.registerProfile(WORKER);
    await spawnLoop(factory, warm, BY_NAME);
    await spawnLoop(factory, warm, { config: WORKER });
    const { last } = await spawnLoop(factory, warm / 4, BY_NAME, true);
    await untilDurable(factory, last.walletAddress);
  });

  log(`sequential: ${n} spawns by profile name, each awaited`);
  const byName = await withFactory(async (factory, _dir, store) => {
    factory.registerProfile(WORKER);
    const loop = await spawnLoop(factory, n, BY_NAME);
    // Nothing has yielded to the event loop yet (the read settles in microtasks), so the journal has not flushed.
    const rowsRightAfterLoop = (await store.listAgents({})).length;
    const t = now();
    await untilDurable(factory, loop.last.walletAddress);
    const commitMs = now() - t;
    return { loop, commitMs, rowsRightAfterLoop, rowsAfterCommit: (await store.listAgents({})).length };
  });

  log(`sequential: ${nInline} spawns with an inline config`);
  const inline = await withFactory(async (factory) => spawnLoop(factory, nInline, { config: WORKER }));

  log(`sequential: ${nDurable} spawns, each awaited until durable`);
  const durable = await withFactory(async (factory) => {
    factory.registerProfile(WORKER);
    return spawnLoop(factory, nDurable, BY_NAME, true);
  });

  const byNameLatency = summarize(byName.loop.latencies);
  const inlineLatency = summarize(inline.latencies);
  const durableLatency = summarize(durable.latencies);
  return {
    title: "Sequential spawn, library (function agents, SQLite file)",
    metrics: [
      metric("sequential.rate", `spawn by profile name, ${n.toLocaleString("en-US")} in a row`, perSecond(n, byName.loop.totalMs), "agents/s", CLAIMS.spawnRate),
      metric("sequential.p50", "  per-spawn latency p50 (to READY)", byNameLatency.p50, "ms", CLAIMS.spawnLatency),
      metric("sequential.p99", "  per-spawn latency p99 (to READY)", byNameLatency.p99, "ms", CLAIMS.spawnLatency),
      metric("sequential.commit", "  then the one store commit of all of them", byName.commitMs, "ms"),
      metric(
        "sequential.rateWithCommit",
        "  throughput counting that commit",
        perSecond(n, byName.loop.totalMs + byName.commitMs),
        "agents/s",
        CLAIMS.spawnRate,
      ),
      metric("sequential.inline.rate", `spawn with inline config, ${nInline.toLocaleString("en-US")} in a row`, perSecond(nInline, inline.totalMs), "agents/s", CLAIMS.spawnRate),
      metric("sequential.inline.p99", "  per-spawn latency p99", inlineLatency.p99, "ms", CLAIMS.spawnLatency),
      metric("sequential.durable.rate", `spawn + wait until durable, ${nDurable.toLocaleString("en-US")} in a row`, perSecond(nDurable, durable.totalMs), "agents/s", CLAIMS.spawnRate),
      metric("sequential.durable.p50", "  per-spawn latency p50 (to stored)", durableLatency.p50, "ms", CLAIMS.spawnLatency),
      metric("sequential.durable.p99", "  per-spawn latency p99 (to stored)", durableLatency.p99, "ms", CLAIMS.spawnLatency),
    ],
    details: {
      byName: {
        agents: n,
        loopMs: byName.loop.totalMs,
        latencyMs: byNameLatency,
        commitMs: byName.commitMs,
        agentRowsRightAfterLoop: byName.rowsRightAfterLoop,
        agentRowsAfterCommit: byName.rowsAfterCommit,
      },
      inlineConfig: { agents: nInline, loopMs: inline.totalMs, latencyMs: inlineLatency },
      durableEach: { agents: nDurable, loopMs: durable.totalMs, latencyMs: durableLatency },
      warmUpSpawns: warm,
    },
  };
}

// ------------------------------------------------------------------ (b) concurrent spawn

async function concurrent({ quick, agents }: CaseOptions): Promise<Omit<CaseResult, "name" | "durationMs" | "gcExposed">> {
  const n = agents ?? 10_000;
  const batch = 1_000;
  const label = n.toLocaleString("en-US");

  const spawnBatches = async (factory: Factory, count: number): Promise<{ last: Agent; batchMs: number[] }> => {
    let last: Agent | undefined;
    const batchMs: number[] = [];
    for (let done = 0; done < count; done += batch) {
      const size = Math.min(batch, count - done);
      const t = now();
      const spawned = await Promise.all(Array.from({ length: size }, () => factory.spawnAgent(BY_NAME)));
      batchMs.push(now() - t);
      last = spawned[spawned.length - 1];
    }
    if (last === undefined) throw new Error("spawnBatches needs count > 0");
    return { last, batchMs };
  };

  const warm = quick ? 2_000 : 5_000;
  log(`concurrent: warm-up (${warm} agents)`);
  await withFactory(async (factory) => {
    factory.registerProfile(WORKER);
    const { last } = await spawnBatches(factory, warm);
    await untilDurable(factory, last.walletAddress);
  });

  log(`concurrent: ${label} agents, Promise.all in batches of ${batch}`);
  return withTempDir(async (dir) => {
    const factory = await createFactory({ dataDir: dir });
    let spawned: { last: Agent; batchMs: number[] };
    let readyMs: number;
    let durableMs: number;
    let before: MemorySample;
    let after: MemorySample;
    let liveBeforeClose: number;
    let closeMs: number;
    try {
      factory.registerProfile(WORKER);
      before = memory();
      const start = now();
      spawned = await spawnBatches(factory, n);
      readyMs = now() - start;
      await untilDurable(factory, spawned.last.walletAddress);
      durableMs = now() - start;
      after = memory();
      liveBeforeClose = (await factory.listAgents({ limit: 1e6 })).length;
      const t = now();
      await factory.close();
      closeMs = now() - t;
    } finally {
      await factory.close();
    }

    log(`concurrent: reopening the store and counting`);
    const t = now();
    const reopened = await createFactory({ dataDir: dir });
    let restored: Agent[];
    let reopenMs: number;
    try {
      reopenMs = now() - t;
      restored = await reopened.listAgents({ limit: 1e6 });
    } finally {
      await reopened.close();
    }
    const counts = storeCounts(dir);
    const restoredReady = restored.filter((a) => a.state === "READY").length;
    const rssDelta = after.rss - before.rss;
    const heapDelta = after.heapUsed - before.heapUsed;

    return {
      title: `Concurrent spawn, library: ${label} agents`,
      metrics: [
        metric(`concurrent.${n}.readyRate`, `${label} agents, batches of ${batch.toLocaleString("en-US")}: to READY`, perSecond(n, readyMs), "agents/s", CLAIMS.spawnRate),
        metric(`concurrent.${n}.durableRate`, "  to READY and stored (journal committed)", perSecond(n, durableMs), "agents/s", CLAIMS.spawnRate),
        metric(`concurrent.${n}.batchP99`, `  one batch of ${batch.toLocaleString("en-US")} to READY, p99`, summarize(spawned.batchMs).p99, "ms", CLAIMS.scaleUp),
        check(`concurrent.${n}.listed`, "  listAgents after close + reopen", restored.length, n, "agents"),
        check(`concurrent.${n}.stored`, "  store rows: agent with its wallet", counts.agentsWithWallet, n, "rows"),
        metric(`concurrent.${n}.reopenMs`, "  reopen: createFactory restoring them all", reopenMs, "ms"),
        metric(`concurrent.${n}.rssPer10k`, `  RSS growth per 10,000 agents${gc === undefined ? " (no gc)" : ""}`, (rssDelta / MiB) * (10_000 / n), "MiB"),
        metric(`concurrent.${n}.heapPerAgent`, "  JS heap per live agent", heapDelta / n, "bytes"),
      ],
      details: {
        agents: n,
        batchSize: batch,
        readyMs,
        durableMs,
        commitMs: durableMs - readyMs,
        batchMs: summarize(spawned.batchMs),
        liveBeforeClose,
        closeMs,
        reopenMs,
        listedAfterReopen: restored.length,
        readyAfterReopen: restoredReady,
        store: counts,
        memory: { before, after, rssDeltaBytes: rssDelta, heapDeltaBytes: heapDelta, gcExposed: gc !== undefined },
        warmUpAgents: warm,
      },
    };
  });
}

// ------------------------------------------------------------------ (c) crew assembly

async function crew({ quick }: CaseOptions): Promise<Omit<CaseResult, "name" | "durationMs" | "gcExposed">> {
  const nTrio = quick ? 50 : 200;
  const nThousand = quick ? 1 : 3;
  const register = (factory: Factory): void => {
    for (const profile of CREW_PROFILES) factory.registerProfile(profile);
  };

  log("crew: warm-up (50 crews of 3, one of 1,000)");
  await withFactory(async (factory) => {
    register(factory);
    for (let i = 0; i < 50; i++) {
      await factory.assembleCrew(TRIO);
      await nextTurn();
    }
    const { crew: big } = await factory.assembleCrew(THOUSAND);
    await untilDurable(factory, big.walletAddress);
  });

  log(`crew: ${nTrio} crews of 3, then ${nThousand} of 1,000`);
  return withFactory(async (factory, dir) => {
    register(factory);
    const trio = new Float64Array(nTrio);
    for (let i = 0; i < nTrio; i++) {
      const t = now();
      await factory.assembleCrew(TRIO);
      trio[i] = now() - t;
      // A turn between assemblies, as a server has: the journal writes the last crew.
      await nextTurn();
    }
    const toActive: number[] = [];
    const toStored: number[] = [];
    for (let i = 0; i < nThousand; i++) {
      const t = now();
      const { crew: big, agents } = await factory.assembleCrew(THOUSAND);
      toActive.push(now() - t);
      await untilDurable(factory, big.walletAddress);
      toStored.push(now() - t);
      if (big.state !== "ACTIVE" || agents.length !== 1_000) throw new Error(`crew of 1,000 came back ${big.state} with ${agents.length} agents`);
    }
    await factory.close();
    const counts = storeCounts(dir);
    const trioLatency = summarize(trio);
    const thousandActive = summarize(toActive);
    const thousandStored = summarize(toStored);
    const expectedAgents = nTrio * 3 + nThousand * 1_000;
    return {
      title: "Crew assembly, library",
      metrics: [
        metric("crew.3.p50", `crew of 3 to ACTIVE, p50 of ${nTrio}`, trioLatency.p50, "ms", CLAIMS.crewOfThree),
        metric("crew.3.p99", `crew of 3 to ACTIVE, p99 of ${nTrio}`, trioLatency.p99, "ms", CLAIMS.crewOfThree),
        metric("crew.1000.active", `crew of 1,000 to ACTIVE${nThousand > 1 ? `, median of ${nThousand}` : ""}`, thousandActive.p50, "ms", CLAIMS.scaleUp),
        metric("crew.1000.stored", "  to ACTIVE and stored", thousandStored.p50, "ms", CLAIMS.scaleUp),
        check("crew.stored.crews", "  store rows: ACTIVE crews", counts.activeCrews, nTrio + nThousand, "crews"),
        check("crew.stored.agents", "  store rows: agents with their wallet", counts.agentsWithWallet, expectedAgents, "rows"),
      ],
      details: {
        crewsOfThree: { count: nTrio, latencyMs: trioLatency },
        crewsOfThousand: { count: nThousand, toActiveMs: toActive, toStoredMs: toStored },
        store: counts,
      },
    };
  });
}

// ------------------------------------------------------------------ (d) spawn over HTTP

async function http({ quick }: CaseOptions): Promise<Omit<CaseResult, "name" | "durationMs" | "gcExposed">> {
  const nSequential = quick ? 500 : 2_000;
  const nConcurrent = quick ? 1_000 : 5_000;
  const clients = 16;
  const warm = quick ? 300 : 1_000;

  return withFactory(async (factory, dir) => {
    factory.registerProfile(WORKER);
    const server = await startServer(factory, { port: 0, host: "127.0.0.1" });
    const url = `${server.url}/v1/agents`;
    const body = JSON.stringify(BY_NAME);
    let created = 0;
    let failed = 0;

    /** One POST /v1/agents; returns its latency. */
    const spawnOne = async (): Promise<number> => {
      const t = now();
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
      const agent = (await res.json()) as Partial<Agent>;
      const ms = now() - t;
      if (res.status === 201 && agent.state === "READY") created++;
      else failed++;
      return ms;
    };
    const runClients = async (count: number, total: number): Promise<{ latencies: number[]; totalMs: number }> => {
      const latencies: number[] = [];
      let issued = 0;
      const client = async (): Promise<void> => {
        while (issued < total) {
          issued++;
          latencies.push(await spawnOne());
        }
      };
      const start = now();
      await Promise.all(Array.from({ length: count }, client));
      return { latencies, totalMs: now() - start };
    };

    let seq: { latencies: number[]; totalMs: number };
    let conc: { latencies: number[]; totalMs: number };
    try {
      log(`http: warm-up (${warm} requests, 1 and ${clients} clients)`);
      await runClients(1, warm / 2);
      await runClients(clients, warm / 2);
      log(`http: ${nSequential} POST /v1/agents from 1 client`);
      seq = await runClients(1, nSequential);
      log(`http: ${nConcurrent} POST /v1/agents from ${clients} clients`);
      conc = await runClients(clients, nConcurrent);
    } finally {
      // Closes the factory too, which drains the journal.
      await server.close();
    }
    const counts = storeCounts(dir);
    const seqLatency = summarize(seq.latencies);
    const concLatency = summarize(conc.latencies);
    return {
      title: "Spawn over HTTP (server in-process on 127.0.0.1, fetch clients in the same process)",
      metrics: [
        metric("http.1.rate", `POST /v1/agents, 1 client, ${nSequential.toLocaleString("en-US")} requests`, perSecond(nSequential, seq.totalMs), "agents/s", CLAIMS.spawnRate),
        metric("http.1.p50", "  latency p50", seqLatency.p50, "ms", CLAIMS.spawnLatency),
        metric("http.1.p99", "  latency p99", seqLatency.p99, "ms", CLAIMS.spawnLatency),
        metric(`http.${clients}.rate`, `POST /v1/agents, ${clients} clients, ${nConcurrent.toLocaleString("en-US")} requests`, perSecond(nConcurrent, conc.totalMs), "agents/s", CLAIMS.spawnRate),
        metric(`http.${clients}.p50`, "  latency p50", concLatency.p50, "ms", CLAIMS.spawnLatency),
        metric(`http.${clients}.p99`, "  latency p99", concLatency.p99, "ms", CLAIMS.spawnLatency),
        check("http.created", "  201 with a READY agent", created, warm + nSequential + nConcurrent, "responses"),
        check("http.stored", "  store rows after close: agent with its wallet", counts.agentsWithWallet, created, "rows"),
      ],
      details: {
        clients,
        sequential: { requests: nSequential, totalMs: seq.totalMs, latencyMs: seqLatency },
        concurrent: { requests: nConcurrent, totalMs: conc.totalMs, latencyMs: concLatency },
        created,
        failed,
        warmUpRequests: warm,
        store: counts,
      },
    };
  });
}

// ------------------------------------------------------------------ entry

const CASES: Record<CaseName, (options: CaseOptions) => Promise<Omit<CaseResult, "name" | "durationMs" | "gcExposed">>> = {
  sequential,
  concurrent,
  crew,
  http,
};

export async function runCase(name: CaseName, options: CaseOptions): Promise<CaseResult> {
  const start = now();
  const result = await CASES[name](options);
  return { name, ...result, durationMs: now() - start, gcExposed: gc !== undefined };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      case: { type: "string" },
      agents: { type: "string" },
      quick: { type: "boolean", default: false },
    },
  });
  const name = values.case as CaseName | undefined;
  if (name === undefined || !CASE_NAMES.includes(name)) {
    process.stderr.write(`usage: node --expose-gc bench/spawn.ts --case ${CASE_NAMES.join("|")} [--agents N] [--quick]\n`);
    process.exit(2);
  }
  const agents = values.agents === undefined ? undefined : Number(values.agents);
  if (agents !== undefined && !(Number.isInteger(agents) && agents > 0)) {
    process.stderr.write("--agents: a positive whole number\n");
    process.exit(2);
  }
  const result = await runCase(name, { quick: values.quick, ...(agents === undefined ? {} : { agents }) });
  if (process.send !== undefined) process.send(result, undefined, {}, () => process.disconnect());
  else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
