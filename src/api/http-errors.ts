import type { ContentfulStatusCode } from "hono/utils/http-status";
import { isFactoryError, type ErrorCode } from "../core/errors.ts";

/** The one map from error codes to HTTP statuses. */
const STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  UNKNOWN_HANDLER: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN_HOST: 403,
  FORBIDDEN_ORIGIN: 403,
  NOT_YOUR_TASK: 403,
  NOT_FOUND: 404,
  PROFILE_NOT_FOUND: 404,
  AGENT_NOT_FOUND: 404,
  CREW_NOT_FOUND: 404,
  TASK_NOT_FOUND: 404,
  ILLEGAL_TRANSITION: 409,
  CREW_NOT_ACTIVE: 409,
  TASK_ALREADY_FINAL: 409,
  TASK_NOT_DEAD: 409,
  QUEUE_FULL: 429,
  NO_SUCH_TARGET: 422,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  AGENT_START_FAILED: 422,
  CREW_ASSEMBLY_FAILED: 422,
  TASK_FAILED: 422,
  TASK_TIMEOUT: 422,
  TASK_CANCELLED: 409,
  RESULT_NOT_SERIALIZABLE: 422,
  RESULT_TOO_LARGE: 422,
  AGENT_LOST: 503,
  TASK_STUCK: 422,
  AGENT_BUSY: 409,
  CHAOS_DISABLED: 404,
  INSUFFICIENT_CREDITS: 402,
  BUDGET_EXCEEDED: 402,
  MODEL_UNKNOWN: 422,
  MODEL_UNAVAILABLE: 503,
  LLM_MAX_STEPS: 422,
  SANDBOX_UNAVAILABLE: 422,
  PROTOCOL_ERROR: 422,
  SHUTTING_DOWN: 503,
  STORE_UNAVAILABLE: 503,
  STORE_LOCKED: 503,
  STORE_DAMAGED: 503,
  INTERNAL: 500,
};

export interface ErrorBody {
  error: { code: string; message: string; field?: string; details?: Record<string, unknown> };
}

export function statusFor(code: string): ContentfulStatusCode {
  return STATUS[code as ErrorCode] ?? 500;
}

/** Maps anything thrown to a status and the wire body; unknown errors are 500 INTERNAL without internals. */
export function toErrorResponse(error: unknown): { status: ContentfulStatusCode; body: ErrorBody } {
  if (isFactoryError(error)) return { status: statusFor(error.code), body: { error: error.toJSON() } };
  return { status: 500, body: { error: { code: "INTERNAL", message: "internal error; see the server log" } } };
}
