import type { ContentfulStatusCode } from "hono/utils/http-status";
import { familyOf, isErrorCode, isFactoryError, type ErrorCode, type ErrorFamily } from "../core/errors.ts";
import { HttpError, type HttpErrorCode } from "./http-error.ts";

// The one map from error codes to HTTP statuses: a family's status, then the codes that differ
// from their family's. Both records are total, so a new family or HTTP code without a status
// does not compile.

/** The status of every code of a family, unless listed in EXCEPTIONS. */
const FAMILY_STATUS: Record<ErrorFamily, ContentfulStatusCode> = {
  validation: 400,
  permission: 403,
  notFound: 404,
  state: 409,
  // SHUTTING_DOWN: the node takes no work now; a client retries, possibly elsewhere.
  capacity: 503,
  // Well-formed but could not be carried out.
  task: 422,
  runtime: 422,
  model: 422,
  budget: 402,
  store: 503,
  bus: 503,
  internal: 500,
};

/** Codes whose status is not their family's, each with its reason. */
const EXCEPTIONS: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  // Back-pressure, not an outage: the client retries after Retry-After.
  QUEUE_FULL: 429,
  // The task's state forbids the request (it was cancelled), rather than a failure of the work.
  TASK_CANCELLED: 409,
  // Transient: the task goes back to the queue and another agent takes it.
  AGENT_LOST: 503,
  // Transient: every provider of the rule failed or is cooling down.
  MODEL_UNAVAILABLE: 503,
};

/** Statuses of the codes only the HTTP layer raises. */
const HTTP_STATUS: Record<HttpErrorCode, ContentfulStatusCode> = {
  MALFORMED_JSON: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN_HOST: 403,
  FORBIDDEN_ORIGIN: 403,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
};

export interface ErrorBody {
  error: { code: string; message: string; field?: string; details?: Record<string, unknown> };
}

/** The status of any code, a FactoryError's or the HTTP layer's; 500 for a code neither knows. */
export function statusFor(code: string): ContentfulStatusCode {
  if (Object.hasOwn(HTTP_STATUS, code)) return HTTP_STATUS[code as HttpErrorCode];
  if (!isErrorCode(code)) return 500;
  return EXCEPTIONS[code] ?? FAMILY_STATUS[familyOf(code)];
}

/** Maps anything thrown to a status and the wire body; unknown errors are 500 INTERNAL without internals. */
export function toErrorResponse(error: unknown): { status: ContentfulStatusCode; body: ErrorBody } {
  if (isFactoryError(error) || error instanceof HttpError) return { status: statusFor(error.code), body: { error: error.toJSON() } };
  return { status: 500, body: { error: { code: "INTERNAL", message: "internal error; see the server log" } } };
}
