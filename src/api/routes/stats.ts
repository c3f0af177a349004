import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { FORWARDED_BY } from "../../cluster/peers.ts";
import { mergeFleetCounts } from "../../core/fleet-counts.ts";
import type { FleetStats } from "../../core/fleet-stats.ts";
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
    lastEventSeq: z.number().int().meta({ description: "The answering node's last event seq" }),
    unreachable: z.array(z.string()).meta({ description: "Alive nodes whose counts could not be read: their agents are missing from `agents`" }),
  })
  .meta({ id: "FleetStats" });

/** How long a node waits for another's counts before it answers without them. */
const PEER_TIMEOUT_MS = 2_000;

/** `GET /v1/stats`: the fleet counted server-side, so the dashboard never pages through every agent. */
export function statsRoutes(app: OpenAPIHono, factory: Factory): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/stats",
      operationId: "getFleetStats",
      tags: ["stats"],
      summary: "The fleet at a glance: agents by state, profile, node and crew, crews by state, the queue, healing and the nodes",
      description:
        "Aggregated on the server in one pass over the live agents (a few ms for 100,000): what the dashboard polls instead of listing agents. On a cluster the node asks every other live node for its own counts (with the caller's key) and answers the sum; a node that does not answer within 2 s is listed in `unreachable`.",
      request: { query: z.strictObject({ topCrews: z.coerce.number().int().min(0).max(1000).optional().meta({ description: "How many of the largest crews `agents.byCrew` names; default 20" }) }) },
      responses: { 200: jsonContent(FleetStatsSchema, "The fleet's counts"), ...errorResponses(400, 401) },
    }),
    async (c) => {
      const topCrews = c.req.valid("query").topCrews ?? 20;
      const here = await factory.fleetStats(topCrews);
      // Asked by another node: this node's own counts only (it sums them).
      if (c.req.header(FORWARDED_BY) !== undefined) return c.json(here, 200);
      const others = here.nodes.filter((n) => n.alive && n.id !== here.nodeId);
      if (others.length === 0) return c.json(here, 200);
      const urls = new Map((await factory.listNodes()).map((n) => [n.id, n.url]));
      const answers = await Promise.all(others.map(async (node) => ({ node: node.id, stats: await countsOf(urls.get(node.id) ?? null, c.req.header("authorization"), here.nodeId, topCrews) })));
      const read = answers.flatMap((a) => (a.stats === undefined ? [] : [a.stats]));
      const merged: FleetStats = {
        ...here,
        agents: mergeFleetCounts([here.agents, ...read.map((s) => s.agents)], topCrews),
        tasks: { queued: here.tasks.queued + read.reduce((n, s) => n + s.tasks.queued, 0), running: here.tasks.running + read.reduce((n, s) => n + s.tasks.running, 0) },
        unreachable: answers.filter((a) => a.stats === undefined).map((a) => a.node),
      };
      return c.json(merged, 200);
    },
  );
}

/** Another node's own counts, asked with the caller's key; undefined when it cannot say in time. */
async function countsOf(url: string | null, authorization: string | undefined, self: string, topCrews: number): Promise<FleetStats | undefined> {
  if (url === null) return undefined;
  try {
    const answer = await fetch(new URL(`/v1/stats?topCrews=${topCrews}`, url), {
      headers: { [FORWARDED_BY]: self, ...(authorization === undefined ? {} : { authorization }) },
      signal: AbortSignal.timeout(PEER_TIMEOUT_MS),
    });
    return answer.ok ? ((await answer.json()) as FleetStats) : undefined;
  } catch {
    return undefined;
  }
}
