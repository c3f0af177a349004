/**
 * Self-healing and hibernation benchmarks (issue 5).
 *
 * - `hibernation`: spawns agents and puts them to sleep through the factory, batch by batch, until
 *   one SQLite store holds 1,000,000 hibernated agents (100,000 with --quick); then restarts the
 *   factory on that store and wakes random ones, by request and by a task addressed to them.
 * - `healing`: process agents (the Node example agent, heartbeat every 1 s, 3 missed → UNHEALTHY)
 *   killed with kill -9 and frozen with SIGSTOP while busy: time to detection, to the
 *   replacement READY, and until the killed agent's task runs again elsewhere.
 * - `bullmq-stalled`: the peer. A BullMQ worker (default settings) on the local Redis is killed
 *   with kill -9 mid-job; time until another worker has the job again.
 *
 *   node --expose-gc bench/health.ts --case hibernation|healing [--quick]
 */
import { execFileSync, fork } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createFactory, type Factory, type FactoryEvent } from "../src/index.ts";
import { withTempDir } from "./spawn.ts";
import { formatNumber, metric, MiB, perSecond, summarize, type Claim, type Metric } from "./stats.ts";

export const HEALTH_CASE_NAMES = ["hibernation", "healing", "bullmq-stalled"] as const;
export type HealthCaseName = (typeof HEALTH_CASE_NAMES)[number];

const CLAIMS = {
  detect: { text: "detection ≤ 3 s", source: "issue 5", kind: "max", limit: 3_000 },
  replace: { text: "replacement READY ≤ 1 s after detection", source: "issue 5", kind: "max", limit: 1_000 },
  orleans: { text: "Orleans: silo dead after 3 missed probes, ~15 s", source: "issue 5 anchor", kind: "max", limit: 15_000 },
  sleepers: { text: "1,000,000 hibernated agents in one store", source: "issue 5", kind: "min", limit: 1_000_000 },
} as const satisfies Record<string, Claim>;

const root = resolve(import.meta.dirname, "..");
const now = (): number => performance.now();
const gc = (globalThis as { gc?: () => void }).gc;
const log = (line: string): void => void process.stderr.write(`  ${line}\n`);

function memory(): { rss: number; heapUsed: number } {
  gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed };
}

async function hibernationCase({ quick }: { quick: boolean }): Promise<{ title: string; metrics: Metric[]; details: Record<string, unknown> }> {
  const total = quick ? 100_000 : 1_000_000;
  const batch = 10_000;
  return withTempDir(async (dir) => {
    let factory: Factory = await createFactory({ dataDir: dir, logger: { info: () => {}, warn: () => {}, error: (m) => log(m) } });
    factory.registerProfile({ name: "sleeper", role: "Sleeper", runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual", maxSize: 10_000_000 } });
    const ids: string[] = [];
    const hibernateMs: number[] = [];
    const started = now();
    for (let done = 0; done < total; done += batch) {
      const agents = await Promise.all(Array.from({ length: Math.min(batch, total - done) }, () => factory.spawnAgent({ profile: "sleeper" })));
      // Each with a little context of its own, which it must get back when it wakes.
      const t0 = now();
      await Promise.all(agents.map((a) => factory.hibernateAgent(a.id)));
      hibernateMs.push((now() - t0) / agents.length);
      for (const a of agents) ids.push(a.id);
      if ((done / batch) % 10 === 9) log(`hibernation: ${formatNumber(done + agents.length)} agents asleep after ${((now() - started) / 1000).toFixed(0)} s; RSS ${(memory().rss / MiB).toFixed(0)} MiB`);
    }
    const fillMs = now() - started;
    const afterFill = memory();
    const inMemory = factory.stats().agents;
    await factory.close();
    const dbBytes = statSync(join(dir, "factory.db")).size + (statSync(join(dir, "factory.db-wal"), { throwIfNoEntry: false })?.size ?? 0);

    // A fresh factory on the same store: the sleepers stay rows.
    const base = memory();
    const t0 = now();
    factory = await createFactory({ dataDir: dir, logger: { info: () => {}, warn: () => {}, error: (m) => log(m) } });
    const startMs = now() - t0;
    const afterStart = memory();
    const counted = (await factory.listAgents({ state: "HIBERNATING", limit: 2_000_000 })).length;
    const wakes: number[] = [];
    const byTask: number[] = [];
    const samples = quick ? 50 : 200;
    for (let i = 0; i < samples; i++) {
      const id = ids[Math.floor(Math.random() * ids.length)] as string;
      const w0 = now();
      if (i % 2 === 0) {
        await factory.wakeAgent(id);
        wakes.push(now() - w0);
      } else {
        const task = await factory.waitForTask((await factory.submitTask({ agentId: id, input: { i } })).id, 10_000);
        if (task.state !== "SUCCEEDED") throw new Error(`task on woken agent ${id} ended ${task.state}`);
        byTask.push(now() - w0);
      }
    }
    // And an awake agent's task, for scale.
    const awake = await factory.spawnAgent({ profile: "sleeper" });
    const warm: number[] = [];
    for (let i = 0; i < samples; i++) {
      const w0 = now();
      await factory.waitForTask((await factory.submitTask({ agentId: awake.id, input: { i } })).id, 10_000);
      warm.push(now() - w0);
    }
    await factory.close();
    const w = summarize(wakes);
    const t = summarize(byTask);
    const a = summarize(warm);
    const h = summarize(hibernateMs);
    return {
      title: `Hibernation (function agents; ${formatNumber(total)} asleep in one SQLite file)`,
      metrics: [
        metric("hib.count", "hibernated agents in one store (counted by listAgents)", counted, "agents", CLAIMS.sleepers),
        metric("hib.rate", "spawned and put to sleep, through the factory", perSecond(total, fillMs), "agents/s"),
        metric("hib.perAgent", "  hibernate, per agent (10,000 at a time)", h.p50, "ms"),
        metric("hib.db", "  store file (SQLite + WAL), per hibernated agent", dbBytes / total, "bytes"),
        metric("hib.inMemory", "  agents in memory after they all slept", inMemory, "agents"),
        metric("hib.rss", "  RSS after they all slept", afterFill.rss / MiB, "MiB"),
        metric("hib.start", "factory start on that store (sleepers not loaded)", startMs, "ms"),
        metric("hib.startRss", "  RSS added by the start", (afterStart.rss - base.rss) / MiB, "MiB"),
        metric("wake.p50", "wake a random sleeper (POST …/wake) to READY, p50", w.p50, "ms"),
        metric("wake.p99", "  p99", w.p99, "ms"),
        metric("wakeTask.p50", "task addressed to a sleeper: submit → result (wakes it), p50", t.p50, "ms"),
        metric("wakeTask.p99", "  p99", t.p99, "ms"),
        metric("awakeTask.p50", "  the same on an awake agent, p50", a.p50, "ms"),
      ],
      details: { total, fillMs, dbBytes, wakes: w, byTask: t, awake: a, hibernatePerAgentMs: h, afterFill, base, afterStart },
    };
  });
}

/** Node agents busy with tasks; `kills` kill -9s and `freezes` SIGSTOPs, one at a time, each waited out. */
async function healingCase({ quick }: { quick: boolean }): Promise<{ title: string; metrics: Metric[]; details: Record<string, unknown> }> {
  const kills = quick ? 5 : 20;
  const freezes = quick ? 3 : 10;
  return withTempDir(async (dir) => {
    const factory = await createFactory({ dataDir: dir, processes: { warmPerKind: 0 }, agentFiles: [join(root, "examples/agents")], chaos: true, logger: { info: () => {}, warn: () => {}, error: () => {} } });
    const events: FactoryEvent[] = [];
    factory.onEvent((e) => events.push(e), { types: ["agent.state", "task.state"] });
    try {
      factory.registerProfile({
        name: "healer",
        role: "Healer",
        runtime: { kind: "process", command: ["node", "/agent/echo-agent.mjs"], files: [join(root, "examples/agents/echo-agent.mjs")] },
        pool: { spawnStrategy: "manual", queueDepth: 100_000 },
      });
      const agents = await Promise.all(Array.from({ length: 4 }, () => factory.spawnAgent({ profile: "healer" })));
      // Keep them busy: a steady stream of 200 ms tasks.
      let stop = false;
      const load = (async () => {
        while (!stop) {
          await Promise.all(agents.map(() => factory.submitTask({ profile: "healer", input: { text: "x", ms: 200 }, maxAttempts: 10 })));
          await new Promise((r) => setTimeout(r, 200));
        }
      })().catch((error: unknown) => {
        if (!stop) throw error;
      });
      // An agent killed again within 3 s of coming back counts toward the crash-loop guard
      // (5 in a row and it is given up on): let each one live a little between kills.
      const readyAt = new Map<string, number>();
      const detection = { kill: [] as number[], freeze: [] as number[] };
      const replacement: number[] = [];
      const rerun: number[] = [];
      for (let i = 0; i < kills + freezes; i++) {
        const kind = i < kills ? "kill" : "freeze";
        const victim = agents[i % agents.length] as { id: string };
        await waitFor(async () => (await factory.getAgent(victim.id)).state === "BUSY" || (await factory.getAgent(victim.id)).state === "READY", 10_000);
        const wait = 3_500 - (Date.now() - (readyAt.get(victim.id) ?? 0));
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const mark = events.length;
        const busyWith = (await factory.listTasks({ state: "RUNNING", limit: 1_000 })).find((t) => t.agentId === victim.id)?.id;
        const at = Date.now();
        if (kind === "kill") factory.chaosKill(victim.id);
        else factory.chaosFreeze(victim.id, 5_000);
        await waitFor(() => events.slice(mark).some((e) => e.type === "agent.state" && e.agentId === victim.id && e.to === "READY"), 15_000);
        if (busyWith !== undefined) {
          await waitFor(() => events.slice(mark).some((e) => e.taskId === busyWith && e.to === "RUNNING"), 15_000);
          rerun.push(Date.parse(events.slice(mark).find((e) => e.taskId === busyWith && e.to === "RUNNING")?.at ?? "") - at);
        }
        const mine = events.slice(mark).filter((e) => e.type === "agent.state" && e.agentId === victim.id);
        const unhealthy = Date.parse(mine.find((e) => e.to === "UNHEALTHY")?.at ?? "");
        const ready = Date.parse(mine.find((e) => e.to === "READY")?.at ?? "");
        readyAt.set(victim.id, ready);
        detection[kind].push(unhealthy - at);
        replacement.push(ready - unhealthy);
        log(`healing: ${kind} ${i + 1}: detected after ${unhealthy - at} ms, READY ${ready - unhealthy} ms later`);
      }
      stop = true;
      await load;
      await new Promise((r) => setTimeout(r, 500));
      const health = factory.stats().health;
      const k = summarize(detection.kill);
      const f = summarize(detection.freeze);
      const r = summarize(replacement);
      const again = summarize(rerun);
      return {
        title: "Self-healing (Node process agents in bubblewrap, heartbeat 1 s, 3 missed → UNHEALTHY; busy with 200 ms tasks)",
        metrics: [
          metric("heal.kill.p50", "kill -9 → UNHEALTHY, p50", k.p50, "ms", CLAIMS.detect),
          metric("heal.kill.max", "  max", k.max, "ms", CLAIMS.detect),
          metric("heal.freeze.p50", "SIGSTOP → UNHEALTHY (silent past the heartbeat budget), p50", f.p50, "ms", CLAIMS.detect),
          metric("heal.freeze.max", "  max", f.max, "ms", CLAIMS.orleans),
          metric("heal.replace.p50", "UNHEALTHY → replacement READY (same id), p50", r.p50, "ms", CLAIMS.replace),
          metric("heal.replace.max", "  max", r.max, "ms", CLAIMS.replace),
          metric("heal.rerun.p50", "a killed or frozen agent's task running again elsewhere, p50", again.p50, "ms"),
          metric("heal.rerun.max", "  max", again.max, "ms"),
        ],
        details: { kills, freezes, detection, replacement, rerun, factoryHealth: health },
      };
    } finally {
      await factory.close();
    }
  });
}

const PEER_DIR = join(import.meta.dirname, "peers", "bullmq");

/**
 * BullMQ from its own folder, installed there on first use (`npm install` in bench/peers/bullmq,
 * from its lock file): kept out of the project's dependencies, whose `npm ci` its optional
 * per-platform native helpers would break.
 */
function bullmq(): BullMQ {
  if (!existsSync(join(PEER_DIR, "node_modules", "bullmq"))) {
    log("bullmq-stalled: installing the BullMQ peer in bench/peers/bullmq (first run)");
    execFileSync("npm", ["install", "--no-audit", "--no-fund"], { cwd: PEER_DIR, stdio: ["ignore", "ignore", "inherit"] });
  }
  return createRequire(join(PEER_DIR, "package.json"))("bullmq") as BullMQ;
}

/** The part of BullMQ's API the peer uses (its types live in its own folder, outside the project's). */
interface BullJob {
  id?: string;
}
interface BullMQ {
  Queue: new (name: string, options: { connection: { host: string; port: number } }) => {
    add(name: string, data: unknown): Promise<BullJob>;
    obliterate(options: { force: boolean }): Promise<void>;
    close(): Promise<void>;
  };
  Worker: new (
    name: string,
    processor: (job: BullJob) => Promise<unknown>,
    options: { connection: { host: string; port: number } },
  ) => { on(event: "error", listener: (error: Error) => void): unknown; close(): Promise<void> };
}

/** The peer: a BullMQ worker killed mid-job; how long until another worker has the job. Needs Redis on 127.0.0.1:6379. */
async function bullmqCase({ quick }: { quick: boolean }): Promise<{ title: string; metrics: Metric[]; details: Record<string, unknown> }> {
  const { Queue, Worker } = bullmq();
  const connection = { host: "127.0.0.1", port: 6379 };
  const name = `af-bench-stalled-${process.pid}-${Date.now()}`;
  const queue = new Queue(name, { connection });
  const samples: number[] = [];
  try {
    for (let i = 0; i < (quick ? 1 : 3); i++) {
      const child = fork(join(PEER_DIR, "worker.mjs"), [name], { stdio: ["ignore", "ignore", "inherit", "ipc"] });
      const job = await queue.add("work", { i });
      await new Promise<void>((ok, fail) => {
        child.on("message", (m) => (m as { started?: string }).started === job.id && ok());
        child.once("exit", (code) => fail(new Error(`the BullMQ worker exited (${code}) before taking the job`)));
      });
      let rescued!: (at: number) => void;
      const rescuedAt = new Promise<number>((ok) => (rescued = ok));
      const killedAt = now();
      child.kill("SIGKILL");
      // A second worker, started only now so that it cannot take the job first; BullMQ's own
      // stalled-job checker (every 30 s by default) hands the job back once its lock expires.
      const rescuer = new Worker(
        name,
        async (taken) => {
          if (taken.id === job.id) rescued(now());
          return "ok";
        },
        { connection },
      );
      rescuer.on("error", () => {});
      const at = await rescuedAt;
      await rescuer.close();
      samples.push(at - killedAt);
      log(`bullmq-stalled: job ${job.id} taken again ${((at - killedAt) / 1000).toFixed(1)} s after kill -9 of its worker`);
    }
  } finally {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  }
  const s = summarize(samples);
  return {
    title: "Peer: BullMQ (default settings, local Redis) — a worker killed mid-job",
    metrics: [metric("bullmq.rerun.p50", "kill -9 of a busy worker → its job active again on another worker, p50", s.p50, "ms"), metric("bullmq.rerun.max", "  max", s.max, "ms")],
    details: { samples },
  };
}

async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function runHealthCase(name: HealthCaseName, options: { quick: boolean }) {
  const start = now();
  const result = name === "hibernation" ? await hibernationCase(options) : name === "healing" ? await healingCase(options) : await bullmqCase(options);
  return { name, ...result, durationMs: now() - start, gcExposed: gc !== undefined };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { case: { type: "string" }, quick: { type: "boolean", default: false } } });
  if (!HEALTH_CASE_NAMES.includes(values.case as HealthCaseName)) {
    process.stderr.write(`usage: node --expose-gc bench/health.ts --case ${HEALTH_CASE_NAMES.join("|")} [--quick]\n`);
    process.exit(2);
  }
  const result = await runHealthCase(values.case as HealthCaseName, { quick: values.quick });
  if (process.send !== undefined) process.send(result, undefined, {}, () => process.disconnect());
  else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
