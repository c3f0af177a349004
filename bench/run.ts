/**
 * The benchmark entry (`npm run bench`): runs each case of bench/spawn.ts in its own Node
 * process (with `--expose-gc`, so memory is read after a collection), prints a table of
 * measured figures beside the seeds' claims, and writes bench/results/latest.json with the
 * machine it ran on.
 *
 *   node bench/run.ts [--quick]
 */
import { execFileSync, fork } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { CaseName, CaseResult } from "./spawn.ts";
import { formatMs, MiB, type Metric } from "./stats.ts";

const here = dirname(fileURLToPath(import.meta.url));
const SPAWN_TS = join(here, "spawn.ts");
const RESULTS = join(here, "results", "latest.json");

interface Step {
  name: CaseName;
  args: string[];
}

function plan(quick: boolean): Step[] {
  const mode = quick ? ["--quick"] : [];
  return [
    { name: "sequential", args: mode },
    { name: "concurrent", args: ["--agents", "10000", ...mode] },
    // The seeds speak of 50,000 agents; the full run checks that spawn and restore stay linear.
    ...(quick ? [] : [{ name: "concurrent" as const, args: ["--agents", "50000"] }]),
    { name: "crew", args: mode },
    { name: "http", args: mode },
  ];
}

/** Runs one case in a child process and resolves with what it sends back. */
function runStep(step: Step): Promise<CaseResult> {
  return new Promise((resolve, reject) => {
    const child = fork(SPAWN_TS, ["--case", step.name, ...step.args], {
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

function table(results: readonly CaseResult[]): string {
  const header = ["metric", "measured", "seed claim", "verdict"];
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
  const { values } = parseArgs({ options: { quick: { type: "boolean", default: false } } });
  const quick = values.quick;
  const started = performance.now();
  const date = new Date().toISOString();
  const machine = machineFacts();
  process.stderr.write(`agent-factory bench (${quick ? "quick" : "full"}): ${String(machine.cpuModel)} ×${String(machine.cpuCount)}, node ${process.version}\n`);

  const results: CaseResult[] = [];
  for (const step of plan(quick)) {
    process.stderr.write(`▶ ${step.name} ${step.args.join(" ")}\n`);
    results.push(await runStep(step));
  }
  const durationMs = performance.now() - started;

  const flagged = (test: (m: Metric) => boolean): string[] =>
    results.flatMap((r) => r.metrics.filter(test).map((m) => `${r.name}: ${m.label.trim()} = ${m.display}${m.claim === null ? "" : ` (claim: ${m.claim.text})`}`));
  // A count that does not match is a broken run; a missed seed claim is a finding to report.
  const failures = flagged((m) => m.verdict === "MISMATCH");
  const misses = flagged((m) => m.verdict.startsWith("MISSES"));
  const report = {
    suite: "spawn-and-crew",
    mode: quick ? "quick" : "full",
    date,
    durationMs,
    machine,
    notes: [
      "Latencies 'to READY' end when spawnAgent/assembleCrew resolve; the store write follows (write-behind journal). Rows marked 'stored' or 'durable' include the commit.",
      "Every case runs in its own process against a fresh SQLite file (WAL, synchronous=normal) in the OS temp dir.",
      "HTTP clients run in the same process as the server, so they share its cores.",
    ],
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
  process.stdout.write(`\nAgent Factory: spawn and crew benchmarks\n${facts.join("\n")}\n\n${table(results)}\n\n`);
  process.stdout.write(`results: ${RESULTS}\n`);
  if (misses.length > 0) process.stdout.write(`\n${misses.length} figure(s) miss a seed's claim:\n${misses.map((f) => `  - ${f}`).join("\n")}\n`);
  if (failures.length > 0) {
    process.stdout.write(`\n${failures.length} count(s) do not match (the run is not valid):\n${failures.map((f) => `  - ${f}`).join("\n")}\n`);
    process.exitCode = 1;
  }
}

await main();
