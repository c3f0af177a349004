/**
 * The benchmark entry (`npm run bench`): runs each case of bench/spawn.ts and
 * bench/scheduler.ts in its own Node process (with `--expose-gc`, so memory is read after a
 * collection), prints a table of measured figures beside the seeds' and issue 3's claims, and
 * writes bench/results/latest.json with the machine it ran on.
 *
 *   node bench/run.ts [--quick] [--only dispatch,piscina]
 */
import { execFileSync, fork } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { CaseName } from "./spawn.ts";
import { dispatchTasks, IN_FLIGHT, SCHEDULER_CLAIMS } from "./scheduler-claims.ts";
import type { SchedulerCaseName } from "./scheduler.ts";
import type { HealthCaseName } from "./health.ts";
import type { ModelCaseName } from "./models.ts";
import type { CliCaseName } from "./cli.ts";
import { CLUSTER_NOTES, type ClusterCaseName } from "./cluster.ts";
import { formatMs, formatNumber, metric, MiB, type Metric } from "./stats.ts";

const here = dirname(fileURLToPath(import.meta.url));
const SCRIPTS = { spawn: join(here, "spawn.ts"), scheduler: join(here, "scheduler.ts"), process: join(here, "process.ts"), health: join(here, "health.ts"), models: join(here, "models.ts"), cli: join(here, "cli.ts"), cluster: join(here, "cluster.ts") };
const RESULTS = join(here, "results", "latest.json");

/** What a case sends back (bench/spawn.ts and bench/scheduler.ts share the shape). */
interface CaseResult {
  name: string;
  title: string;
  metrics: Metric[];
  details: Record<string, unknown>;
  durationMs: number;
  gcExposed: boolean;
}

type Step =
  | { script: "spawn"; name: CaseName; args: string[] }
  | { script: "scheduler"; name: SchedulerCaseName; args: string[] }
  | { script: "process"; name: "process"; args: string[] }
  | { script: "health"; name: HealthCaseName; args: string[] }
  | { script: "models"; name: ModelCaseName; args: string[] }
  | { script: "cli"; name: CliCaseName; args: string[] }
  | { script: "cluster"; name: ClusterCaseName; args: string[] };

function plan(quick: boolean): Step[] {
  const mode = quick ? ["--quick"] : [];
  return [
    { script: "spawn", name: "sequential", args: mode },
    { script: "spawn", name: "concurrent", args: ["--agents", "10000", ...mode] },
    // The seeds speak of 50,000 agents; the full run checks that spawn and restore stay linear.
    ...(quick ? [] : [{ script: "spawn" as const, name: "concurrent" as const, args: ["--agents", "50000"] }]),
    { script: "spawn", name: "crew", args: mode },
    { script: "spawn", name: "http", args: mode },
    { script: "scheduler", name: "dispatch", args: mode },
    { script: "scheduler", name: "piscina", args: mode },
    { script: "scheduler", name: "http-tasks", args: mode },
    // Quick: 100,000 agents; full: on to 1,000,000 (within a time budget).
    { script: "scheduler", name: "resident", args: mode },
    // Issue 16: dispatch with metrics and tracing on and off.
    { script: "scheduler", name: "observability", args: mode },
    { script: "process", name: "process", args: mode },
    // Issue 5: quick puts 100,000 agents to sleep, full 1,000,000.
    { script: "health", name: "hibernation", args: mode },
    { script: "health", name: "healing", args: mode },
    // The peer needs Redis on 127.0.0.1:6379 and takes about a minute per sample.
    { script: "health", name: "bullmq-stalled", args: mode },
    // Issue 6: budgets under concurrency (with the check-then-spend peer) and routing's cost.
    { script: "models", name: "budget", args: mode },
    { script: "models", name: "router", args: mode },
    // Issue 11: a client command starts as a new process; node -e 0 is the floor.
    { script: "cli", name: "cli-start", args: mode },
    // Issue 13: real `serve` nodes on one PostgreSQL schema + Redis (127.0.0.1), beside BullMQ; then kill -9 of a node.
    { script: "cluster", name: "cluster-dispatch", args: mode },
    { script: "cluster", name: "cluster-failover", args: mode },
  ];
}

/** Runs one case in a child process and resolves with what it sends back. */
function runStep(step: Step): Promise<CaseResult> {
  return new Promise((resolve, reject) => {
    const child = fork(SCRIPTS[step.script], ["--case", step.name, ...step.args], {
      execArgv: ["--expose-gc", "--disable-warning=ExperimentalWarning"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let result: CaseResult | undefined;
    child.on("message", (message) => {
      result = message as CaseResult;
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (code === 0 && result !== undefined) resolve(result);
      else reject(new Error(`bench case '${step.name}' ${signal === null ? `exited with code ${code}` : `was killed by ${signal}`}${result === undefined ? " without a result" : ""}`));
    });
  });
}

const NOTES = (quick: boolean): string[] => [
  "Latencies 'to READY' end when spawnAgent/assembleCrew resolve; the store write follows (write-behind journal). Rows marked 'stored' or 'durable' include the commit.",
  "Every case runs in its own process against a fresh SQLite file (WAL, synchronous=normal) in the OS temp dir.",
  "HTTP clients run in the same process as the server, so they share its event loop and the machine's cores.",
  `Dispatch vs Piscina: both run the same ${formatNumber(dispatchTasks(quick))} echo tasks with ${formatNumber(IN_FLIGHT)} in flight, each case in its own process. ` +
    "Ours: submitTask validates the task and does not resolve until the task is committed to SQLite; then every state change (QUEUED, ASSIGNED, RUNNING, SUCCEEDED) " +
    "and the agents' load is written through the journal and emitted as events, and the handler runs in-process on the main thread. " +
    `Piscina (default options except minThreads = maxThreads = the core count, ${os.availableParallelism()} here): nothing is stored; each task crosses to a worker thread and back.`,
  "Submit → result latency with a window of N in flight is bounded below by N ÷ throughput (Little's law); the 'one at a time' rows show latency without queueing.",
  "Warm dispatch is the factory's own stats().dispatch: enqueue → handler started, for tasks handed straight to a free READY agent, after sequential submits.",
  "Resident agents: function agents (echo), crewless, manual pool; batches are awaited until stored before the next, so RSS does not include a backlog of unwritten journal entries. " +
    "RSS after gc varies by about ±10% from run to run at the same JS heap; what RSS holds above the committed heap sits in 256 KiB anonymous mappings (V8's page size), i.e. heap pages V8 freed but kept, not in SQLite or malloc.",
  "Healing: detection is from the chaos action (kill -9 / SIGSTOP) to the agent's UNHEALTHY event; a frozen agent is declared dead after 3 heartbeat intervals (3 s) of silence counted from the last thing it said, plus up to one watchdog round (100 ms). " +
    "BullMQ peer: a Worker with default settings (lockDuration 30 s, stalledInterval 30 s) in a child process takes a job and is killed with kill -9; a second Worker in the bench process gets the job back through BullMQ's stalled-job check.",
  "Budget: each round grants a fresh wallet 50 credits and makes 1,000 concurrent calls (mock provider, 1–20 ms, 20–99 output tokens, price 1/2 credits per 1,000 tokens in/out, 100 output tokens reserved per call). " +
    "The peer is check-then-spend in the same process on the same calls: it reads what was spent, calls if that is under the budget, and adds the real cost after the call — the pattern behind LiteLLM issues #34732 and #40095.",
  "CLI start: every command is a new process, timed from spawn to exit, taking turns with a bare `node -e 0` so a busy moment on the machine falls on all of them; compare the cost above that baseline across machines and runs.",
  ...CLUSTER_NOTES,
];

function machineFacts(): Record<string, unknown> {
  const cpus = os.cpus();
  let commit: string | null = null;
  try {
    const sha = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: here, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd: here, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    commit = dirty === "" ? sha : `${sha} (src modified)`;
  } catch {
    // Not a git checkout: leave it out.
  }
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cpuCount: cpus.length,
    availableParallelism: os.availableParallelism(),
    totalMemoryBytes: os.totalmem(),
    totalMemory: `${(os.totalmem() / 1024 / MiB).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    sqlite: process.versions.sqlite ?? null,
    commit,
  };
}

/**
 * Ours against the peer, from the dispatch and piscina cases (each ran in its own process on
 * the same machine, with the same tasks and in-flight window).
 */
function comparison(results: readonly CaseResult[]): CaseResult | undefined {
  const ours = results.find((r) => r.name === "dispatch");
  const peer = results.find((r) => r.name === "piscina");
  if (ours === undefined || peer === undefined) return undefined;
  const value = (r: CaseResult, id: string): number => r.metrics.find((m) => m.id === id)?.value ?? Number.NaN;
  const ratio = value(ours, "dispatch.rate") / value(peer, "piscina.rate");
  const seqRatio = value(ours, "dispatch.seq.rate") / value(peer, "piscina.seq.rate");
  return {
    name: "vs-piscina",
    title: "Dispatch against the Piscina peer (ours ÷ Piscina)",
    metrics: [
      metric("vsPiscina.rate", `tasks/s, best shape, ${formatNumber(IN_FLIGHT)} in flight`, ratio, "×", SCHEDULER_CLAIMS.vsPiscina),
      metric("vsPiscina.p50", "  latency p50 (Piscina ÷ ours: above 1 means ours is faster)", value(peer, "piscina.p50") / value(ours, "dispatch.p50"), "×"),
      metric("vsPiscina.seq.rate", "tasks/s, one at a time", seqRatio, "×"),
    ],
    details: {},
    durationMs: 0,
    gcExposed: ours.gcExposed && peer.gcExposed,
  };
}

/** Task recovery after kill -9 of a busy worker: ours against BullMQ's stalled-job handling. */
function healingComparison(results: readonly CaseResult[]): CaseResult | undefined {
  const ours = results.find((r) => r.name === "healing");
  const peer = results.find((r) => r.name === "bullmq-stalled");
  if (ours === undefined || peer === undefined) return undefined;
  const value = (r: CaseResult, id: string): number => r.metrics.find((m) => m.id === id)?.value ?? Number.NaN;
  return {
    name: "vs-bullmq",
    title: "Recovery against the BullMQ peer (BullMQ ÷ ours: above 1 means ours is faster)",
    metrics: [metric("vsBullmq.rerun", "killed worker's task running again, p50", value(peer, "bullmq.rerun.p50") / value(ours, "heal.rerun.p50"), "×")],
    details: {},
    durationMs: 0,
    gcExposed: ours.gcExposed && peer.gcExposed,
  };
}

function table(results: readonly CaseResult[]): string {
  const header = ["metric", "measured", "claim (source)", "verdict"];
  const rows: Array<string[] | string> = [];
  for (const result of results) {
    rows.push(result.title);
    for (const m of result.metrics) rows.push([m.label, m.display, claimText(m), m.verdict]);
  }
  const cells = rows.filter((r): r is string[] => Array.isArray(r));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]): string =>
    r.map((c, i) => (i === 1 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  const out = [line(header), rule];
  for (const row of rows) out.push(typeof row === "string" ? `\n${row}` : line(row));
  return out.join("\n");
}

const claimText = (m: Metric): string => (m.claim === null ? "" : `${m.claim.text} (${m.claim.source})`);

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, only: { type: "string" } } });
  const quick = values.quick;
  const only = values.only === undefined ? undefined : new Set(values.only.split(",").map((s) => s.trim()));
  const started = performance.now();
  const date = new Date().toISOString();
  const machine = machineFacts();
  process.stderr.write(`agent-factory bench (${quick ? "quick" : "full"}): ${String(machine.cpuModel)} ×${String(machine.cpuCount)}, node ${process.version}\n`);

  const results: CaseResult[] = [];
  for (const step of plan(quick).filter((s) => only === undefined || only.has(s.name))) {
    process.stderr.write(`▶ ${step.name} ${step.args.join(" ")}\n`);
    results.push(await runStep(step));
  }
  const durationMs = performance.now() - started;
  const versus = comparison(results);
  if (versus !== undefined) results.push(versus);
  const healing = healingComparison(results);
  if (healing !== undefined) results.push(healing);

  const flagged = (test: (m: Metric) => boolean): string[] =>
    results.flatMap((r) => r.metrics.filter(test).map((m) => `${r.name}: ${m.label.trim()} = ${m.display}${m.claim === null ? "" : ` (claim: ${m.claim.text})`}`));
  // A count that does not match is a broken run; a missed seed claim is a finding to report.
  const failures = flagged((m) => m.verdict === "MISMATCH");
  const misses = flagged((m) => m.verdict.startsWith("MISSES"));
  const report = {
    suite: "spawn-crew-scheduler-health-models",
    mode: quick ? "quick" : "full",
    date,
    durationMs,
    machine,
    notes: NOTES(quick),
    metrics: Object.fromEntries(results.flatMap((r) => r.metrics.map((m) => [m.id, m]))),
    cases: results,
    failures,
    misses,
  };
  await mkdir(dirname(RESULTS), { recursive: true });
  await writeFile(RESULTS, `${JSON.stringify(report, null, 2)}\n`);

  const facts = [
    `machine: ${String(machine.cpuModel)} ×${String(machine.cpuCount)}, ${String(machine.totalMemory)} RAM, ${String(machine.os)}`,
    `node ${process.version} (sqlite ${String(machine.sqlite)}), ${date}${machine.commit === null ? "" : `, commit ${String(machine.commit)}`}`,
    `mode: ${quick ? "quick" : "full"}, took ${formatMs(durationMs)}${results.every((r) => r.gcExposed) ? "" : " (memory read without gc)"}`,
  ];
  process.stdout.write(`\nAgent Factory benchmarks: spawn, crew, scheduler, process agents, health, models\n${facts.join("\n")}\n\n${table(results)}\n\n`);
  process.stdout.write(`notes:\n${NOTES(quick).map((n) => `  - ${n}`).join("\n")}\n\n`);
  process.stdout.write(`results: ${RESULTS}\n`);
  if (misses.length > 0) process.stdout.write(`\n${misses.length} figure(s) miss a claim (seeds or issue 3):\n${misses.map((f) => `  - ${f}`).join("\n")}\n`);
  if (failures.length > 0) {
    process.stdout.write(`\n${failures.length} count(s) do not match (the run is not valid):\n${failures.map((f) => `  - ${f}`).join("\n")}\n`);
    process.exitCode = 1;
  }
}

await main();
