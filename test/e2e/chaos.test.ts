// Pins `agent-factory chaos` end to end: a real `serve --chaos` child, the real CLI killing and
// freezing process agents under load, and the verdict: nothing lost, nothing done twice, every
// kill and freeze detected in time. Also: without --chaos the routes are absent and the command says so.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BIN, ENV, ROOT, startServe, type Server } from "./serve.ts";

// Each test and the hook has its own limit, so the 20 s chaos run cannot use up the others' time
// and a slow step fails alone, by name.
const STARTUP = { timeout: 30_000 }; // two server starts side by side, each up to 15 s in serve.ts
const CHAOS_RUN = { timeout: 75_000 }; // a 20 s run whose CLI is killed after 50 s, plus its report
const NO_CHAOS = { timeout: 30_000 }; // one request and a CLI call killed after 15 s

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Summary {
  samples: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

interface ChaosReport {
  ok: boolean;
  tasks: { submitted: number; completed: number; failed: number; dead: number; cancelled: number; lost: number; completedTwice: number; wrongResults: number };
  chaos: { kills: number; freezes: number; skipped: number; undetected: number };
  detection: { all: Summary; kill: Summary; freeze: Summary };
  recovery: { all: Summary; kill: Summary; freeze: Summary };
  actions: { action: string; agentId: string; at: string; detectionMs: number | null; recoveryMs: number | null }[];
  health: { replaced: Record<string, number> } | null;
}

const children = new Set<ChildProcess>();
const dirs: string[] = [];

/** Starts `serve` on a free port over a fresh data folder. */
function startServer(...flags: string[]): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), "agent-factory-chaos-e2e-"));
  dirs.push(dataDir);
  return startServe(["--data", dataDir, ...flags], (server) => children.add(server.child));
}

/** Runs the CLI; never rejects: the exit code is part of the answer. */
function cli(args: string[], timeoutMs: number): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: ENV, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((done) =>
    child.once("close", (code) => {
      clearTimeout(timer);
      children.delete(child);
      done({ code, stdout, stderr });
    }),
  );
}

after(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((done) => child.once("exit", () => done()));
      child.kill("SIGKILL");
      await gone;
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("agent-factory chaos", () => {
  let chaosServer: Server;
  let plainServer: Server;

  before(async () => {
    [chaosServer, plainServer] = await Promise.all([startServer("--chaos"), startServer()]);
  }, STARTUP);

  test("20 s of load with kills, freezes and latency: nothing lost or done twice, every action detected within the heartbeat budget", CHAOS_RUN, async (t) => {
    const args = ["chaos", "--url", chaosServer.url, "--duration", "20s", "--kill-rate", "0.4/s", "--freeze-ratio", "0.3", "--freeze-for", "4s", "--latency", "20ms", "--rate", "30/s", "--agents", "4", "--json"];
    const result = await cli(args, 50_000);
    const context = `exit ${result.code}\nstderr: ${result.stderr}\nstdout: ${result.stdout}`;
    assert.equal(result.code, 0, context);
    assert.equal(result.stderr, "", "--json prints nothing but the report");
    const report = JSON.parse(result.stdout) as ChaosReport;
    const { tasks, chaos, detection } = report;
    t.diagnostic(`tasks ${JSON.stringify(tasks)}`);
    t.diagnostic(`chaos ${JSON.stringify(chaos)} detection ${JSON.stringify(detection)} recovery ${JSON.stringify(report.recovery)}`);
    assert.equal(report.ok, true, context);
    assert.equal(tasks.lost, 0, context);
    assert.equal(tasks.completedTwice, 0, context);
    assert.equal(tasks.wrongResults, 0, context);
    assert.ok(tasks.submitted > 0, context);
    assert.equal(tasks.completed, tasks.submitted, context);
    assert.ok(chaos.kills >= 1, context);
    assert.ok(chaos.freezes >= 1, context);
    assert.equal(chaos.undetected, 0, context);
    assert.equal(detection.kill.samples, chaos.kills, `every kill detected\n${context}`);
    assert.equal(detection.freeze.samples, chaos.freezes, `every freeze detected\n${context}`);
    assert.ok((detection.freeze.max as number) < 4_000, `freeze detection max ${detection.freeze.max} ms\n${context}`);
    assert.ok((detection.all.max as number) < 4_000, `detection max ${detection.all.max} ms\n${context}`);
    assert.equal(report.actions.length, chaos.kills + chaos.freezes);
    assert.ok(report.health !== null && (report.health.replaced.lost ?? 0) >= chaos.kills, `server health: ${JSON.stringify(report.health)}`);
    assert.ok(report.health !== null && (report.health.replaced.silent ?? 0) >= chaos.freezes, `server health: ${JSON.stringify(report.health)}`);
  });

  test("without serve --chaos: POST /v1/chaos/kill is 404 and the command exits 2 naming --chaos", NO_CHAOS, async () => {
    const response = await fetch(`${plainServer.url}/v1/chaos/kill`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ agentId: "agent_0000000000000000" }) });
    assert.equal(response.status, 404);
    const body = (await response.json()) as { error: { code: string } };
    assert.equal(body.error.code, "NOT_FOUND");
    const result = await cli(["chaos", "--url", plainServer.url, "--duration", "2s"], 15_000);
    assert.equal(result.code, 2, `stderr: ${result.stderr}`);
    assert.match(result.stderr, /--chaos/);
    assert.equal(result.stdout, "");
  });
});
