import { abortError, AbortReason, isAbortEcho } from "../core/abort-reason.ts";
import type { Agent } from "../core/agent.ts";
import { FactoryError, isFactoryError } from "../core/errors.ts";
import type { Task } from "../core/task.ts";
import type { AgentRegistry } from "../state/agent-registry.ts";
import { backoffDelayMs } from "./backoff.ts";
import { describeError, taskResult } from "./task-result.ts";
import type { TaskTransitions } from "./task-transitions.ts";

/**
 * The matching side, as the runner needs it: where a task goes back to when it must run again,
 * and where an agent's availability is weighed again (it turned suspect). The Dispatcher.
 */
export interface Matching {
  enqueue(task: Task): void;
  refresh(agent: Agent): void;
}

export interface RunnerDeps {
  registry: AgentRegistry;
  /** How task states change; shared with the matching side. */
  transitions: TaskTransitions;
  matching: Matching;
  /** An attempt ended with this outcome after `latencyMs` (for quality trends). */
  onOutcome?(agent: Agent, ok: boolean, latencyMs: number): void;
}

/** One attempt of a task on an agent. */
interface Run {
  task: Task;
  agent: Agent;
  attempt: number;
  controller: AbortController;
  timer: NodeJS.Timeout | undefined;
  /** The task's outcome for this attempt is decided (by the handler, a timeout or a cancel). */
  concluded: boolean;
  /** A retry decided while the handler still runs: started when it returns (never two runs at once). */
  heldRetry: { delayMs: number; cap: NodeJS.Timeout; task?: Task } | undefined;
  startedAt: number;
  /** Last sign of progress (start, a progress report, output of the agent), for stuck detection. */
  lastProgressAt: number;
  /** Given up on as stuck: its agent is suspect until the handler returns. */
  stuck: boolean;
}

/** A running attempt as the watchdog sees it. */
export interface RunView {
  readonly task: Readonly<Task>;
  readonly agent: Agent;
  readonly startedAt: number;
  readonly lastProgressAt: number;
  readonly stuck: boolean;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Runs attempts: one task on one agent's runtime, from the agent's slot taken to its outcome.
 * It arms the task's timeout, decides the outcome (SUCCEEDED; QUEUED again after a backoff;
 * DEAD when the attempts are used up; FAILED when retrying cannot help), holds a retry while a
 * timed-out handler still runs so a task never runs twice at once, discards late results, and
 * gives the slot back when the handler returns. Which agent runs a task is the Dispatcher's
 * business; a task that must run again goes back to it.
 */
export class Runner {
  readonly #deps: RunnerDeps;
  /** Attempts whose handler has not returned yet; each holds one unit of its agent's load. */
  readonly #running = new Set<Run>();
  /** The current attempt of each task that is ASSIGNED or RUNNING. */
  readonly #current = new Map<string, Run>();
  /** Each agent's attempts whose handler has not returned. */
  readonly #byAgent = new Map<Agent, Set<Run>>();
  /** Tasks waiting out a retry backoff. */
  readonly #retryTimers = new Map<string, { task: Task; timer: NodeJS.Timeout }>();
  #stopped = false;
  #idleWaiters: Array<() => void> = [];
  #lateResults = 0;
  #chaosLatencyMs = 0;

  constructor(deps: RunnerDeps) {
    this.#deps = deps;
  }

  /** Attempts whose handler has not returned. */
  get running(): number {
    return this.#running.size;
  }

  /** Tasks waiting out a retry backoff. */
  get retrying(): number {
    return this.#retryTimers.size;
  }

  /** Results that arrived for an attempt that was no longer current (timed out, stuck, lost, replaced); discarded. */
  get lateResults(): number {
    return this.#lateResults;
  }

  /** Chaos: the delay added before every handler starts. */
  get chaosLatencyMs(): number {
    return this.#chaosLatencyMs;
  }

  /** Chaos: adds `ms` before every handler starts (latency injection); 0 turns it off. */
  setChaosLatency(ms: number): void {
    this.#chaosLatencyMs = ms;
  }

  /**
   * Runs an ASSIGNED task on its agent: takes one unit of the agent's load (BUSY at its limit)
   * until the handler returns.
   */
  start(task: Task, agent: Agent): void {
    agent.load++;
    const registry = this.#deps.registry;
    if (agent.load >= agent.cognitiveLoadLimit) registry.transition(agent, "BUSY", `at load limit ${agent.cognitiveLoadLimit}`);
    else if (agent.state === "IDLE") registry.transition(agent, "READY", "work arrived");
    else registry.touch(agent);
    void this.#run(task, agent, task.attempts);
  }

  /** Cancels a task that is not final: a retry it waits for is dropped; a running handler sees its AbortSignal fire. */
  cancel(task: Task, reason: string): void {
    if (task.state === "QUEUED") this.#clearRetry(task.id);
    const run = this.#current.get(task.id);
    this.#deps.transitions.finish(task, "CANCELLED", { error: { code: "TASK_CANCELLED", message: reason } });
    if (run !== undefined) {
      // The agent stays loaded until its handler returns; the task is final now.
      run.concluded = true;
      clearTimeout(run.timer);
      this.#current.delete(task.id);
      run.controller.abort(new AbortReason("cancelled", reason));
    }
  }

  /** Puts a dead-lettered task back in the queue with a fresh set of attempts. */
  redrive(task: Task): void {
    this.#deps.transitions.move(task, "QUEUED", "re-driven from the dead letters", {
      attempts: 0,
      redrives: task.redrives + 1,
      retryAt: null,
      agentId: null,
      error: undefined,
      finishedAt: null,
    });
    // Its last attempt timed out but the handler still runs: the new life starts when that
    // handler returns (or after a cap), so the task never runs twice at once.
    const still = [...this.#running].find((run) => run.task.id === task.id);
    if (still !== undefined && still.heldRetry === undefined) {
      const cap = setTimeout(() => this.#startHeldRetry(still), Math.max(task.timeoutMs ?? 0, 1_000));
      cap.unref();
      still.heldRetry = { delayMs: 0, cap, task };
      return;
    }
    this.#deps.matching.enqueue(task);
  }

  /** A QUEUED task goes back to matching after `delayMs` (its retry backoff). */
  retryLater(task: Task, delayMs: number): void {
    this.#clearRetry(task.id);
    // Stopped (shutting down): the task keeps its retryAt, and the next start arms it again.
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#retryTimers.delete(task.id);
      if (task.state !== "QUEUED") return;
      task.retryAt = null;
      this.#deps.matching.enqueue(task);
    }, delayMs);
    this.#retryTimers.set(task.id, { task, timer });
  }

  /** Drops the retries waiting out their backoff (at shutdown); the tasks stay QUEUED with their retryAt. */
  stop(): void {
    this.#stopped = true;
    for (const { timer } of this.#retryTimers.values()) clearTimeout(timer);
    this.#retryTimers.clear();
  }

  /** Resolves when nothing runs, or after `timeoutMs`. */
  async waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.#running.size === 0) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(this.#running.size === 0), timeoutMs);
      this.#idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /**
   * Gives up on every running task at a forced shutdown: each goes back to QUEUED (its
   * attempt counted) so the next start runs it again; handlers see their signal abort.
   */
  abandonRunning(reason: string): number {
    const runs = [...this.#running];
    this.#running.clear();
    this.#current.clear();
    this.#byAgent.clear();
    for (const run of runs) {
      clearTimeout(run.timer);
      if (!run.concluded && (run.task.state === "RUNNING" || run.task.state === "ASSIGNED")) this.#deps.transitions.move(run.task, "QUEUED", reason, { agentId: null });
      run.concluded = true;
      run.controller.abort(new AbortReason("shutting-down", reason));
    }
    this.#wakeIdleWaiters();
    return runs.length;
  }

  /** Running attempts (for the watchdog's stuck scan). */
  runs(): Iterable<RunView> {
    return this.#running;
  }

  /**
   * Whether a task is one of the agent's attempts: `current` (it runs the task now), `earlier`
   * (an attempt already decided whose handler still runs), or undefined (not the agent's).
   */
  attemptOf(agent: Agent, taskId: string): "current" | "earlier" | undefined {
    if (this.#current.get(taskId)?.agent === agent) return "current";
    for (const run of this.#byAgent.get(agent) ?? []) if (run.task.id === taskId) return "earlier";
    return undefined;
  }

  /** A sign of progress on a task: pushes its stuck deadline back. */
  progressed(taskId: string): void {
    const run = this.#current.get(taskId);
    if (run !== undefined) run.lastProgressAt = Date.now();
  }

  /** The agent wrote output (a log line): progress on everything it runs. */
  agentOutput(agent: Agent): void {
    const runs = this.#byAgent.get(agent);
    if (runs === undefined) return;
    const now = Date.now();
    for (const run of runs) run.lastProgressAt = now;
  }

  /**
   * Gives up on a stuck attempt: the task goes back to the queue at once (attempt counted) to
   * run elsewhere, the handler is told to stop (cancel), and its agent is suspect — it takes
   * no new work until that handler returns (its late answer is discarded) or it is replaced.
   */
  unstick(view: RunView, reason: string): boolean {
    const run = view as Run;
    if (!this.#running.has(run) || run.stuck) return false;
    run.stuck = true;
    run.agent.health.suspect = reason;
    // Out of the free agents before the task is queued again, so it cannot come straight back.
    this.#deps.matching.refresh(run.agent);
    // An attempt already decided (timed out, cancelled) whose handler still holds its slot is
    // stuck too: its agent is suspect, and replaced if the handler never returns.
    if (run.concluded) return true;
    const why = new AbortReason("stuck", reason);
    clearTimeout(run.timer);
    this.#conclude(run, { ok: false, error: abortError(why) });
    run.controller.abort(why);
    return true;
  }

  /**
   * The agent is declared dead (its process died, went silent, or failed its probes): each of
   * its attempts goes back to the queue at once as AGENT_LOST (attempts counted) and frees its
   * slot now; a handler that answers later is discarded and counted as a late result.
   */
  abandonAgent(agent: Agent, reason: string): number {
    // Out of the free agents first (its runtime is already gone), so its tasks go elsewhere.
    this.#deps.matching.refresh(agent);
    const runs = this.#byAgent.get(agent);
    if (runs === undefined) return 0;
    this.#byAgent.delete(agent);
    let n = 0;
    for (const run of runs) {
      if (!this.#running.delete(run)) continue;
      n++;
      clearTimeout(run.timer);
      agent.load = Math.max(0, agent.load - 1);
      const why = new AbortReason("agent-lost", reason);
      if (!run.concluded) this.#conclude(run, { ok: false, error: abortError(why) });
      if (run.heldRetry !== undefined) this.#startHeldRetry(run);
      run.controller.abort(why);
    }
    this.#wakeIdleWaiters();
    return n;
  }

  async #run(task: Task, agent: Agent, attempt: number): Promise<void> {
    const controller = new AbortController();
    const now = Date.now();
    const run: Run = { task, agent, attempt, controller, timer: undefined, concluded: false, heldRetry: undefined, startedAt: now, lastProgressAt: now, stuck: false };
    this.#running.add(run);
    this.#current.set(task.id, run);
    let mine = this.#byAgent.get(agent);
    if (mine === undefined) {
      mine = new Set();
      this.#byAgent.set(agent, mine);
    }
    mine.add(run);
    const handle = this.#deps.registry.handle(agent.id);
    if (handle === undefined) {
      this.#settle(run, { ok: false, error: new FactoryError("AGENT_LOST", `agent ${agent.id} has no running handler`) });
      return;
    }
    this.#deps.transitions.move(task, "RUNNING", `agent ${agent.id}`, { startedAt: new Date().toISOString() });
    if (task.timeoutMs !== null) {
      run.timer = setTimeout(() => {
        const why = new AbortReason("timeout", `task ${task.id} ran past its timeout of ${task.timeoutMs} ms`);
        // Decide now: a handler that ignores its signal must not hold the task (it still holds
        // its agent's slot until it returns, which is the truth about that agent).
        this.#conclude(run, { ok: false, error: abortError(why) });
        controller.abort(why);
      }, task.timeoutMs);
    }
    let outcome: Outcome;
    try {
      if (this.#chaosLatencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#chaosLatencyMs));
      if (run.concluded) throw new AbortReason("cancelled", "decided during injected latency");
      const value = await handle.run(task.input, { task, signal: controller.signal });
      outcome = { ok: true, value: taskResult(value) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    this.#settle(run, outcome);
  }

  /** The handler returned (or could not start): record the outcome unless already decided, and free the slot. */
  #settle(run: Run, outcome: Outcome): void {
    if (!this.#running.delete(run)) {
      // Abandoned (shutdown, or its agent was declared dead): whatever it says is discarded.
      if (isResult(outcome)) this.#lateResults++;
      return;
    }
    this.#forget(run);
    clearTimeout(run.timer);
    if (run.concluded) {
      if (isResult(outcome)) this.#lateResults++;
    } else this.#conclude(run, outcome);
    if (run.stuck && run.agent.health.suspect?.startsWith("stuck") === true && ![...(this.#byAgent.get(run.agent) ?? [])].some((r) => r.stuck)) {
      // The stuck handler returned after all: the agent is trusted with work again.
      run.agent.health.suspect = null;
    }
    if (run.heldRetry !== undefined) this.#startHeldRetry(run);
    this.#release(run.agent);
    this.#wakeIdleWaiters();
  }

  #startHeldRetry(run: Run): void {
    const held = run.heldRetry;
    if (held === undefined) return;
    run.heldRetry = undefined;
    clearTimeout(held.cap);
    // A re-drive holds the task as the factory has it (possibly read back from the store).
    const task = held.task ?? run.task;
    if (task.state !== "QUEUED") return;
    if (held.delayMs > 0) this.retryLater(task, held.delayMs);
    else this.#deps.matching.enqueue(task);
  }

  /**
   * Decides the task's outcome for this attempt: SUCCEEDED; QUEUED again after a backoff;
   * DEAD when the attempts are used up; FAILED when the error says retrying cannot help.
   */
  #conclude(run: Run, outcome: Outcome): void {
    if (run.concluded) return;
    run.concluded = true;
    const { task, agent } = run;
    const transitions = this.#deps.transitions;
    if (this.#current.get(task.id) === run) this.#current.delete(task.id);
    if (task.state !== "RUNNING" && task.state !== "ASSIGNED") return;
    // Quality counts what the agent can be blamed for: not a task that says retrying cannot help
    // (bad input, an unstorable result) and not a cancel.
    const blameless = !outcome.ok && isFactoryError(outcome.error) && (outcome.error.nonRetryable || outcome.error.code === "TASK_CANCELLED");
    if (!blameless) this.#deps.onOutcome?.(agent, outcome.ok, Date.now() - run.startedAt);
    if (outcome.ok) {
      agent.stats.completed++;
      transitions.finish(task, "SUCCEEDED", { result: outcome.value });
      return;
    }
    agent.stats.failed++;
    const error = outcome.error;
    const described = describeError(error);
    // An agent lost mid-task (its process died) or stuck is not the task's failure: it goes
    // back to the queue at once, up to at least 3 attempts, so one crash does not dead-letter it.
    const lost = isFactoryError(error) && (error.code === "AGENT_LOST" || error.code === "TASK_STUCK");
    if (isFactoryError(error) && error.nonRetryable) {
      transitions.finish(task, "FAILED", { error: described });
    } else if (task.attempts >= (lost ? Math.max(task.maxAttempts, 3) : task.maxAttempts)) {
      transitions.finish(task, "DEAD", { error: described });
    } else {
      const delayMs = lost ? 0 : backoffDelayMs(task.retryBackoffMs, task.attempts);
      const retryAt = delayMs > 0 ? new Date(Date.now() + delayMs).toISOString() : null;
      transitions.move(task, "QUEUED", `attempt ${task.attempts} failed: ${described.message}`, { agentId: null, retryAt, error: described });
      if (this.#running.has(run) && !run.stuck) {
        // Timed out while the handler still runs: retry once it returns, so the task never runs
        // twice at once — or after a cap, if it never does (that handler is then on its own).
        const cap = setTimeout(() => this.#startHeldRetry(run), Math.max(delayMs, task.timeoutMs ?? 0, 1_000));
        cap.unref();
        run.heldRetry = { delayMs, cap };
      } else if (delayMs > 0) this.retryLater(task, delayMs);
      else this.#deps.matching.enqueue(task);
    }
  }

  #clearRetry(taskId: string): void {
    const entry = this.#retryTimers.get(taskId);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    this.#retryTimers.delete(taskId);
  }

  #forget(run: Run): void {
    const runs = this.#byAgent.get(run.agent);
    if (runs === undefined) return;
    runs.delete(run);
    if (runs.size === 0) this.#byAgent.delete(run.agent);
  }

  #wakeIdleWaiters(): void {
    if (this.#running.size > 0 || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Gives back the slot an attempt held. */
  #release(agent: Agent): void {
    agent.load--;
    const registry = this.#deps.registry;
    if (agent.state === "BUSY" && agent.load < agent.cognitiveLoadLimit) registry.transition(agent, "READY", "capacity freed");
    else if (agent.state === "DRAINING" && agent.load === 0) registry.transition(agent, "TERMINATED", "drained");
    else if (agent.state !== "TERMINATED") registry.touch(agent);
  }
}

/** Whether a handler's late answer is one (a value or its own error), not the echo of the factory aborting it. */
function isResult(outcome: Outcome): boolean {
  // A failure that only echoes the factory ending the attempt is no answer of the handler's own.
  return outcome.ok || !isAbortEcho(outcome.error);
}
