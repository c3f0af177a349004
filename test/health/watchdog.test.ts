// Pins self-healing: kill -9 and SIGSTOP of busy process agents (same-id replacement, exactly one SUCCEEDED), stuck detection with late results discarded, quality replacement, probes.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import type { FactoryEvent } from "../../src/core/events.ts";
import type { Factory } from "../../src/factory/factory.ts";
import type { HandlerContext } from "../../src/runtimes/function/function-handler.ts";
import { alive, processesWith, tempDir, testFactory, until } from "../helpers.ts";
import type { ProfileInput } from "../../src/core/schemas/profile.ts";

const root = resolve(import.meta.dirname, "../..");


/** A process and all its descendants (the sandbox and the agent inside it). */
const tree = (pid: number): number[] => {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      out.push(...execFileSync("pgrep", ["-P", String(out[i])], { encoding: "utf8" }).trim().split("\n").filter((l) => l !== "").map(Number));
    } catch {
      // no children
    }
  }
  return out;
};


/** Every event of the factory, in order. */
function record(factory: Factory): FactoryEvent[] {
  const events: FactoryEvent[] = [];
  factory.onEvent((e) => events.push(e));
  return events;
}

const succeededEvents = (events: FactoryEvent[], taskId: string): number => events.filter((e) => e.type === "task.state" && e.taskId === taskId && e.to === "SUCCEEDED").length;

describe("watchdog: process agents", () => {
  const scripts = tempDir("af-health-");
  const marker = `health_${process.pid}_${Date.now()}`;
  const py = join(scripts.path, `${marker}.py`);
  const mjs = join(scripts.path, `${marker}.mjs`);
  before(() => {
    copyFileSync(join(root, "examples/agents/echo_agent.py"), py);
    copyFileSync(join(root, "examples/agents/echo-agent.mjs"), mjs);
  });
  after(() => scripts.cleanup());

  let factory: Factory;
  let close: () => Promise<void>;
  beforeEach(async () => {
    // Cold starts only: the warm pool's processes would muddle the process counts.
    ({ factory, close } = await testFactory({ processes: { warmPerKind: 0 }, agentFiles: [scripts.path] }));
  });
  afterEach(async () => {
    await close();
    assert.deepEqual(processesWith(marker), [], "no agent process outlives the factory");
  });

  /** A Node agent that heartbeats every 250 ms: 3 missed → UNHEALTHY after about 750 ms of silence. */
  const nodeProfile = (name: string, extra: Record<string, unknown> = {}): ProfileInput => ({
    name,
    role: "Worker",
    runtime: { kind: "process", command: ["node", `/agent/${marker}.mjs`], files: [mjs] },
    pool: { spawnStrategy: "manual" },
    health: { heartbeatIntervalMs: 250, missedHeartbeats: 3 },
    ...extra,
  });

  it("kill -9 of a busy agent: replaced under the same id, its task completes, exactly one SUCCEEDED", async () => {
    const events = record(factory);
    factory.registerProfile(nodeProfile("killed"));
    const a = await factory.spawnAgent({ profile: "killed" });
    const b = await factory.spawnAgent({ profile: "killed" });
    const task = await factory.submitTask({ profile: "killed", input: { text: "abc", ms: 600 }, maxAttempts: 3 });
    await until(async () => (await factory.getTask(task.id)).state === "RUNNING", "the task running");
    const runner = (await factory.getTask(task.id)).agentId as string;
    const victim = await factory.getAgent(runner);
    process.kill(victim.pid as number, "SIGKILL");

    const done = await factory.waitForTask(task.id, 10_000);
    assert.equal(done.state, "SUCCEEDED");
    assert.deepEqual(done.result, { reversed: "cba", by: "node" });
    assert.equal(done.attempts, 2, "the killed attempt counts");
    assert.equal(succeededEvents(events, task.id), 1, "exactly one SUCCEEDED record");
    await until(async () => (await factory.getAgent(runner)).state === "READY", "the replacement READY", 5_000);
    const back = await factory.getAgent(runner);
    assert.deepEqual([back.id, back.walletAddress, back.restarts], [victim.id, victim.walletAddress, 1]);
    assert.ok(back.pid !== null && back.pid !== victim.pid && alive(back.pid));
    const states = events.filter((e) => e.type === "agent.state" && e.agentId === runner).map((e) => e.to);
    assert.deepEqual(states.slice(-4), ["UNHEALTHY", "PROVISIONING", "WARMING", "READY"]);
    assert.equal(factory.stats().health.replaced.lost, 1);
    void a;
    void b;
  });

  it("SIGSTOP of a busy agent: detected within the heartbeat budget, killed and replaced; the task completes once, elsewhere", async () => {
    const events = record(factory);
    factory.registerProfile(nodeProfile("frozen"));
    await factory.spawnAgent({ profile: "frozen" });
    await factory.spawnAgent({ profile: "frozen" });
    const task = await factory.submitTask({ profile: "frozen", input: { text: "xyz", ms: 1_500 }, maxAttempts: 3 });
    await until(async () => (await factory.getTask(task.id)).state === "RUNNING", "the task running");
    const runner = (await factory.getTask(task.id)).agentId as string;
    const frozen = await factory.getAgent(runner);
    const pids = tree(frozen.pid as number);
    assert.ok(pids.length >= 2, "the sandbox and the agent in it");
    const stoppedAt = Date.now();
    for (const pid of pids) process.kill(pid, "SIGSTOP");

    await until(() => events.some((e) => e.type === "agent.state" && e.agentId === runner && e.to === "UNHEALTHY"), "UNHEALTHY", 5_000);
    const detectedMs = Date.parse(events.find((e) => e.type === "agent.state" && e.agentId === runner && e.to === "UNHEALTHY")?.at as string) - stoppedAt;
    // Budget: 3 × 250 ms after the last heartbeat, which came at most 250 ms before the stop; one watchdog round of slack.
    assert.ok(detectedMs <= 3 * 250 + 100 + 200, `detected after ${detectedMs} ms`);
    assert.ok(detectedMs >= 250, `not before a heartbeat was missed (${detectedMs} ms)`);
    const unhealthy = events.find((e) => e.type === "agent.state" && e.agentId === runner && e.to === "UNHEALTHY");
    assert.match(String(unhealthy?.data?.reason), /missed \d+ heartbeat interval/);
    // The silent process was killed before its replacement started.
    await until(() => !alive(frozen.pid as number), "the frozen process killed", 3_000);
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // gone, as it should be
      }
    }
    const done = await factory.waitForTask(task.id, 10_000);
    assert.equal(done.state, "SUCCEEDED");
    assert.equal(succeededEvents(events, task.id), 1);
    await until(async () => (await factory.getAgent(runner)).state === "READY", "the replacement READY", 5_000);
    const back = await factory.getAgent(runner);
    assert.equal(back.restarts, 1);
    assert.deepEqual([back.health.missed, back.health.suspect], [0, null]);
    const health = factory.stats().health;
    assert.equal(health.replaced.silent, 1);
    assert.equal(health.detectionMs.samples, 1);
    assert.ok(health.replacementMs.samples >= 1 && health.replacementMs.p50 < 1_000, `replacement READY in ${health.replacementMs.p50} ms`);
  });

  it("a busy agent that keeps heartbeating but makes no progress: the task is re-run elsewhere; its late answer is discarded and counted", async () => {
    const events = record(factory);
    factory.registerProfile({
      name: "slowpy",
      role: "Worker",
      runtime: { kind: "process", command: ["python3", `/agent/${marker}.py`], files: [py] },
      pool: { spawnStrategy: "manual", stuckThresholdMs: 500 },
      health: { heartbeatIntervalMs: 250 },
    });
    const first = await factory.spawnAgent({ profile: "slowpy" });
    // Python's example agent does not hear task/cancel while it sleeps: on `first` it answers after
    // 0.8 s — too late (stuck after 0.5 s), but before it would be replaced (stuck twice as long).
    const task = await factory.submitTask({ profile: "slowpy", input: { text: "late", sleepMs: 800, sleepOn: first.id }, maxAttempts: 3 });
    await until(() => events.some((e) => e.type === "agent.health" && e.agentId === first.id && String(e.data?.suspect ?? "").startsWith("stuck")), "the agent suspect", 3_000);
    const suspect = await factory.getAgent(first.id);
    assert.match(String(suspect.health.suspect), /^stuck: no progress on task/);
    assert.equal((await factory.getTask(task.id)).state, "QUEUED", "back in the queue, waiting for an agent that is not suspect");
    const second = await factory.spawnAgent({ profile: "slowpy" });
    const done = await factory.waitForTask(task.id, 10_000);
    assert.equal(done.state, "SUCCEEDED");
    assert.equal(done.attempts, 2);
    assert.equal(done.agentId, second.id, "re-run elsewhere");
    assert.deepEqual(done.result, { upper: "LATE", by: "python", runs: 1 });
    // The first agent's answer arrives, is discarded and counted, and the agent is trusted again.
    await until(async () => (await factory.getAgent(first.id)).health.suspect === null, "the first agent trusted again", 3_000);
    assert.equal(factory.stats().lateResults, 1, "the late answer was counted");
    assert.equal((await factory.getAgent(first.id)).restarts, 0, "suspect, not replaced");
    assert.equal(succeededEvents(events, task.id), 1);
    assert.deepEqual((await factory.getTask(task.id)).result, done.result);
  });
});

describe("watchdog: function agents", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let release: () => void = () => {};
  let probeOk = true;
  beforeEach(async () => {
    probeOk = true;
    ({ factory, close } = await testFactory({
      handlers: {
        // Hangs on its first run (until released), quick afterwards.
        hang: async (input: unknown, ctx: HandlerContext) => {
          if ((input as { hang?: boolean }).hang === true && ctx.task.attempts === 1) await new Promise<void>((r) => (release = r));
          return { by: ctx.agent.id };
        },
        flaky: (input: unknown) => {
          if ((input as { ok: boolean }).ok) return "ok";
          throw new Error("bad");
        },
        probed: { run: () => "ok", probe: () => probeOk },
      },
    }));
  });
  afterEach(async () => {
    release();
    await close();
  });

  it("a hung handler: stuck detection re-dispatches the task to another agent; the hung one's late result is discarded", async () => {
    const events = record(factory);
    factory.registerProfile({ name: "hanger", role: "H", runtime: { kind: "function", handler: "hang" }, pool: { spawnStrategy: "manual", stuckThresholdMs: 200 } });
    const a = await factory.spawnAgent({ profile: "hanger" });
    const b = await factory.spawnAgent({ profile: "hanger" });
    const task = await factory.submitTask({ profile: "hanger", input: { hang: true } });
    const done = await factory.waitForTask(task.id, 5_000);
    assert.equal(done.state, "SUCCEEDED");
    assert.equal(done.attempts, 2);
    const first = events.find((e) => e.type === "task.state" && e.taskId === task.id && e.to === "RUNNING")?.agentId;
    const hung = first === a.id ? a : b;
    const other = first === a.id ? b : a;
    assert.deepEqual(done.result, { by: other.id }, "the retry ran elsewhere");
    assert.match(String((await factory.getAgent(hung.id)).health.suspect), /^stuck/);
    const late = factory.stats().lateResults;
    release();
    await until(async () => (await factory.getAgent(hung.id)).health.suspect === null, "the hung agent trusted again");
    assert.equal(factory.stats().lateResults, late + 1);
    assert.equal(succeededEvents(events, task.id), 1);
    assert.equal((await factory.getTask(task.id)).result !== null, true);
    assert.deepEqual((await factory.getTask(task.id)).result, { by: other.id }, "the late result did not replace the recorded one");
  });

  it("a handler stuck for twice the threshold even after cancel: its agent is replaced under the same id", async () => {
    factory.registerProfile({ name: "hanger2", role: "H2", runtime: { kind: "function", handler: "hang" }, pool: { spawnStrategy: "manual", stuckThresholdMs: 150 } });
    const a = await factory.spawnAgent({ profile: "hanger2" });
    const task = await factory.submitTask({ agentId: a.id, input: { hang: true }, maxAttempts: 3 });
    await until(async () => (await factory.getAgent(a.id)).restarts === 1 && (await factory.getAgent(a.id)).state === "READY", "replaced", 3_000);
    const done = await factory.waitForTask(task.id, 3_000);
    assert.equal(done.state, "SUCCEEDED");
    assert.equal(factory.stats().health.replaced.stuck, 1);
    assert.equal((await factory.getAgent(a.id)).health.suspect, null);
  });

  it("an agent whose success rate falls below the profile's minimum is drained and replaced, judged afresh", async () => {
    const events = record(factory);
    factory.registerProfile({ name: "flaky", role: "F", runtime: { kind: "function", handler: "flaky" }, pool: { spawnStrategy: "manual" }, health: { minSuccessRate: 0.5, qualityWindow: 4 } });
    const a = await factory.spawnAgent({ profile: "flaky" });
    for (let i = 0; i < 4; i++) await factory.waitForTask((await factory.submitTask({ agentId: a.id, input: { ok: false }, maxAttempts: 1 })).id, 2_000);
    await until(async () => (await factory.getAgent(a.id)).restarts === 1 && (await factory.getAgent(a.id)).state === "READY", "replaced for quality", 3_000);
    const back = await factory.getAgent(a.id);
    assert.deepEqual([back.health.samples, back.health.successRate, back.health.suspect], [0, 1, null]);
    assert.deepEqual(back.stats, { completed: 0, failed: 4 }, "lifetime stats stay");
    assert.equal(factory.stats().health.replaced.quality, 1);
    assert.ok(events.some((e) => e.type === "agent.health" && e.agentId === a.id && e.data?.reason === "drained for quality"));
    const ok = await factory.waitForTask((await factory.submitTask({ agentId: a.id, input: { ok: true } })).id, 2_000);
    assert.equal(ok.state, "SUCCEEDED");
  });

  it("a function agent whose probe fails: not ready after one miss, replaced after missedHeartbeats", async () => {
    factory.registerProfile({ name: "probed", role: "P", runtime: { kind: "function", handler: "probed" }, pool: { spawnStrategy: "manual", healthIntervalMs: 50 }, health: { missedHeartbeats: 3 } });
    const a = await factory.spawnAgent({ profile: "probed" });
    await until(async () => (await factory.getAgent(a.id)).health.lastHeartbeatAt !== null, "a probe answered");
    probeOk = false;
    await until(async () => (await factory.getAgent(a.id)).health.missed >= 1, "a missed probe");
    // Not ready: a task for it waits rather than run.
    const task = await factory.submitTask({ agentId: a.id, input: "x" });
    assert.equal((await factory.getTask(task.id)).state, "QUEUED");
    await until(async () => (await factory.getAgent(a.id)).restarts === 1, "replaced", 3_000);
    probeOk = true;
    assert.equal((await factory.waitForTask(task.id, 2_000)).state, "SUCCEEDED");
    assert.equal(factory.stats().health.replaced.silent, 1);
  });
});
