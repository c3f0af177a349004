// Pins one attempt's life in the runner (driven by its dispatcher, no factory): timeouts, retries with backoff, dead letters, late results, result size.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { Task } from "../../src/core/task.ts";
import type { HandlerContext } from "../../src/runtimes/function/function-handler.ts";
import { MAX_RESULT_BYTES } from "../../src/scheduler/task-result.ts";
import { task } from "../conformance/store.conformance.ts";
import { until } from "../helpers.ts";
import { movesOf, schedulerParts, type Parts } from "./parts.ts";

describe("runner", () => {
  let parts: Parts;
  afterEach(async () => {
    release();
    await parts.close();
    assert.deepEqual(parts.errors, []);
  });

  let release: () => void = () => {};
  let started = 0;
  /** Outcomes reported for quality trends, as `ok` flags. */
  const outcomes: boolean[] = [];
  const open = async () => {
    started = 0;
    outcomes.length = 0;
    const gate = new Promise<void>((resolve) => (release = resolve));
    parts = schedulerParts({
      // Ends when its signal aborts (it honours timeouts and cancels).
      polite: (_input: unknown, ctx: HandlerContext) => {
        started++;
        return new Promise((_resolve, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason as Error)));
      },
      // Ignores its signal: answers only once the gate opens.
      deaf: async () => {
        started++;
        await gate;
        return "late answer";
      },
      big: () => "x".repeat(MAX_RESULT_BYTES),
    });
    for (const handler of ["polite", "deaf", "big"]) {
      parts.profile({ name: handler, role: handler === "big" ? "Big" : handler === "deaf" ? "Deaf" : "Polite", runtime: { kind: "function", handler }, pool: { spawnStrategy: "manual" } });
    }
    const dispatcher = parts.dispatcher({ onOutcome: (_agent, ok) => outcomes.push(ok) });
    return { dispatcher, runner: dispatcher.runner };
  };
  const final = (t: Task, state: Task["state"]) => until(() => t.state === state, `${t.id} ${state}`, 10_000);

  it("retries a timed-out attempt after its backoff, then dead-letters it with TASK_TIMEOUT after the last attempt", async () => {
    const { dispatcher } = await open();
    const agent = await parts.spawn("polite");
    const t = task("task_timeout", { role: "Polite", timeoutMs: 40, maxAttempts: 2, retryBackoffMs: 100 });
    dispatcher.enqueue(t);
    await final(t, "DEAD");
    assert.deepEqual(movesOf(parts.emitted, t), ["QUEUED→ASSIGNED", "ASSIGNED→RUNNING", "RUNNING→QUEUED", "QUEUED→ASSIGNED", "ASSIGNED→RUNNING", "RUNNING→DEAD"]);
    const message = "task task_timeout ran past its timeout of 40 ms";
    assert.deepEqual([t.attempts, t.error, t.retryAt, started], [2, { code: "TASK_TIMEOUT", message }, null, 2]);
    // The retry waited out its backoff: attempt 1 of base 100 ms is 50–100 ms (equal jitter).
    const moves = parts.emitted.filter((e) => e.type === "task.state" && e.taskId === t.id);
    const requeued = moves.find((e) => e.to === "QUEUED" && e.from === "RUNNING");
    assert.equal(requeued?.data?.reason, `attempt 1 failed: ${message}`);
    const secondStart = moves.filter((e) => e.to === "RUNNING")[1];
    const waitedMs = Date.parse(secondStart?.at ?? "") - Date.parse(requeued?.at ?? "");
    assert.ok(waitedMs >= 49 && waitedMs < 1_000, `the retry started ${waitedMs} ms after the timeout`);
    assert.deepEqual([agent.load, agent.state, agent.stats, outcomes], [0, "READY", { completed: 0, failed: 2 }, [false, false]]);
  });

  it("records a result that arrives after the timeout as late, and does not apply it", async () => {
    const { dispatcher, runner } = await open();
    const agent = await parts.spawn("deaf");
    const t = task("task_late", { role: "Deaf", timeoutMs: 30, maxAttempts: 1 });
    dispatcher.enqueue(t);
    await final(t, "DEAD");
    // Decided, yet the handler still holds the agent's slot: that is the truth about the agent.
    assert.deepEqual([runner.lateResults, runner.running, agent.load, agent.state], [0, 1, 1, "BUSY"]);
    release();
    await until(() => runner.running === 0, "the late handler returning", 10_000);
    assert.deepEqual([runner.lateResults, dispatcher.lateResults, t.state, t.error?.code, "result" in t], [1, 1, "DEAD", "TASK_TIMEOUT", false]);
    assert.deepEqual([agent.load, agent.state], [0, "READY"]);
  });

  it("holds the retry of a timed-out attempt until its handler returns, so the task never runs twice at once", async () => {
    const { dispatcher, runner } = await open();
    await parts.spawn("deaf");
    await parts.spawn("deaf");
    const t = task("task_held", { role: "Deaf", timeoutMs: 30, maxAttempts: 2, retryBackoffMs: 0 });
    dispatcher.enqueue(t);
    await until(() => t.state === "QUEUED" && t.attempts === 1, "the timeout", 10_000);
    // A second agent is free, yet the retry waits for the first handler (or its cap of 1 s):
    // nothing to wait for here but time, so a short fixed wait, well under the cap.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual([t.state, started, runner.running], ["QUEUED", 1, 1]);
    release();
    await final(t, "SUCCEEDED");
    assert.deepEqual([started, t.attempts, t.result, runner.lateResults], [2, 2, "late answer", 1]);
  });

  it("fails a result over the size limit with RESULT_TOO_LARGE, without another attempt", async () => {
    const { dispatcher } = await open();
    const agent = await parts.spawn("big");
    const t = task("task_big", { role: "Big", maxAttempts: 3 });
    dispatcher.enqueue(t);
    await final(t, "FAILED");
    assert.deepEqual([t.attempts, t.error?.code, "result" in t], [1, "RESULT_TOO_LARGE", false]);
    assert.equal(
      t.error?.message,
      `the handler's result is ${MAX_RESULT_BYTES + 2} bytes as JSON, over the limit of ${MAX_RESULT_BYTES}: keep large outputs in the workspace or crew context and return a reference`,
    );
    // Counted as a failure, but not held against the agent's quality: retrying cannot help.
    assert.deepEqual([agent.stats, outcomes], [{ completed: 0, failed: 1 }, []]);
  });

  it("delays every handler's start by the chaos latency while it is set", async () => {
    const { dispatcher, runner } = await open();
    await parts.spawn("deaf");
    release();
    runner.setChaosLatency(150);
    assert.equal(runner.chaosLatencyMs, 150);
    const t = task("task_slow", { role: "Deaf" });
    const before = Date.now();
    dispatcher.enqueue(t);
    assert.equal(started, 0);
    await final(t, "SUCCEEDED");
    assert.ok(Date.now() - before >= 149, "the handler started after the injected latency");
    runner.setChaosLatency(0);
    assert.equal(runner.chaosLatencyMs, 0);
  });
});
