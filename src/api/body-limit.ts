import type { Context, MiddlewareHandler } from "hono";
import { HttpError } from "./http-error.ts";
import { toErrorResponse } from "./http-errors.ts";

/** Bytes of a refused body read and dropped before answering, unless told otherwise. */
export const DEFAULT_DRAIN_BYTES = 64 * 1024 * 1024;

export interface BodyLimitOptions {
  /** Largest body accepted, in bytes. */
  maxBytes: number;
  /** Most bytes of a refused body read and discarded so the client can read the answer; default 64 MiB (at least 4 × maxBytes). */
  drainBytes?: number;
  /** Longest a refused body is read for; default 10 s. */
  drainMs?: number;
}

/**
 * Refuses bodies over `maxBytes` with 413 PAYLOAD_TOO_LARGE in a way every client can read.
 * Hono's bodyLimit answers without reading the body, and the Node adapter then gives the rest
 * half a second before it cuts the socket: a client still sending (Node's fetch) sees "other
 * side closed" instead of the answer. So the rest of a refused body is read and discarded, up
 * to `drainBytes`, before answering; a larger one is answered with `Connection: close`, which
 * lets the client read the answer before the connection ends.
 */
export function bodyLimit(options: BodyLimitOptions): MiddlewareHandler {
  const { maxBytes } = options;
  // Generous: a client still writing when the socket closes sees EPIPE, not the 413. Reading and
  // dropping 64 MiB costs a loopback client well under a second; `drainMs` bounds a slow one.
  const drainBytes = options.drainBytes ?? Math.max(maxBytes * 4, DEFAULT_DRAIN_BYTES);
  const drainMs = options.drainMs ?? 10_000;
  return async function bodyLimit(c, next) {
    // A request body is bytes; Node's global Request types it as ReadableStream<any>.
    const body = c.req.raw.body as ReadableStream<Uint8Array> | null;
    if (body === null) return next();
    const declared = c.req.header("transfer-encoding") === undefined ? c.req.header("content-length") : undefined;
    if (declared !== undefined) {
      const length = Number(declared);
      if (length <= maxBytes) return next();
      return tooLarge(c, length <= drainBytes && (await discard(body.getReader(), drainBytes, drainMs)), maxBytes);
    }
    // No length given (chunked): keep what fits, then discard the rest once it is over.
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > maxBytes) return tooLarge(c, await discard(reader, drainBytes - size, drainMs), maxBytes);
      chunks.push(value);
    }
    c.req.raw = new Request(c.req.raw, { body: Buffer.concat(chunks, size) });
    return next();
  };
}

function tooLarge(c: Context, drained: boolean, maxBytes: number): Response {
  const { status, body } = toErrorResponse(new HttpError("PAYLOAD_TOO_LARGE", `the body is larger than the limit of ${maxBytes} bytes`));
  return c.json(body, status, drained ? {} : { connection: "close" });
}

/** Reads and drops the rest of a body; true when it ended within `budget` bytes and `ms`. */
async function discard(reader: ReadableStreamDefaultReader<Uint8Array>, budget: number, ms: number): Promise<boolean> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void reader.cancel().catch(() => {});
  }, ms);
  try {
    let left = budget;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return !timedOut;
      left -= value.length;
      if (left < 0) {
        await reader.cancel().catch(() => {});
        return false;
      }
    }
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
