import { FactoryError, isFactoryError, type ErrorCode } from "./errors.ts";

/** Why the factory stops an attempt it started. */
export const ABORT_KINDS = [
  /** The task was cancelled while it ran (`POST /v1/tasks/{id}/cancel`, `Factory.cancelTask`). */
  "cancelled",
  /** The task ran past its `timeoutMs`. */
  "timeout",
  /** The attempt made no progress for the profile's `stuckThresholdMs`. */
  "stuck",
  /** The agent running it was declared dead (its process died, went silent, failed its probes). */
  "agent-lost",
  /** A forced shutdown: the task goes back to the queue for the next start. */
  "shutting-down",
] as const;

export type AbortKind = (typeof ABORT_KINDS)[number];

/**
 * The reason the factory aborts an attempt with: what a running handler's `signal.reason` holds.
 * Not a FactoryError, on purpose: it tells a handler why to stop, and a handler that throws it
 * back does not choose its task's outcome — the factory decided that when it aborted, through
 * `abortError`, the one place an abort becomes a task's error. An Error all the same, so a
 * handler may reject with it as it would with any abort reason.
 */
export class AbortReason extends Error {
  readonly kind: AbortKind;

  constructor(kind: AbortKind, message: string) {
    super(message);
    this.name = "AbortReason";
    this.kind = kind;
  }
}

/** True when `value` is an AbortReason, also across module copies. */
export function isAbortReason(value: unknown): value is AbortReason {
  return value instanceof AbortReason || (value instanceof Error && value.name === "AbortReason" && "kind" in value);
}

/** The error code a task records for each way it can be aborted. */
const CODE: Record<AbortKind, ErrorCode> = {
  cancelled: "TASK_CANCELLED",
  timeout: "TASK_TIMEOUT",
  stuck: "TASK_STUCK",
  "agent-lost": "AGENT_LOST",
  "shutting-down": "SHUTTING_DOWN",
};

// The codes of CODE, for recognising a runtime's own report of the same cause.
const ABORT_CODES: ReadonlySet<string> = new Set(Object.values(CODE));

/**
 * The one conversion of an abort reason into the error its task records (TASK_CANCELLED,
 * TASK_TIMEOUT, TASK_STUCK, AGENT_LOST, SHUTTING_DOWN), with the reason's message.
 */
export function abortError(reason: AbortReason): FactoryError {
  return new FactoryError(CODE[reason.kind], reason.message);
}

/**
 * Whether a handler's failure only echoes the factory ending its attempt, so it is no result of
 * the handler's own: the abort reason thrown back, or the error a runtime raises for the same
 * cause (a process runtime rejects the runs of an agent whose process died with AGENT_LOST).
 */
export function isAbortEcho(error: unknown): boolean {
  return isAbortReason(error) || (isFactoryError(error) && ABORT_CODES.has(error.code));
}
