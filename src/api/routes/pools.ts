import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { NameSchema, PoolSettingsSchema, SPAWN_STRATEGIES } from "../../core/schemas/profile.ts";
import type { Factory } from "../../factory/factory.ts";
import { errorResponses, jsonContent } from "../openapi-helpers.ts";
import { itemsOf } from "../schemas.ts";

const DecisionSchema = z.object({
  policy: z.string(),
  from: z.number().int(),
  to: z.number().int(),
  reason: z.string(),
  metrics: z.object({ utilization: z.number(), queued: z.number(), queueFill: z.number(), forecastRatio: z.number() }),
  at: z.string(),
});

export const PoolSchema = z
  .object({
    profile: z.string(),
    version: z.number().int(),
    spawnStrategy: z.enum(SPAWN_STRATEGIES),
    balancer: z.string(),
    settings: PoolSettingsSchema,
    size: z.number().int().meta({ description: "Live agents of the profile in no crew" }),
    states: z.record(z.string(), z.number().int()),
    inCrews: z.number().int(),
    spawning: z.number().int(),
    target: z.number().int().meta({ description: "The size the pool is kept at: warm size, forecast or autoscaler target" }),
    queued: z.number().int(),
    running: z.number().int(),
    utilization: z.number(),
    dispatchRatePerSec: z.number(),
    forecastRatePerSec: z.number(),
    wait: z.object({ samples: z.number().int(), p50Ms: z.number(), p99Ms: z.number(), maxMs: z.number() }),
    decisions: z.array(DecisionSchema),
  })
  .meta({ id: "Pool" });

export const WaitingSchema = z
  .object({
    crewId: z.string().nullable(),
    role: z.string().nullable(),
    profile: z.string().nullable(),
    capabilities: z.array(z.string()),
    agentId: z.string().nullable().meta({ description: "Set for tasks that wait for one agent (addressed to it, or bound to it by affinity)" }),
    queued: z.number().int(),
    profiles: z.array(z.string()).meta({ description: "Profiles whose pools could serve these tasks (crewless targets only)" }),
  })
  .meta({ id: "WaitingTarget" });

export function poolRoutes(app: OpenAPIHono, factory: Factory): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/pools",
      operationId: "listPools",
      tags: ["pools"],
      summary: "Every pool (one per profile): size, states, queue, wait times, target and scaling decisions; and the tasks waiting, by target",
      responses: {
        200: jsonContent(itemsOf(PoolSchema).extend({ waiting: z.array(WaitingSchema).meta({ description: "Tasks waiting for an agent, counted by target, most first" }) }), "Pools by profile name"),
        ...errorResponses(401),
      },
    }),
    (c) => c.json({ items: factory.listPools(), waiting: factory.listWaiting() }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/pools/{profile}",
      operationId: "getPool",
      tags: ["pools"],
      summary: "One pool",
      request: { params: z.object({ profile: NameSchema }) },
      responses: { 200: jsonContent(PoolSchema, "The pool"), ...errorResponses(400, 401, 404) },
    }),
    (c) => c.json(factory.getPool(c.req.valid("param").profile), 200),
  );
}
