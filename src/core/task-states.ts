import { FactoryError } from "./errors.ts";

/** QUEUED → ASSIGNED → RUNNING → SUCCEEDED | FAILED | CANCELLED | DEAD (DESIGN.md). */
export const TASK_STATES = ["QUEUED", "ASSIGNED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "DEAD"] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const FINAL_TASK_STATES: ReadonlySet<TaskState> = new Set(["SUCCEEDED", "FAILED", "CANCELLED", "DEAD"]);

/**
 * DEAD is a dead letter: a task whose retries ran out. It is final until re-driven
 * (DEAD → QUEUED). ASSIGNED|RUNNING → QUEUED is a re-queue: a retry, the agent died or drained, or the factory restarted,
 * and delivery is at-least-once.
 */
export const TASK_TRANSITIONS: Readonly<Record<TaskState, readonly TaskState[]>> = {
  QUEUED: ["ASSIGNED", "CANCELLED", "FAILED", "DEAD"],
  ASSIGNED: ["RUNNING", "QUEUED", "CANCELLED", "FAILED"],
  RUNNING: ["SUCCEEDED", "FAILED", "CANCELLED", "QUEUED", "DEAD"],
  SUCCEEDED: [],
  FAILED: [],
  CANCELLED: [],
  DEAD: ["QUEUED"],
};

export function isFinalTaskState(state: TaskState): boolean {
  return FINAL_TASK_STATES.has(state);
}

export function assertTaskTransition(from: TaskState, to: TaskState, taskId: string): void {
  if (!TASK_TRANSITIONS[from].includes(to)) {
    throw new FactoryError(
      isFinalTaskState(from) ? "TASK_ALREADY_FINAL" : "ILLEGAL_TRANSITION",
      `task ${taskId} cannot go from ${from} to ${to}`,
      { details: { current: from, requested: to } },
    );
  }
}
