/**
 * Every failure the factory reports on purpose is a FactoryError with a stable string code.
 * The HTTP layer maps codes to statuses in one place (api/http-errors.ts); callers of the
 * library switch on `code`, never on message text.
 */
export type ErrorCode =
  | "VALIDATION_FAILED"
  | "MALFORMED_JSON"
  | "PAYLOAD_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "UNAUTHORIZED"
  | "FORBIDDEN_HOST"
  | "FORBIDDEN_ORIGIN"
  | "NOT_YOUR_TASK"
  | "NOT_FOUND"
  | "PROFILE_NOT_FOUND"
  | "AGENT_NOT_FOUND"
  | "CREW_NOT_FOUND"
  | "TASK_NOT_FOUND"
  | "UNKNOWN_HANDLER"
  | "ILLEGAL_TRANSITION"
  | "CREW_NOT_ACTIVE"
  | "TASK_ALREADY_FINAL"
  | "TASK_NOT_DEAD"
  | "QUEUE_FULL"
  | "NO_SUCH_TARGET"
  | "AGENT_START_FAILED"
  | "CREW_ASSEMBLY_FAILED"
  | "TASK_FAILED"
  | "TASK_TIMEOUT"
  | "TASK_CANCELLED"
  | "RESULT_NOT_SERIALIZABLE"
  | "RESULT_TOO_LARGE"
  | "AGENT_LOST"
  | "TASK_STUCK"
  | "AGENT_BUSY"
  | "CHAOS_DISABLED"
  | "INSUFFICIENT_CREDITS"
  | "BUDGET_EXCEEDED"
  | "MODEL_UNKNOWN"
  | "MODEL_UNAVAILABLE"
  | "LLM_MAX_STEPS"
  | "SANDBOX_UNAVAILABLE"
  | "PROTOCOL_ERROR"
  | "SHUTTING_DOWN"
  | "STORE_UNAVAILABLE"
  /** The data dir's store is held by another factory (one process per data dir). */
  | "STORE_LOCKED"
  /** The store's file is damaged (empty, not a database, or failing its integrity check). */
  | "STORE_DAMAGED"
  | "INTERNAL";

export interface FactoryErrorOptions {
  /** Dotted path of the input field at fault, e.g. `members.0.count`. */
  field?: string;
  /** Structured extras for clients (e.g. the current and requested state). */
  details?: Record<string, unknown>;
  /** A task that failed with this error is not retried. */
  nonRetryable?: boolean;
  cause?: unknown;
}

export class FactoryError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly nonRetryable: boolean;

  constructor(code: ErrorCode, message: string, options: FactoryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "FactoryError";
    this.code = code;
    this.field = options.field;
    this.details = options.details;
    this.nonRetryable = options.nonRetryable ?? false;
  }

  /** The wire shape: `{ code, message, field? , details? }`. */
  toJSON(): { code: ErrorCode; message: string; field?: string; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      ...(this.field === undefined ? {} : { field: this.field }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

/** True when `value` is a FactoryError, also across module copies. */
export function isFactoryError(value: unknown): value is FactoryError {
  return value instanceof FactoryError || (value instanceof Error && value.name === "FactoryError" && "code" in value);
}
