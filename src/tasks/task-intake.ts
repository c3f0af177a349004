import { FactoryError } from "../core/errors.ts";
import { newTaskId } from "../core/ids.ts";
import type { ListPosition } from "../core/list-position.ts";
import type { Logger } from "../core/ports/logger.ts";
import type { Store } from "../core/ports/store.ts";
import { parseWith } from "../core/schemas/parse.ts";
import { TaskSubmitSchema, type TaskSubmitInput } from "../core/schemas/task.ts";
import { isFinalTaskState, type TaskState } from "../core/task-states.ts";
import type { Task } from "../core/task.ts";
import type { Ledger } from "../economics/ledger.ts";
import type { Dispatcher } from "../scheduler/dispatcher.ts";
import type { AgentRegistry } from "../state/agent-registry.ts";
import type { EventLog } from "../state/event-log.ts";
import type { FactoryPhase } from "../state/factory-phase.ts";
import type { Journal } from "../state/journal.ts";
import type { CrewManager } from "../crews/crew-manager.ts";
import type { Crews } from "../crews/crews.ts";
import type { TaskBook } from "./task-book.ts";
import type { Targets } from "./targets.ts";

export interface TaskFilter {
  state?: TaskState;
  crewId?: string;
  /** Only tasks past this place in newest-first order (`createdAt`, id): the next page. */
  after?: ListPosition;
  limit?: number;
}

/** Tasks waiting for one target (what they ask for) and who could serve them. */
export interface WaitingView {
  crewId: string | null;
  role: string | null;
  profile: string | null;
  capabilities: string[];
  /** Set for tasks addressed to (or bound by affinity to) one agent. */
  agentId: string | null;
  queued: number;
  /** Latest profiles whose pools could serve these tasks (crewless targets only). */
  profiles: string[];
}

export interface TaskIntakeDeps {
  book: TaskBook;
  dispatcher: Dispatcher;
  targets: Targets;
  crews: Pick<Crews, "requireOpen">;
  crewManager: Pick<CrewManager, "get" | "isMirror">;
  registry: AgentRegistry;
  ledger: Ledger;
  journal: Journal;
  store: Store;
  events: EventLog;
  phase: FactoryPhase;
  logger: Logger;
  /** Makes each new task's trace id when the factory traces; absent: tasks carry none (null). */
  newTraceId?: () => string;
}

/**
 * Where tasks come in and how they are read: submit (durable before it is accepted, with
 * idempotency keys), re-drive, cancel, reads and waits; and what happens when one ends.
 */
export class TaskIntake {
  readonly #deps: TaskIntakeDeps;

  constructor(deps: TaskIntakeDeps) {
    this.#deps = deps;
  }

  /**
   * Accepts a task durably (it is in the store when this resolves), then dispatches it; says
   * whether it is new: with an `idempotencyKey` already used, the first task comes back
   * (`created: false`) and nothing is submitted.
   */
  async submit(input: TaskSubmitInput): Promise<{ task: Task; created: boolean }> {
    const { book, dispatcher, registry, journal, store, events, phase } = this.#deps;
    phase.assertOpen();
    const request = parseWith(TaskSubmitSchema, input, "task");
    if (request.idempotencyKey !== undefined) {
      const known = book.byIdempotencyKey(request.idempotencyKey) ?? (await store.getTaskByIdempotencyKey(request.idempotencyKey));
      if (known !== undefined) {
        // A key one crew used never hands its task to a submit for another crew (or for none).
        if (known.crewId !== (request.crewId ?? null)) {
          throw new FactoryError("IDEMPOTENCY_KEY_REUSED", "idempotencyKey: already used for a task of another crew (or of no crew); choose another key", { field: "idempotencyKey" });
        }
        return { task: { ...known }, created: false };
      }
    }
    if (request.parentTaskId !== undefined) {
      // A sub-task belongs to its parent's crew: naming another crew's task would link the two.
      const parentId = request.parentTaskId;
      const parent = book.find(parentId) ?? (await journal.read(() => store.getTask(parentId)));
      if (parent === undefined) throw new FactoryError("TASK_NOT_FOUND", `parentTaskId: no task with id '${parentId}'`, { field: "parentTaskId" });
      if (parent.crewId !== (request.crewId ?? null)) throw new FactoryError("CROSS_CREW", "parentTaskId: the parent task is of another crew (or of none) than this task", { field: "parentTaskId" });
    }
    if (request.crewId !== undefined) await this.#deps.crews.requireOpen(request.crewId);
    if (request.reward !== undefined && request.crewId !== undefined && this.#deps.crewManager.isMirror(request.crewId)) {
      // Only the crew's own node debits its wallet; a reward paid here could overdraw it.
      throw new FactoryError("VALIDATION_FAILED", `reward: crew ${request.crewId} is run by another node of the cluster, which pays its rewards: submit the task there`, { field: "reward" });
    }
    if (request.agentId === undefined) {
      await this.#deps.targets.requireServable({ crewId: request.crewId ?? null, role: request.role ?? null, profile: request.profile ?? null, capabilities: request.capabilities ?? [], agentId: null });
    }
    if (request.agentId !== undefined) {
      // An agent asleep in the store takes tasks too: the dispatcher wakes it for them.
      let agent = registry.get(request.agentId);
      if (agent === undefined) {
        const agentId = request.agentId;
        const stored = await journal.read(() => store.getAgent(agentId));
        if (stored?.state === "HIBERNATING") agent = stored;
      }
      if (agent === undefined) {
        // Live on another node of a cluster: said plainly (a rewarded crew task is run at its crew's node, which may not be the member's).
        const elsewhere = await store.getAgent(request.agentId);
        if (elsewhere !== undefined && elsewhere.state !== "TERMINATED" && elsewhere.state !== "HIBERNATING") {
          throw new FactoryError("VALIDATION_FAILED", `agentId: agent ${request.agentId} runs on node ${elsewhere.nodeId}, not here${request.reward === undefined ? "" : " (a task with a reward runs at its crew's node: name a member that node runs, or no agent)"}`, { field: "agentId" });
        }
        throw new FactoryError("AGENT_NOT_FOUND", `no live or hibernating agent with id '${request.agentId}'`, { field: "agentId" });
      }
      if (agent.crewId !== (request.crewId ?? null)) {
        throw new FactoryError(
          "VALIDATION_FAILED",
          agent.crewId === null ? `agentId: agent ${agent.id} is in no crew; drop crewId` : `agentId: agent ${agent.id} is in crew ${agent.crewId}; give that crewId`,
          { field: "agentId" },
        );
      }
    }
    const now = new Date().toISOString();
    const task: Task = {
      id: newTaskId(),
      state: "QUEUED",
      input: request.input ?? null,
      role: request.role ?? null,
      profile: request.profile ?? null,
      capabilities: request.capabilities ?? [],
      crewId: request.crewId ?? null,
      priority: request.priority,
      timeoutMs: request.timeoutMs ?? null,
      maxAttempts: request.maxAttempts,
      attempts: 0,
      retryBackoffMs: request.retryBackoffMs,
      retryAt: null,
      redrives: 0,
      affinityKey: request.affinityKey ?? null,
      idempotencyKey: request.idempotencyKey ?? null,
      balancer: request.balancer ?? null,
      targetAgentId: request.agentId ?? null,
      agentId: null,
      ...(request.parentTaskId === undefined ? {} : { parentTaskId: request.parentTaskId }),
      ...(request.reward === undefined ? {} : { reward: request.reward }),
      traceId: this.#deps.newTraceId?.() ?? null,
      createdAt: now,
      startedAt: null,
      finishedAt: null,
      updatedAt: now,
    };
    if (task.idempotencyKey !== null) {
      // A concurrent submit with the same key may have got here first while this one awaited.
      const raced = book.byIdempotencyKey(task.idempotencyKey);
      if (raced !== undefined) return { task: { ...raced }, created: false };
    }
    dispatcher.reserve(task);
    // Held (and its key claimed) before the commit, so a later submit with the same key gets this task.
    book.track(task);
    journal.put({ kind: "task", value: task });
    try {
      await journal.commit();
    } catch (error) {
      if (await this.#refuse(task)) throw error;
      // Its write was stored after all (in a batch a shutdown drain applied meanwhile): accepted.
    }
    // Announced once accepted, so no subscriber hears of a task that was refused.
    events.emit({ type: "task.state", taskId: task.id, ...(task.crewId === null ? {} : { crewId: task.crewId }), to: "QUEUED", data: { reason: "submitted", attempts: 0, ...(task.traceId === null ? {} : { traceId: task.traceId }) } });
    if (phase.started) dispatcher.enqueue(task);
    else dispatcher.unreserve(task);
    return { task: { ...task }, created: true };
  }

  /**
   * Not durable, so not accepted: the task leaves no trace (memory, journal, store), and its
   * idempotency key stays free for the caller's retry. Its write is taken back from the journal.
   * A write the store is applying at that moment (a shutdown drain) is waited for: refused, it
   * is back among the pending writes and taken back; stored, the task is accepted after all and
   * this returns false.
   */
  async #refuse(task: Task): Promise<boolean> {
    const { journal } = this.#deps;
    for (;;) {
      // Fenced: the journal let every pending write go, this one included; none was stored.
      if (journal.fenced !== undefined) break;
      if (journal.withdraw((w) => w.kind === "task" && w.value.id === task.id) > 0) break;
      if (!journal.applying) return false;
      await journal.idle();
    }
    this.#deps.book.untrack(task);
    this.#deps.dispatcher.unreserve(task);
    return true;
  }

  /** Re-drives a dead-lettered task: QUEUED again with a fresh set of attempts. */
  async retry(id: string): Promise<Task> {
    const { book, store } = this.#deps;
    const task = book.recent(id) ?? (await store.getTask(id));
    if (task === undefined) throw new FactoryError("TASK_NOT_FOUND", `no task with id '${id}'`);
    // Another re-drive may have taken it while the store was read.
    const live = book.live(id);
    if (live !== undefined) throw new FactoryError("TASK_NOT_DEAD", `task ${id} is ${live.state}; only DEAD tasks can be re-driven`, { details: { current: live.state } });
    if (task.state !== "DEAD") {
      throw new FactoryError("TASK_NOT_DEAD", `task ${id} is ${task.state}; only DEAD tasks can be re-driven`, { details: { current: task.state } });
    }
    book.revive(task);
    this.#deps.dispatcher.redrive(task);
    await this.#deps.journal.commit();
    return { ...task };
  }

  async get(id: string): Promise<Task> {
    const task = this.#deps.book.find(id);
    if (task !== undefined) return { ...task };
    const stored = await this.#deps.store.getTask(id);
    if (stored === undefined) throw new FactoryError("TASK_NOT_FOUND", `no task with id '${id}'`);
    return stored;
  }

  /** Resolves with the task once it is final, or as it is after `waitMs`. */
  async waitFor(id: string, waitMs: number): Promise<Task> {
    const task = await this.get(id);
    if (isFinalTaskState(task.state) || waitMs <= 0) return task;
    return this.#deps.book.waitFor(id, waitMs, task, (again) => this.get(again));
  }

  /** Tasks by state and crew, newest first (`createdAt`, id), read from the store once every accepted task is in it. */
  list(filter: TaskFilter = {}): Promise<Task[]> {
    return this.#deps.journal.read(() =>
      this.#deps.store.listTasks({
        ...(filter.state === undefined ? {} : { states: [filter.state] }),
        ...(filter.crewId === undefined ? {} : { crewId: filter.crewId }),
        ...(filter.after === undefined ? {} : { after: filter.after }),
        newestFirst: true,
        limit: filter.limit ?? 100,
      }),
    );
  }

  /** Cancels a queued or running task (a running handler's AbortSignal fires). */
  async cancel(id: string): Promise<Task> {
    const task = this.#deps.book.live(id);
    if (task === undefined) {
      const stored = await this.get(id);
      throw new FactoryError("TASK_ALREADY_FINAL", `task ${id} is already ${stored.state}`, { details: { current: stored.state } });
    }
    this.#deps.dispatcher.cancel(task, "cancelled by request");
    await this.#deps.journal.commit();
    return { ...task };
  }

  /** The crew's tasks that have not started are cancelled (it is ending). */
  cancelQueued(crewId: string, reason: string): void {
    for (const task of [...this.#deps.book.liveTasks()]) if (task.crewId === crewId && task.state === "QUEUED") this.#deps.dispatcher.cancel(task, reason);
  }

  /**
   * Tasks waiting for an agent, counted by what they ask for (most first), with the profiles
   * whose pools could serve each (none for a crew's or one agent's tasks: those wait for members
   * or for that agent). Tasks waiting out a retry backoff are not in it.
   */
  waiting(): WaitingView[] {
    const out: WaitingView[] = [];
    for (const lane of this.#deps.dispatcher.lanes()) {
      if (lane.size === 0) continue;
      const { crewId, role, profile, capabilities, agentId } = lane.target;
      const profiles = crewId === null && agentId === null ? this.#deps.targets.profilesFor(lane.target).map((p) => p.name) : [];
      out.push({ crewId, role, profile, capabilities: [...capabilities], agentId, queued: lane.size, profiles });
    }
    return out.sort((a, b) => b.queued - a.queued);
  }

  /** A task became final: it is paid its reward (value attribution) and its waiters hear of it. */
  finished(task: Task): void {
    if (task.state === "SUCCEEDED" && task.reward !== undefined) this.#attribute(task, task.reward);
    this.#deps.book.finished(task);
  }

  /** Value attribution: the crew pays the agent that completed its task the task's reward. */
  #attribute(task: Task, reward: number): void {
    const crew = task.crewId === null ? undefined : this.#deps.crewManager.get(task.crewId);
    const agent = task.agentId === null ? undefined : this.#deps.registry.get(task.agentId);
    if (crew === undefined || agent === undefined) return;
    try {
      this.#deps.ledger.post("attribution", crew.walletAddress, agent.walletAddress, reward, { crewId: crew.id, agentId: agent.id, taskId: task.id, memo: "reward for a completed task" });
    } catch (error) {
      // The crew spent its credits on model calls meanwhile: the task still succeeded.
      this.#deps.logger.warn(`task ${task.id}: reward of ${reward} credits not paid: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
