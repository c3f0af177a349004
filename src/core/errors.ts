/**
 * Every failure the factory reports on purpose is a FactoryError with a stable string code.
 * The HTTP layer maps codes to statuses in one place (api/http-errors.ts); callers of the
 * library switch on `code`, never on message text.
 *
 * Codes are grouped by family, so a reader sees what kinds of failure exist and the HTTP
 * mapping can give a whole family one status. Codes about an HTTP request as sent (its body,
 * headers, credentials) are not here: only the API layer raises them (api/http-error.ts).
 */
export const ERROR_FAMILIES = {
  /** The input is wrong: a field, a name that must be known (400). */
  validation: ["VALIDATION_FAILED", "UNKNOWN_HANDLER"],
  /**
   * The caller may not do this (403). FORBIDDEN: its role is too low for the operation;
   * CROSS_CREW: the thing belongs to a crew the caller is not limited to (or to none).
   */
  permission: ["NOT_YOUR_TASK", "FORBIDDEN", "CROSS_CREW"],
  /** No such thing (404); CHAOS_DISABLED: the chaos actions do not exist on this factory; TOOL_NOT_FOUND: no such MCP server or tool for that agent. */
  notFound: ["NOT_FOUND", "PROFILE_NOT_FOUND", "AGENT_NOT_FOUND", "CREW_NOT_FOUND", "TASK_NOT_FOUND", "CHAOS_DISABLED", "TOOL_NOT_FOUND"],
  /**
   * Not allowed in the thing's current state (409). NODE_ID_TAKEN: a live node of the cluster
   * holds the lease of this node id (two nodes started with one `--node-id`).
   */
  state: ["ILLEGAL_TRANSITION", "CREW_NOT_ACTIVE", "TASK_ALREADY_FINAL", "TASK_NOT_DEAD", "AGENT_BUSY", "NODE_ID_TAKEN", "IDEMPOTENCY_KEY_REUSED"],
  /** The factory takes no more work now: try again later. */
  capacity: ["QUEUE_FULL", "SHUTTING_DOWN"],
  /** How a task ended when it did not succeed, or why it cannot be run at all. */
  task: ["NO_SUCH_TARGET", "TASK_FAILED", "TASK_TIMEOUT", "TASK_CANCELLED", "TASK_STUCK", "RESULT_NOT_SERIALIZABLE", "RESULT_TOO_LARGE"],
  /** An agent or crew could not be started, or its runtime failed under it. */
  runtime: ["AGENT_START_FAILED", "CREW_ASSEMBLY_FAILED", "AGENT_LOST", "SANDBOX_UNAVAILABLE", "PROTOCOL_ERROR"],
  /** The model router found no model, or no answer. */
  model: ["MODEL_UNKNOWN", "MODEL_UNAVAILABLE", "LLM_MAX_STEPS"],
  /** Not enough credits, or over a budget (402). */
  budget: ["INSUFFICIENT_CREDITS", "BUDGET_EXCEEDED"],
  /**
   * The durable store refuses work (503). STORE_LOCKED: the data dir's store, or the PostgreSQL
   * schema, is held by another factory (one writing process per data dir or schema). STORE_DAMAGED: the store's file is damaged (empty, not a
   * database, or failing its integrity check). NODE_FENCED: this node's rows in a store several
   * nodes share were taken over by another node (its lease had run out), so it may not write.
   */
  store: ["STORE_UNAVAILABLE", "STORE_LOCKED", "STORE_DAMAGED", "NODE_FENCED"],
  /**
   * What joins nodes cannot be reached (503): the bus's server, or the membership's (node
   * leases), is down or refuses us (wrong URL, password or database index). A family of its
   * own, not the store's: nothing durable is at stake, and both come back by themselves.
   * NODE_UNAVAILABLE: the node that runs what a request names is not answering (its agents and
   * tasks come back on a survivor once its lease has run out).
   */
  bus: ["BUS_UNAVAILABLE", "MEMBERSHIP_UNAVAILABLE", "NODE_UNAVAILABLE"],
  /** A bug: never raised on purpose, the answer to anything unexpected (500). */
  internal: ["INTERNAL"],
} as const satisfies Record<string, readonly string[]>;

/** A family of error codes: a key of ERROR_FAMILIES. */
export type ErrorFamily = keyof typeof ERROR_FAMILIES;

/** The codes of one family. */
export type ErrorCodeOf<F extends ErrorFamily> = (typeof ERROR_FAMILIES)[F][number];

/** Every code a FactoryError can carry. */
export type ErrorCode = ErrorCodeOf<ErrorFamily>;

// Built once: the families are constant, and familyOf sits on the error path of every request.
const FAMILY_OF = new Map<string, ErrorFamily>(
  (Object.entries(ERROR_FAMILIES) as [ErrorFamily, readonly ErrorCode[]][]).flatMap(([family, codes]) => codes.map((code) => [code, family] as const)),
);

/** Whether `value` is one of the factory's error codes (a code read off the wire is only a string). */
export function isErrorCode(value: string): value is ErrorCode {
  return FAMILY_OF.has(value);
}

/** The family of a code. */
export function familyOf(code: ErrorCode): ErrorFamily {
  return FAMILY_OF.get(code) as ErrorFamily;
}

/** Whether `code` belongs to `family`, e.g. `isInFamily(error.code, "notFound")`. */
export function isInFamily<F extends ErrorFamily>(code: string, family: F): code is ErrorCodeOf<F> {
  return FAMILY_OF.get(code) === family;
}

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
