// The promises every AgentRuntime keeps (src/core/ports/runtime.ts), as the factory relies on them
// (src/agents/spawner.ts starts and stops handles; src/scheduler/dispatcher.ts runs and aborts
// attempts; the watchdog reads liveness; the crew manager sends signals); run by each runtime's
// test/runtimes/*-runtime.contract.test.ts. The suite plays the factory: it hands the runtime a
// recording AgentServices and checks what arrives through it.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { freshHealth, type Agent } from "../../src/core/agent.ts";
import { FactoryError } from "../../src/core/errors.ts";
import { newAgentId, newTaskId, newWalletAddress } from "../../src/core/ids.ts";
import type { AgentHandle, AgentRuntime, AgentServices, ModelAccess, TaskAccess } from "../../src/core/ports/runtime.ts";
import { ProfileSchema, type ProfileInput, type ProfileRecord } from "../../src/core/schemas/profile.ts";
import type { Task } from "../../src/core/task.ts";
import { alive, until } from "../helpers.ts";

/**
 * One runtime, ready to start the contract agent: an agent whose task input `{ op, ... }` says what it
 * does — echo, fail, hang (until aborted), progress, crash, signals, context, log — as in
 * test/fixtures/contract-agent.mjs (process), contract-function-agent.ts, contract-mock-script.yaml (llm).
 */
export interface RuntimeUnderContract {
  runtime: AgentRuntime;
  /** A profile of the contract agent for this runtime. */
  profile: ProfileRecord;
  /** What the factory lends this runtime's agents besides the hooks the suite records (the llm runtime's model router). */
  lend?: { models?: ModelAccess; tasks?: TaskAccess };
  /**
   * Whether the agent is inside a `{ op: "hang" }` attempt, so an abort finds it running, not on its way in.
   * Default: it reported progress "hanging" on the task (what the function and process contract agents do).
   */
  hanging?: (task: Task, services: RecordedServices) => boolean;
  /** Ends whatever the test left running and checks that nothing outlives the runtime; `started`: agents the test started. */
  cleanup(report: { started: number }): Promise<void>;
}

/** A failure as the dispatcher reads it (`describe()` and `nonRetryable`). */
export interface ExpectedFailure {
  code: string;
  message: string;
  nonRetryable: boolean;
}

/** A capability a runtime legitimately lacks, and why (shown as the skipped test's reason). */
export interface Lacks {
  lacks: string;
}

export interface RuntimeContract {
  kind: string;
  /** Names this run of the suite when a runtime is run more than once (e.g. "warm sandboxes"). */
  variant?: string;
  create(): Promise<RuntimeUnderContract>;
  /** What the contract agent answers, exactly, on this runtime. */
  expect: {
    /** The result of `{ op: "echo", text }`. */
    echo(text: string): unknown;
    /** The rejection of `{ op: "fail", message, retryable }`. */
    failure(message: string, retryable: boolean): ExpectedFailure;
    /** The rejection of a `{ op: "hang" }` attempt whose signal was aborted with `reason`. */
    aborted(reason: FactoryError): ExpectedFailure;
    /** The `services.progress` calls (message, fraction) for `{ op: "progress", message, fraction, text }`, and its result. */
    progress(message: string, fraction: number, text: string): { calls: Array<[string | undefined, number | undefined]>; result: unknown };
    /** `handle.liveness`: how the watchdog knows the agent is alive. */
    liveness: "heartbeat" | "probe" | undefined;
    /** Whether handles are host processes (`handle.pid`). */
    pid: boolean;
    /** Which optional members of the port this runtime has. */
    optional: { kill: boolean; suspend: boolean; freeze: boolean; close: boolean; forget: boolean; stats: boolean };
  };
  /** What only some runtimes can do. */
  can: {
    /** The agent has a broadcast signal by the time `signal()` resolves (its next run sees it). */
    signals: true | Lacks;
    /** The agent starts from the agent's saved context and saves a new one (`services.saveContext`). */
    context: true | Lacks;
    /** The agent's log lines reach `services.log`: as which (level, message) a line it writes arrives. */
    logs: { line(message: string): [string, string] } | Lacks;
    /** The agent can die on its own (its process exits or is killed): what then arrives. */
    die: { crashed: { run: ExpectedFailure; lost: string }; killed: { lost: string } } | Lacks;
    /** What a runtime keeps for an agent across suspend and wipes at stop/forget (a workspace): whether it is kept now. */
    keeps: { kept(agentId: string): boolean } | Lacks;
    /** The stats() figures that are exact for `agents` started and still running. */
    stats: { exact(agents: number): Record<string, unknown> } | Lacks;
  };
}

/** What the suite's AgentServices heard from a runtime: the factory's side of the port. */
export class RecordedServices implements AgentServices {
  readonly crew = null;
  readonly models: ModelAccess | undefined;
  readonly tasks: TaskAccess | undefined;
  readonly saved: Array<Record<string, unknown>> = [];
  readonly losses: string[] = [];
  heartbeats = 0;
  readonly progressed: Array<[string, string | undefined, number | undefined]> = [];
  readonly logs: Array<[string, string]> = [];

  constructor(lend: RuntimeUnderContract["lend"] = {}) {
    this.models = lend.models;
    this.tasks = lend.tasks;
  }

  saveContext(context: Record<string, unknown>): void {
    this.saved.push(structuredClone(context));
  }
  lost(reason: string): void {
    this.losses.push(reason);
  }
  heartbeat(): void {
    this.heartbeats++;
  }
  progress(taskId: string, message: string | undefined, fraction: number | undefined): void {
    this.progressed.push([taskId, message, fraction]);
  }
  log(level: "debug" | "info" | "warn" | "error", message: string): void {
    this.logs.push([level, message]);
  }
}

/** A registered profile (defaults applied, version 1), as the factory hands it to `start`. */
export function profileRecord(input: ProfileInput): ProfileRecord {
  return { ...ProfileSchema.parse(input), version: 1, createdAt: new Date().toISOString() };
}

/** An agent of `profile` as the spawner has it while the runtime starts it (WARMING). */
export function agentOf(profile: ProfileRecord, context: Record<string, unknown> = {}): Agent {
  const now = new Date().toISOString();
  return {
    id: newAgentId(),
    name: profile.name,
    profile: profile.name,
    profileVersion: profile.version,
    role: profile.role,
    capabilities: profile.capabilities,
    scopes: profile.scopes,
    cognitiveLoadLimit: profile.cognitiveLoadLimit,
    state: "WARMING",
    crewId: null,
    nodeId: "node-test",
    walletAddress: newWalletAddress(profile.role),
    spawnedAt: now,
    load: 0,
    stats: { completed: 0, failed: 0 },
    restarts: 0,
    health: freshHealth(),
    pid: null,
    lastSignal: null,
    context,
    updatedAt: now,
  };
}

/** A task as the dispatcher hands it to `run` (RUNNING on the agent). */
function taskFor(agent: Agent, input: unknown): Task {
  const now = new Date().toISOString();
  return {
    id: newTaskId(),
    state: "RUNNING",
    input,
    role: agent.role,
    profile: null,
    capabilities: [],
    crewId: null,
    priority: 0,
    timeoutMs: null,
    maxAttempts: 3,
    attempts: 1,
    retryBackoffMs: 0,
    retryAt: null,
    redrives: 0,
    traceId: null,
    affinityKey: null,
    idempotencyKey: null,
    balancer: null,
    targetAgentId: agent.id,
    agentId: agent.id,
    createdAt: now,
    startedAt: now,
    finishedAt: null,
    updatedAt: now,
  };
}

/** Asserts that `promise` rejects with a FactoryError of exactly this code, message and retry control. */
async function rejectsWith(promise: Promise<unknown>, expected: ExpectedFailure): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof FactoryError, `a FactoryError, not ${String(error)}`);
    assert.deepEqual({ code: error.code, message: error.message, nonRetryable: error.nonRetryable }, expected);
    return true;
  });
}

const skipUnless = (capability: unknown): { skip?: string } => (typeof capability === "object" && capability !== null && "lacks" in capability ? { skip: (capability as Lacks).lacks } : {});

/** A generous bound for one test on a loaded 2-core machine: the suite waits on hooks and states, never on the clock. */
const TEST_TIMEOUT_MS = 60_000;

export function runtimeContract(contract: RuntimeContract): void {
  const { expect, can } = contract;

  describe(`${contract.kind} runtime${contract.variant === undefined ? "" : ` (${contract.variant})`}: the AgentRuntime contract`, { timeout: TEST_TIMEOUT_MS }, () => {
    let subject: RuntimeUnderContract;
    /** Everything a test started, stopped after it (stop is idempotent, so a test may have stopped some already). */
    let started: AgentHandle[];

    beforeEach(async () => {
      subject = await contract.create();
      started = [];
    });
    afterEach(async () => {
      await Promise.all(started.map((handle) => handle.stop()));
      await subject.cleanup({ started: started.length });
    });

    /** Starts an agent of the contract profile, as the spawner does. */
    async function start(context: Record<string, unknown> = {}): Promise<{ agent: Agent; handle: AgentHandle; services: RecordedServices }> {
      const agent = agentOf(subject.profile, context);
      const services = new RecordedServices(subject.lend);
      const handle = await subject.runtime.start(agent, subject.profile, services);
      started.push(handle);
      return { agent, handle, services };
    }

    /** Starts a `{ op: "hang" }` attempt and waits until the agent is inside it. */
    async function hang(agent: Agent, handle: AgentHandle, services: RecordedServices): Promise<ReturnType<typeof run>> {
      const attempt = run(agent, handle, { op: "hang" });
      const inside = subject.hanging ?? ((task, recorded) => recorded.progressed.some(([id, message]) => id === task.id && message === "hanging"));
      await until(() => inside(attempt.task, services), "the agent inside its hanging attempt", 20_000);
      return attempt;
    }

    /** Runs one attempt as the dispatcher does: the task, and an AbortController it may abort. */
    function run(agent: Agent, handle: AgentHandle, input: unknown): { task: Task; controller: AbortController; result: Promise<unknown> } {
      const task = taskFor(agent, input);
      const controller = new AbortController();
      return { task, controller, result: handle.run(input, { task, signal: controller.signal }) };
    }

    it("has its kind, accepts its own profile and refuses another kind's, naming runtime.kind, at validate and at start", async () => {
      // The factory finds a profile's runtime by `runtime.kind` (Spawner.runtimeFor).
      assert.equal(subject.runtime.kind, contract.kind);
      assert.equal(subject.profile.runtime.kind, contract.kind);
      subject.runtime.validate(subject.profile);
      const other = profileRecord({
        name: "other",
        role: "Other",
        runtime: contract.kind === "function" ? { kind: "llm", systemPrompt: "You are another kind." } : { kind: "function", handler: "echo" },
      });
      assert.throws(
        () => subject.runtime.validate(other),
        (error: unknown) => error instanceof FactoryError && error.code === "VALIDATION_FAILED" && error.field === "runtime.kind" && /^runtime\.kind: /.test(error.message),
      );
      // The spawner reports a failed start with the runtime's field (AGENT_START_FAILED keeps it).
      const services = new RecordedServices(subject.lend);
      await assert.rejects(subject.runtime.start(agentOf(other), other, services), { code: "VALIDATION_FAILED", field: "runtime.kind" });
      assert.deepEqual(services.losses, []);
    });

    it("has exactly the optional members it declares", async () => {
      const { handle } = await start();
      const o = expect.optional;
      assert.deepEqual(
        {
          kill: typeof handle.kill,
          suspend: typeof handle.suspend,
          freeze: typeof handle.freeze,
          close: typeof subject.runtime.close,
          forget: typeof subject.runtime.forget,
          stats: typeof subject.runtime.stats,
        },
        {
          kill: o.kill ? "function" : "undefined",
          suspend: o.suspend ? "function" : "undefined",
          freeze: o.freeze ? "function" : "undefined",
          close: o.close ? "function" : "undefined",
          forget: o.forget ? "function" : "undefined",
          stats: o.stats ? "function" : "undefined",
        },
      );
    });

    it("start returns a handle whose run resolves with the agent's result", async () => {
      const { agent, handle, services } = await start();
      // The spawner records `handle.pid` on the agent; it names a live host process or nothing.
      if (expect.pid) assert.ok(handle.pid !== undefined && alive(handle.pid), `pid ${handle.pid} is a live process`);
      else assert.equal(handle.pid, undefined);
      assert.deepEqual(await run(agent, handle, { op: "echo", text: "one" }).result, expect.echo("one"));
      assert.deepEqual(await run(agent, handle, { op: "echo", text: "two" }).result, expect.echo("two"));
      assert.deepEqual(services.losses, []);
    });

    it("runs attempts on one handle at once: one still running does not hold up another", async () => {
      // The dispatcher runs up to the profile's cognitiveLoadLimit attempts on a handle at once.
      const { agent, handle, services } = await start();
      const hanging = await hang(agent, handle, services);
      let hangSettled = false;
      void hanging.result.then(
        () => (hangSettled = true),
        () => (hangSettled = true),
      );
      assert.deepEqual(await run(agent, handle, { op: "echo", text: "meanwhile" }).result, expect.echo("meanwhile"));
      assert.equal(hangSettled, false, "the first attempt is still running");
      const reason = new FactoryError("TASK_CANCELLED", "done with it");
      hanging.controller.abort(reason);
      await rejectsWith(hanging.result, expect.aborted(reason));
    });

    it("a retryable failure of the agent rejects run with its code and message, nonRetryable false; the agent takes the next task", async () => {
      const { agent, handle, services } = await start();
      await rejectsWith(run(agent, handle, { op: "fail", message: "try again", retryable: true }).result, expect.failure("try again", true));
      assert.deepEqual(await run(agent, handle, { op: "echo", text: "after" }).result, expect.echo("after"));
      assert.deepEqual(services.losses, []);
    });

    it("a final failure rejects run with nonRetryable: true, so the dispatcher does not retry it", async () => {
      const { agent, handle } = await start();
      await rejectsWith(run(agent, handle, { op: "fail", message: "give up", retryable: false }).result, expect.failure("give up", false));
      assert.deepEqual(await run(agent, handle, { op: "echo", text: "after" }).result, expect.echo("after"));
    });

    it("aborting the signal stops a running attempt: run settles, with no result; the agent takes the next task", async () => {
      // Cancel, timeout, stuck and forced shutdown all abort the attempt's signal; its slot is freed only when run settles.
      for (const reason of [new FactoryError("TASK_CANCELLED", "cancelled by the operator"), new FactoryError("TASK_TIMEOUT", "ran past its timeout of 50 ms")]) {
        const { agent, handle, services } = await start();
        const attempt = await hang(agent, handle, services);
        attempt.controller.abort(reason);
        await rejectsWith(attempt.result, expect.aborted(reason));
        assert.deepEqual(await run(agent, handle, { op: "echo", text: "next" }).result, expect.echo("next"));
        assert.deepEqual(services.losses, []);
      }
    });

    it("reports progress through services.progress with the task's id, before the result", async () => {
      const { agent, handle, services } = await start();
      const attempt = run(agent, handle, { op: "progress", message: "halfway", fraction: 0.5, text: "p" });
      const { calls, result } = expect.progress("halfway", 0.5, "p");
      assert.deepEqual(await attempt.result, result);
      // Stuck detection counts progress as it arrives: by the time the answer is in, so is the progress before it.
      assert.deepEqual(
        services.progressed,
        calls.map(([message, fraction]) => [attempt.task.id, message, fraction]),
      );
    });

    it("says how its liveness is watched, and keeps it: heartbeats arrive, or the probe answers true", async () => {
      const { handle, services } = await start();
      assert.equal(handle.liveness, expect.liveness);
      if (expect.liveness === "heartbeat") {
        // The profile's heartbeatIntervalMs is short in the contract's profiles: several must arrive while it idles.
        const before = services.heartbeats;
        await until(() => services.heartbeats >= before + 3, "three heartbeats", 20_000);
      } else if (expect.liveness === "probe") {
        assert.equal(typeof handle.probe, "function");
        assert.equal(await handle.probe?.(), true);
      } else {
        assert.equal(typeof handle.probe, "undefined", "without liveness the watchdog neither hears nor probes it");
      }
    });

    it("signal resolves, whether or not the agent has a use for it (the crew manager waits on it for every member)", async () => {
      const { handle } = await start();
      assert.equal(await handle.signal("PAUSE", { reason: "contract" }), undefined);
    });

    it("the agent has a signal once signal() resolves: its next run sees it, in order", skipUnless(can.signals), async () => {
      const { agent, handle } = await start();
      await handle.signal("PAUSE", { n: 1 });
      await handle.signal("RESUME", null);
      const result = await run(agent, handle, { op: "signals" }).result;
      assert.deepEqual(result, { signals: [{ signal: "PAUSE", payload: { n: 1 } }, { signal: "RESUME", payload: null }] });
    });

    it("the agent starts from its saved context and saves a new one through services.saveContext", skipUnless(can.context), async () => {
      // What a replacement or a woken agent starts from (the spawner passes the agent's context to start).
      const { agent, handle, services } = await start({ runs: 2, notes: ["a"] });
      const result = await run(agent, handle, { op: "context", save: { runs: 3 } }).result;
      assert.deepEqual(result, { started: { runs: 2, notes: ["a"] } });
      assert.deepEqual(services.saved, [{ runs: 3 }], "saved before the answer");
    });

    it("the agent's log lines reach services.log", skipUnless(can.logs), async () => {
      const { agent, handle, services } = await start();
      assert.deepEqual(await run(agent, handle, { op: "log", message: "a line for the log", text: "l" }).result, expect.echo("l"));
      assert.ok(!("lacks" in can.logs));
      const line = can.logs.line("a line for the log");
      // Its own stream: it may come in just after the answer.
      await until(() => services.logs.some(([level, message]) => JSON.stringify([level, message]) === JSON.stringify(line)), `the log line ${JSON.stringify(line)}`, 10_000);
    });

    it("stop ends the agent without reporting it lost, and a second stop is a no-op", async () => {
      const { agent, handle, services } = await start();
      assert.deepEqual(await run(agent, handle, { op: "echo", text: "x" }).result, expect.echo("x"));
      await handle.stop();
      await handle.stop();
      // An ending the factory asked for is not a loss: a lost report would make it replace the agent.
      assert.deepEqual(services.losses, []);
      if (expect.pid) assert.equal(alive(handle.pid as number), false, "its process is gone when stop resolves");
      if (!("lacks" in can.keeps)) assert.equal(can.keeps.kept(agent.id), false, "stop releases what was kept for it");
    });

    it("kill ends the agent at once, resolves when it is gone, and is not reported lost", { ...(expect.optional.kill ? {} : { skip: "no kill: nothing to end without asking (the factory falls back to stop)" }) }, async () => {
      const { handle, services } = await start();
      await handle.kill?.();
      if (expect.pid) assert.equal(alive(handle.pid as number), false);
      assert.deepEqual(services.losses, []);
    });

    it("freeze stops the agent cold for ms: a run sent meanwhile is answered only once it thaws", { ...(expect.optional.freeze ? {} : { skip: "no freeze: nothing to stop cold (chaos runs freeze process agents)" }) }, async () => {
      const { agent, handle, services } = await start();
      const ms = 400;
      const frozenAt = performance.now();
      handle.freeze?.(ms);
      assert.deepEqual(await run(agent, handle, { op: "echo", text: "thawed" }).result, expect.echo("thawed"));
      // Node's timers count whole milliseconds of loop time, so the thaw may come up to 1 ms before performance.now() says ms.
      const elapsed = performance.now() - frozenAt;
      assert.ok(elapsed >= ms - 1, `answered ${elapsed.toFixed(1)} ms after the freeze`);
      assert.deepEqual(services.losses, [], "frozen is not lost");
    });

    it("suspend releases the agent but keeps what a woken one needs; forget wipes it", skipUnless(can.keeps), async () => {
      assert.ok(!("lacks" in can.keeps));
      const { agent, handle, services } = await start();
      assert.equal(can.keeps.kept(agent.id), true);
      await (handle.suspend?.() ?? handle.stop());
      assert.deepEqual(services.losses, []);
      if (expect.pid) assert.equal(alive(handle.pid as number), false);
      assert.equal(can.keeps.kept(agent.id), true, "suspend keeps it");
      subject.runtime.forget?.(agent.id);
      assert.equal(can.keeps.kept(agent.id), false, "forget wipes it");
    });

    it("an agent that dies mid-task: run rejects with AGENT_LOST and services.lost is called exactly once", skipUnless(can.die), async () => {
      assert.ok(!("lacks" in can.die));
      const { agent, handle, services } = await start();
      await rejectsWith(run(agent, handle, { op: "crash" }).result, can.die.crashed.run);
      await until(() => services.losses.length > 0, "the loss reported", 10_000);
      // A run on the dead handle fails the same way, and reports nothing more.
      await assert.rejects(run(agent, handle, { op: "echo", text: "x" }).result, { code: "AGENT_LOST" });
      await handle.stop();
      assert.deepEqual(services.losses, [can.die.crashed.lost]);
    });

    it("an idle agent killed from outside is reported lost exactly once", skipUnless(can.die), async () => {
      assert.ok(!("lacks" in can.die));
      const { handle, services } = await start();
      process.kill(handle.pid as number, "SIGKILL");
      await until(() => services.losses.length > 0, "the loss reported", 10_000);
      await handle.stop();
      assert.deepEqual(services.losses, [can.die.killed.lost]);
    });

    it("close ends every agent it runs without reporting them lost, and keeps what a restart brings back", { ...(expect.optional.close ? {} : { skip: "no close: it runs nothing that outlives its handles" }) }, async () => {
      const one = await start();
      const two = await start();
      await subject.runtime.close?.();
      assert.deepEqual([one.services.losses, two.services.losses], [[], []]);
      if (expect.pid) assert.deepEqual([alive(one.handle.pid as number), alive(two.handle.pid as number)], [false, false]);
      if (!("lacks" in can.keeps)) assert.deepEqual([can.keeps.kept(one.agent.id), can.keeps.kept(two.agent.id)], [true, true]);
    });

    it("stats is plain JSON for /ready, and counts what it runs", skipUnless(can.stats), async () => {
      assert.ok(!("lacks" in can.stats));
      await start();
      await start();
      const stats = subject.runtime.stats?.() as Record<string, unknown>;
      assert.deepEqual(JSON.parse(JSON.stringify(stats)), stats);
      const exact = can.stats.exact(2);
      assert.deepEqual(Object.fromEntries(Object.keys(exact).map((key) => [key, stats[key]])), exact);
    });
  });
}
