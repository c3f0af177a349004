/**
 * Process-agent benchmarks (issue 4): cold spawn of a sandboxed Python agent to READY beside
 * a bare `child_process.spawn` of the same program doing the same handshake, warm-sandbox
 * leases, and a crew of 3 process agents assembled from warm sandboxes.
 *
 *   node --expose-gc bench/process.ts --case process [--quick]
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { createFactory, type Factory } from "../src/index.ts";
import { withTempDir } from "./spawn.ts";
import { metric, summarize, type Claim, type Metric } from "./stats.ts";

export const PROCESS_CASE_NAMES = ["process"] as const;
export type ProcessCaseName = (typeof PROCESS_CASE_NAMES)[number];

const CLAIMS = {
  vsBare: { text: "≤ 1.5× a bare spawn", source: "issue 4", kind: "max", limit: 1.5 },
  lease: { text: "warm lease < 1 ms", source: "issue 4", kind: "max", limit: 1 },
  crewSeed: { text: "crew of 3 in < 10 s", source: "seed 001", kind: "max", limit: 10_000 },
  crewWarm: { text: "crew of 3 < 100 ms warm", source: "issue 4", kind: "max", limit: 100 },
} as const satisfies Record<string, Claim>;

const root = resolve(import.meta.dirname, "..");
const AGENT = join(root, "examples/agents/echo_agent.py");
const PYTHON = existsSync("/usr/local/bin/python3") ? "/usr/local/bin/python3" : "/usr/bin/python3";
const now = (): number => performance.now();
const gc = (globalThis as { gc?: () => void }).gc;

const profile = (name: string) => ({
  name,
  role: "Py",
  runtime: { kind: "process" as const, command: ["python3", "/agent/echo_agent.py"], files: [AGENT] },
  pool: { spawnStrategy: "manual" as const, maxSize: 1_000 },
});

/** Spawns the agent program directly and waits for its answer to `initialize`: the bare baseline. */
async function bareSpawn(): Promise<number> {
  const started = now();
  // The interpreter the sandbox finds on its PATH (/usr/local/bin:/usr/bin:/bin), not a shim.
  const child = spawn(PYTHON, [AGENT], { stdio: ["pipe", "pipe", "ignore"] });
  const lines = createInterface({ input: child.stdout });
  child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { agentId: "bare", context: {} } })}\n`);
  for await (const line of lines) if ((JSON.parse(line) as { id?: unknown }).id === 1) break;
  const ms = now() - started;
  child.stdin.end();
  await new Promise((r) => child.once("exit", r));
  return ms;
}

async function spawnTimes(factory: Factory, name: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = now();
    const agent = await factory.spawnAgent({ profile: name });
    out.push(now() - started);
    await factory.terminateAgent(agent.id);
  }
  return out;
}

async function processCase({ quick }: { quick: boolean }): Promise<{ title: string; metrics: Metric[]; details: Record<string, unknown> }> {
  const n = quick ? 20 : 100;
  // Warm up the OS caches for python and bubblewrap.
  for (let i = 0; i < 3; i++) await bareSpawn();
  const bare: number[] = [];
  for (let i = 0; i < n; i++) bare.push(await bareSpawn());

  const cold = await withTempDir(async (dir) => {
    const factory = await createFactory({ dataDir: dir, processes: { warmPerKind: 0 }, agentFiles: [dirname(AGENT)] });
    try {
      factory.registerProfile(profile("cold"));
      await spawnTimes(factory, "cold", 3);
      return await spawnTimes(factory, "cold", n);
    } finally {
      await factory.close();
    }
  });

  const warm = await withTempDir(async (dir) => {
    const factory = await createFactory({ dataDir: dir, agentFiles: [dirname(AGENT)] });
    try {
      factory.registerProfile(profile("warm"));
      const spawns: number[] = [];
      const crews: number[] = [];
      await factory.spawnAgent({ profile: "warm" }); // the first is cold and starts the warm pool
      for (let i = 0; i < n; i++) {
        // Wait until a warm sandbox is ready, as a pool kept warm would have one.
        while (((factory.stats().runtimes.process as { warmReady: number }).warmReady ?? 0) < 2) await new Promise((r) => setTimeout(r, 2));
        const started = now();
        const agent = await factory.spawnAgent({ profile: "warm" });
        spawns.push(now() - started);
        await factory.terminateAgent(agent.id);
      }
      for (let i = 0; i < (quick ? 5 : 20); i++) {
        // Three warm sandboxes: the default keeps 2, so top up once more for a crew of 3.
        while (((factory.stats().runtimes.process as { warmReady: number }).warmReady ?? 0) < 2) await new Promise((r) => setTimeout(r, 2));
        const started = now();
        const { crew } = await factory.assembleCrew({ name: `trio-${i}`, members: [{ profile: "warm", count: 3 }] });
        crews.push(now() - started);
        await factory.disbandCrew(crew.id);
      }
      return {
        spawns,
        crews,
        stats: factory.stats().runtimes.process as { leaseP50Ms: number; leaseP99Ms: number; specializedP50Ms: number; specializedP99Ms: number; warmLeases: number },
      };
    } finally {
      await factory.close();
    }
  });

  const b = summarize(bare);
  const c = summarize(cold);
  const w = summarize(warm.spawns);
  const crew = summarize(warm.crews);
  return {
    title: "Process agents (Python echo agent; bubblewrap sandbox; SQLite file)",
    metrics: [
      metric("bare.p50", "bare child_process.spawn + initialize, p50", b.p50, "ms"),
      metric("bare.p99", "  p99", b.p99, "ms"),
      metric("cold.p50", "sandboxed cold spawn to READY, p50", c.p50, "ms"),
      metric("cold.p99", "  p99", c.p99, "ms"),
      metric("cold.ratio", "  sandboxed cold ÷ bare, p50", c.p50 / b.p50, "×", CLAIMS.vsBare),
      metric("warm.p50", "spawn from a warm sandbox to READY, p50", w.p50, "ms"),
      metric("warm.p99", "  p99", w.p99, "ms"),
      metric("lease.p50", "warm lease (take a ready sandbox, send it the code), p50", warm.stats.leaseP50Ms, "ms", CLAIMS.lease),
      metric("lease.p99", "  p99", warm.stats.leaseP99Ms, "ms", CLAIMS.lease),
      metric("specialized.p50", "  until the sandbox accepted the code, p50", warm.stats.specializedP50Ms, "ms"),
      metric("specialized.p99", "  p99", warm.stats.specializedP99Ms, "ms"),
      metric("crew.p50", "crew of 3 process agents to ACTIVE (2 warm + 1 cold), p50", crew.p50, "ms", CLAIMS.crewWarm),
      metric("crew.p99", "  p99", crew.p99, "ms", CLAIMS.crewSeed),
    ],
    details: { runs: n, bare: b, cold: c, warm: w, crew, lease: warm.stats },
  };
}

export async function runProcessCase(name: ProcessCaseName, options: { quick: boolean }) {
  const start = now();
  const result = await processCase(options);
  return { name, ...result, durationMs: now() - start, gcExposed: gc !== undefined };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { case: { type: "string" }, quick: { type: "boolean", default: false } } });
  if (values.case !== "process") {
    process.stderr.write("usage: node --expose-gc bench/process.ts --case process [--quick]\n");
    process.exit(2);
  }
  const result = await runProcessCase("process", { quick: values.quick });
  if (process.send !== undefined) process.send(result, undefined, {}, () => process.disconnect());
  else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
