import type { Agent } from "../core/agent.ts";
import { FactoryError, isFactoryError } from "../core/errors.ts";
import type { LoadBalancer } from "../core/ports/balancer.ts";
import type { Task, TaskError } from "../core/task.ts";
import { assertTaskTransition, type TaskState } from "../core/task-states.ts";
import type { AgentRegistry } from "../factory/agent-registry.ts";
import type { EventLog } from "../factory/event-log.ts";
import type { Journal } from "../factory/journal.ts";
import { agentMatches } from "./agent-matches.ts";
import { TaskQueue } from "./task-queue.ts";

export interface DispatcherDeps {
  registry: AgentRegistry;
  journal: Journal;
  events: EventLog;
  balancer: LoadBalancer;
  /** Whether members of this crew may take work now (the crew is ACTIVE). */
  crewAcceptsWork(crewId: string): boolean;
  /** Called once when a task reaches a final state. */
  onFinal(task: Task): void;
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
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Matches queued tasks to available agents and runs them. It keeps one invariant: no queued
 * task matches an available agent. So a new task either goes straight to an available agent
 * (chosen by the load balancer) or waits, and an agent that becomes available pulls the first
 * waiting task it matches, in priority order.
 */
export class Dispatcher {
  readonly #deps: DispatcherDeps;
  readonly #queue = new TaskQueue();
  /** Available agents, in the order they became available. */
  readonly #available = new Set<Agent>();
  /** Attempts whose handler has not returned yet; each holds one unit of its agent's load. */
  readonly #running = new Set<Run>();
  /** The current attempt of each task that is ASSIGNED or RUNNING. */
  readonly #current = new Map<string, Run>();
  #filling = false;
  readonly #deferred = new Set<Agent>();
  #stopped = false;
  #idleWaiters: Array<() => void> = [];
  /** Results that arrived for an attempt that was no longer current; discarded. */
  lateResults = 0;

  constructor(deps: DispatcherDeps) {
    this.#deps = deps;
    deps.registry.onChange((agent) => this.refresh(agent));
  }

  get queued(): number {
    return this.#queue.size;
  }

  get running(): number {
    return this.#running.size;
  }

  get availableAgents(): number {
    return this.#available.size;
  }

  /** Re-evaluates whether `agent` may take work, and gives it work if so. */
  refresh(agent: Agent): void {
    if (!this.#isAvailable(agent)) {
      this.#available.delete(agent);
      return;
    }
    this.#available.add(agent);
    if (this.#filling) {
      this.#deferred.add(agent);
      return;
    }
    this.#filling = true;
    try {
      this.#fill(agent);
      while (this.#deferred.size > 0) {
        const next = this.#deferred.values().next().value as Agent;
        this.#deferred.delete(next);
        this.#fill(next);
      }
    } finally {
      this.#filling = false;
    }
  }

  /** Hands a QUEUED task to an agent now, or queues it. */
  enqueue(task: Task): void {
    if (!this.#stopped && this.#available.size > 0) {
      const candidates: Agent[] = [];
      for (const agent of this.#available) if (agentMatches(agent, task)) candidates.push(agent);
      const agent = candidates.length === 0 ? undefined : this.#deps.balancer.pick(candidates, task);
      if (agent !== undefined) {
        this.#assign(task, agent);
        return;
      }
    }
    this.#queue.push(task);
  }

  /** Cancels a task that is not final; a running handler sees its AbortSignal fire. */
  cancel(task: Task, reason = "cancelled"): void {
    if (task.state === "QUEUED") this.#queue.remove(task.id);
    const run = this.#current.get(task.id);
    this.#finish(task, "CANCELLED", { error: { code: "TASK_CANCELLED", message: reason } });
    if (run !== undefined) {
      // The agent stays loaded until its handler returns; the task is final now.
      run.concluded = true;
      clearTimeout(run.timer);
      this.#current.delete(task.id);
      run.controller.abort(new FactoryError("TASK_CANCELLED", reason));
    }
  }

  /** Stops handing out work (at shutdown); queued tasks stay QUEUED. */
  stop(): void {
    this.#stopped = true;
    this.#available.clear();
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
    for (const run of runs) {
      clearTimeout(run.timer);
      if (!run.concluded && (run.task.state === "RUNNING" || run.task.state === "ASSIGNED")) this.#setState(run.task, "QUEUED", reason, { agentId: null });
      run.concluded = true;
      run.controller.abort(new FactoryError("SHUTTING_DOWN", reason));
    }
    this.#wakeIdleWaiters();
    return runs.length;
  }

  #isAvailable(agent: Agent): boolean {
    return (
      !this.#stopped &&
      (agent.state === "READY" || agent.state === "IDLE") &&
      // Only an agent whose runtime is running can take work (a restored agent has none yet).
      this.#deps.registry.handle(agent.id) !== undefined &&
      agent.load < agent.cognitiveLoadLimit &&
      (agent.crewId === null || this.#deps.crewAcceptsWork(agent.crewId))
    );
  }

  #fill(agent: Agent): void {
    while (this.#queue.size > 0 && this.#isAvailable(agent)) {
      const task = this.#queue.take((t) => agentMatches(agent, t));
      if (task === undefined) return;
      this.#assign(task, agent);
    }
  }

  #assign(task: Task, agent: Agent): void {
    task.attempts++;
    this.#setState(task, "ASSIGNED", `agent ${agent.id}`, { agentId: agent.id });
    agent.load++;
    if (agent.load >= agent.cognitiveLoadLimit) this.#deps.registry.transition(agent, "BUSY", `at load limit ${agent.cognitiveLoadLimit}`);
    else if (agent.state === "IDLE") this.#deps.registry.transition(agent, "READY", "work arrived");
    else this.#deps.registry.touch(agent);
    void this.#run(task, agent, task.attempts);
  }

  async #run(task: Task, agent: Agent, attempt: number): Promise<void> {
    const controller = new AbortController();
    const run: Run = { task, agent, attempt, controller, timer: undefined, concluded: false };
    this.#running.add(run);
    this.#current.set(task.id, run);
    const handle = this.#deps.registry.handle(agent.id);
    if (handle === undefined) {
      this.#settle(run, { ok: false, error: new FactoryError("AGENT_LOST", `agent ${agent.id} has no running handler`) });
      return;
    }
    this.#setState(task, "RUNNING", `agent ${agent.id}`, { startedAt: new Date().toISOString() });
    if (task.timeoutMs !== null) {
      run.timer = setTimeout(() => {
        const error = new FactoryError("TASK_TIMEOUT", `task ${task.id} ran past its timeout of ${task.timeoutMs} ms`);
        // Decide now: a handler that ignores its signal must not hold the task (it still holds
        // its agent's slot until it returns, which is the truth about that agent).
        this.#conclude(run, { ok: false, error });
        controller.abort(error);
      }, task.timeoutMs);
    }
    let outcome: Outcome;
    try {
      const value = await handle.run(task.input, { task, signal: controller.signal });
      outcome = { ok: true, value: toJson(value) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    this.#settle(run, outcome);
  }

  /** The handler returned (or could not start): record the outcome unless already decided, and free the slot. */
  #settle(run: Run, outcome: Outcome): void {
    if (!this.#running.delete(run)) {
      this.lateResults++; // abandoned at shutdown
      return;
    }
    clearTimeout(run.timer);
    if (run.concluded) this.lateResults++;
    else this.#conclude(run, outcome);
    this.#release(run.agent);
    this.#wakeIdleWaiters();
  }

  /** Decides the task's outcome for this attempt: SUCCEEDED, FAILED, or QUEUED again for a retry. */
  #conclude(run: Run, outcome: Outcome): void {
    if (run.concluded) return;
    run.concluded = true;
    const { task, agent } = run;
    if (this.#current.get(task.id) === run) this.#current.delete(task.id);
    if (task.state !== "RUNNING" && task.state !== "ASSIGNED") return;
    if (outcome.ok) {
      agent.stats.completed++;
      this.#finish(task, "SUCCEEDED", { result: outcome.value });
      return;
    }
    agent.stats.failed++;
    const error = outcome.error;
    const finalError = isFactoryError(error) && error.nonRetryable;
    if (!finalError && task.attempts < task.maxAttempts) {
      this.#setState(task, "QUEUED", `attempt ${task.attempts} failed: ${describe(error).message}`, { agentId: null });
      this.enqueue(task);
    } else {
      this.#finish(task, "FAILED", { error: describe(error) });
    }
  }

  #wakeIdleWaiters(): void {
    if (this.#running.size > 0 || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #release(agent: Agent): void {
    agent.load--;
    const registry = this.#deps.registry;
    if (agent.state === "BUSY" && agent.load < agent.cognitiveLoadLimit) registry.transition(agent, "READY", "capacity freed");
    else if (agent.state === "DRAINING" && agent.load === 0) registry.transition(agent, "TERMINATED", "drained");
    else if (agent.state !== "TERMINATED") registry.touch(agent);
  }

  #finish(task: Task, state: TaskState, patch: { result?: unknown; error?: TaskError }): void {
    this.#setState(task, state, patch.error?.message ?? "done", { ...patch, finishedAt: new Date().toISOString() });
    this.#deps.onFinal(task);
  }

  #setState(task: Task, state: TaskState, reason: string, patch: Partial<Task>): void {
    const from = task.state;
    assertTaskTransition(from, state, task.id);
    Object.assign(task, patch);
    task.state = state;
    task.updatedAt = new Date().toISOString();
    this.#deps.journal.put({ kind: "task", value: { ...task } });
    this.#deps.events.emit({
      type: "task.state",
      taskId: task.id,
      ...(task.crewId === null ? {} : { crewId: task.crewId }),
      ...(task.agentId === null ? {} : { agentId: task.agentId }),
      from,
      to: state,
      data: { reason, attempts: task.attempts },
    });
  }
}

function describe(error: unknown): TaskError {
  if (isFactoryError(error)) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: "TASK_FAILED", message: error.message };
  return { code: "TASK_FAILED", message: String(error) };
}

/** Results are stored and sent as JSON; a handler returning something else fails the task, not the factory. */
function toJson(value: unknown): unknown {
  if (value === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch (error) {
    throw new FactoryError("RESULT_NOT_SERIALIZABLE", `the handler's result is not JSON: ${error instanceof Error ? error.message : String(error)}`, {
      nonRetryable: true,
    });
  }
}
