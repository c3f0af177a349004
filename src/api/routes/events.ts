import type { OpenAPIHono } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import { FactoryError } from "../../core/errors.ts";
import { EVENT_TYPES, type FactoryEvent } from "../../core/events.ts";
import { parseWith } from "../../core/schemas/parse.ts";
import type { EventFilter, Factory } from "../../factory/factory.ts";
import { errorResponses } from "../openapi-helpers.ts";

const EventsQuery = z.strictObject({
  types: z.string().max(1_000).optional().meta({ description: "Comma-separated event types; `agent.*` matches a family" }),
  crewId: z.string().max(128).optional(),
  agentId: z.string().max(128).optional(),
  taskId: z.string().max(128).optional(),
  after: z.coerce.number().int().min(0).optional().meta({ description: "Replay stored events after this seq first (also `Last-Event-ID`)" }),
});

/** A client further behind than this is cut off; it resumes with `Last-Event-ID`. */
const MAX_BACKLOG = 10_000;
const KEEPALIVE_MS = 15_000;

/**
 * `GET /v1/events`: every state change as Server-Sent Events (`id` = seq, `event` = type).
 * With `after` or `Last-Event-ID` the stored events after it are replayed first, so a client
 * that reconnects misses nothing.
 */
export function eventRoutes(app: OpenAPIHono, factory: Factory, serverClosing: AbortSignal): void {
  const closing = AbortSignal.any([serverClosing, factory.closing]);
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/v1/events",
    operationId: "streamEvents",
    tags: ["events"],
    summary: "Stream every state change (Server-Sent Events)",
    request: { query: EventsQuery },
    responses: {
      200: { description: "An event stream; each event's data is a FactoryEvent", content: { "text/event-stream": { schema: z.string() } } },
      ...errorResponses(400, 401),
    },
  });

  app.get("/v1/events", (c) => {
    const query = parseWith(EventsQuery, c.req.query(), "query");
    const lastEventId = c.req.header("last-event-id");
    let after = query.after;
    if (lastEventId !== undefined) {
      after = Number(lastEventId);
      if (!Number.isInteger(after) || after < 0) throw new FactoryError("VALIDATION_FAILED", "Last-Event-ID: must be an event seq (a whole number)", { field: "Last-Event-ID" });
    }
    const types = query.types?.split(",").map((t) => t.trim()).filter((t) => t.length > 0);
    for (const type of types ?? []) {
      const family = type.endsWith(".*") ? type.slice(0, -2) : undefined;
      if (family !== undefined ? !EVENT_TYPES.some((t) => t.startsWith(`${family}.`)) : !(EVENT_TYPES as readonly string[]).includes(type)) {
        throw new FactoryError("VALIDATION_FAILED", `types: unknown event type '${type}' (known: ${EVENT_TYPES.join(", ")}; 'agent.*' matches a family)`, { field: "types" });
      }
    }
    const filter: EventFilter = {
      ...(types === undefined || types.length === 0 ? {} : { types }),
      ...(query.crewId === undefined ? {} : { crewId: query.crewId }),
      ...(query.agentId === undefined ? {} : { agentId: query.agentId }),
      ...(query.taskId === undefined ? {} : { taskId: query.taskId }),
    };
    return streamSSE(c, async (stream) => {
      const backlog: FactoryEvent[] = [];
      let wake: (() => void) | undefined;
      let overflow = false;
      const unsubscribe = factory.onEvent((event) => {
        if (backlog.length >= MAX_BACKLOG) overflow = true;
        else backlog.push(event);
        wake?.();
      }, filter);
      const stop = (): void => wake?.();
      closing.addEventListener("abort", stop);
      stream.onAbort(stop);
      const keepalive = setInterval(() => void stream.write(": keepalive\n\n").catch(() => {}), KEEPALIVE_MS);
      keepalive.unref();
      try {
        let lastSent = after ?? 0;
        if (after !== undefined) {
          // Replay in pages until caught up with what the live subscription already holds.
          for (;;) {
            const page = await factory.listEvents({ ...filter, afterSeq: lastSent, limit: 1000 });
            for (const event of page) {
              await stream.writeSSE({ id: String(event.seq), event: event.type, data: JSON.stringify(event) });
              lastSent = event.seq;
            }
            if (page.length < 1000) break;
          }
        }
        await stream.writeSSE({ event: "ready", data: JSON.stringify({ lastSeq: factory.isOpen ? factory.stats().lastEventSeq : lastSent }) });
        while (!stream.aborted && !closing.aborted && !overflow) {
          const event = backlog.shift();
          if (event === undefined) {
            await new Promise<void>((resolve) => (wake = resolve));
            wake = undefined;
            continue;
          }
          if (event.nodeId !== undefined && event.nodeId !== factory.nodeId) {
            // Another node's event (a shared bus): its seq counts that node's events, not ours, so
            // it is sent without an id — Last-Event-ID and the seq filter stay this node's.
            await stream.writeSSE({ event: event.type, data: JSON.stringify(event) });
            continue;
          }
          if (event.seq <= lastSent) continue;
          await stream.writeSSE({ id: String(event.seq), event: event.type, data: JSON.stringify(event) });
          lastSent = event.seq;
        }
        if (overflow) await stream.writeSSE({ event: "overflow", data: JSON.stringify({ resumeAfter: lastSent }) });
      } finally {
        clearInterval(keepalive);
        unsubscribe();
        closing.removeEventListener("abort", stop);
      }
    });
  });
}
