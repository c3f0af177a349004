import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import type { Factory } from "../../factory/factory.ts";
import { errorResponses, jsonContent } from "../openapi-helpers.ts";

const Counts = z.record(z.string(), z.number().int());
const Duration = z.object({ samples: z.number().int(), p50: z.number(), p99: z.number() });

export const FleetStatsSchema = z
  .object({
    nodeId: z.string().meta({ description: "The node that answered; `agents` counts the agents it runs" }),
    at: z.string(),
    agents: z.object({
      total: z.number().int().meta({ description: "Live agents (every state but TERMINATED and HIBERNATING)" }),
      byState: Counts,
      byProfile: Counts,
      byNode: Counts,
      byCrew: Counts.meta({ description: "The crews with most agents, `topCrews` of them (`\"\"`: agents in no crew)" }),
      otherCrews: z.number().int().meta({ description: "Agents of the crews past the top ones" }),
    }),
    crews: z.object({ total: z.number().int(), byState: Counts }),
    tasks: z.object({ queued: z.number().int(), running: z.number().int() }),
    nodes: z.array(z.object({ id: z.string(), alive: z.boolean(), agents: z.number().int(), load: z.number().int(), capacity: z.number().int() })),
    health: z.object({
      watched: z.number().int(),
      replaced: z.object({ lost: z.number().int(), silent: z.number().int(), stuck: z.number().int(), quality: z.number().int() }),
      givenUp: z.number().int(),
      detectionMs: Duration,
      replacementMs: Duration,
      hibernated: z.number().int(),
      woken: z.number().int(),
      wakeMs: Duration,
    }),
    dispatch: z.object({ samples: z.number().int(), p50Us: z.number(), p99Us: z.number() }),
    lastEventSeq: z.number().int(),
  })
  .meta({ id: "FleetStats" });

/** `GET /v1/stats`: the fleet counted server-side, so the dashboard never pages through every agent. */
export function statsRoutes(app: OpenAPIHono, factory: Factory): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/stats",
      operationId: "getFleetStats",
      tags: ["stats"],
      summary: "The fleet at a glance: agents by state, profile, node and crew, crews by state, the queue, healing and the nodes",
      description: "Aggregated on the server in one pass over the live agents (a few ms for 100,000): what the dashboard polls instead of listing agents.",
      request: { query: z.strictObject({ topCrews: z.coerce.number().int().min(0).max(1000).optional().meta({ description: "How many of the largest crews `agents.byCrew` names; default 20" }) }) },
      responses: { 200: jsonContent(FleetStatsSchema, "The fleet's counts"), ...errorResponses(400, 401) },
    }),
    async (c) => c.json(await factory.fleetStats(c.req.valid("query").topCrews), 200),
  );
}
