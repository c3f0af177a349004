import { randomUUID } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import type { Logger } from "../core/ports/logger.ts";

/** An id a caller or a proxy sent that is safe to echo and log as it is. */
const GIVEN_ID = /^[\w.:-]{1,128}$/;

/**
 * Request ids and the log of failed requests. Each request gets an id: the caller's
 * `x-request-id` when it is a plain token (a proxy's, to follow one request across systems), else
 * a new UUID; it is echoed in the answer's `x-request-id`. A request answered 5xx is logged at
 * `error` with its id, method, path, status and time (and the error, if one was thrown); a 4xx
 * at `debug` (a client's mistake is the client's to see: it got the message). Paths are logged,
 * never query strings or bodies (they may carry secrets).
 */
export function requestLog(logger: Logger): MiddlewareHandler {
  return async function requestLog(c: Context, next): Promise<void> {
    const given = c.req.header("x-request-id");
    const requestId = given !== undefined && GIVEN_ID.test(given) ? given : randomUUID();
    const started = performance.now();
    // Set before the handler answers, so every answer carries it (an error's, a stream's).
    c.header("x-request-id", requestId);
    await next();
    const status = c.res.status;
    if (status < 400) return;
    const fields = { requestId, method: c.req.method, path: c.req.path, status, ms: Math.round((performance.now() - started) * 10) / 10 };
    const message = `${c.req.method} ${c.req.path} answered ${status} (request ${requestId})`;
    if (status >= 500) logger.error(message, c.error, fields);
    else logger.debug?.(message, fields);
  };
}
