import type { Task, TaskError } from "../core/task.ts";
import { assertTaskTransition, type TaskState } from "../core/task-states.ts";
import type { EventLog } from "../state/event-log.ts";
import type { Journal } from "../state/journal.ts";

export interface TaskTransitionsDeps {
  journal: Journal;
  events: EventLog;
  /** Called once when a task reaches a final state. */
  onFinal(task: Task): void;
}

/**
 * The one place the scheduler changes a task's state: it checks the task state table, writes
 * the live record through the journal and emits `task.state`. The dispatcher (matching) and
 * the runner (attempts) share one, so both sides move tasks the same way.
 */
export class TaskTransitions {
  readonly #deps: TaskTransitionsDeps;

  constructor(deps: TaskTransitionsDeps) {
    this.#deps = deps;
  }

  /** Moves a task to a final state (with its result or error) and reports it to `onFinal`. */
  finish(task: Task, state: TaskState, patch: { result?: unknown; error?: TaskError }): void {
    this.move(task, state, patch.error?.message ?? "done", { ...patch, retryAt: null, finishedAt: new Date().toISOString() });
    this.#deps.onFinal(task);
  }

  /** Moves a task along the task state table (ILLEGAL_TRANSITION otherwise), applying `patch`. */
  move(task: Task, state: TaskState, reason: string, patch: Partial<Task>): void {
    const from = task.state;
    assertTaskTransition(from, state, task.id);
    Object.assign(task, patch);
    if (patch.error === undefined && "error" in patch) delete task.error;
    task.state = state;
    task.updatedAt = new Date().toISOString();
    // The live record: the journal writes whatever state it is in at flush time, which is newer.
    this.#deps.journal.put({ kind: "task", value: task });
    this.#deps.events.emit({
      type: "task.state",
      taskId: task.id,
      ...(task.crewId === null ? {} : { crewId: task.crewId }),
      ...(task.agentId === null ? {} : { agentId: task.agentId }),
      from,
      to: state,
      // The trace id rides on every state event, so a listener (tracing, a log reader) needs no lookup.
      data: { reason, attempts: task.attempts, ...(task.traceId === null || task.traceId === undefined ? {} : { traceId: task.traceId }) },
    });
  }
}
