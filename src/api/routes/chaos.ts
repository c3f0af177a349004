import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import type { Factory } from "../../factory/factory.ts";
import { errorResponses, jsonBody, jsonContent } from "../openapi-helpers.ts";

const tags = ["chaos"];

export const ChaosActionSchema = z.object({ agentId: z.string(), pid: z.number().int().nullable(), at: z.string() }).meta({ id: "ChaosAction" });

/**
 * Chaos actions, for proving self-healing against a running server (`agent-factory chaos`).
 * Registered only when the server is started with `--chaos`: a production server has none.
 */
export function chaosRoutes(app: OpenAPIHono, factory: Factory): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/chaos/kill",
      operationId: "chaosKill",
      tags,
      summary: "Kill an agent: kill -9 of its process (a function agent's runtime is dropped as if it crashed)",
      request: jsonBody(z.strictObject({ agentId: z.string().min(1).max(128) }).meta({ id: "ChaosKill" })),
      responses: { 200: jsonContent(ChaosActionSchema, "What was done"), ...errorResponses(400, 401, 404, 409) },
    }),
    async (c) => c.json(factory.chaosKill(c.req.valid("json").agentId), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/chaos/freeze",
      operationId: "chaosFreeze",
      tags,
      summary: "Freeze a process agent (SIGSTOP) for `ms`, then let it go on (SIGCONT)",
      request: jsonBody(z.strictObject({ agentId: z.string().min(1).max(128), ms: z.number().int().min(1).max(600_000) }).meta({ id: "ChaosFreeze" })),
      responses: { 200: jsonContent(ChaosActionSchema, "What was done"), ...errorResponses(400, 401, 404, 409) },
    }),
    async (c) => {
      const { agentId, ms } = c.req.valid("json");
      return c.json(factory.chaosFreeze(agentId, ms), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/v1/chaos/latency",
      operationId: "chaosLatency",
      tags,
      summary: "Add `ms` before every task's handler starts (0 turns it off)",
      request: jsonBody(z.strictObject({ ms: z.number().int().min(0).max(60_000) }).meta({ id: "ChaosLatency" })),
      responses: { 200: jsonContent(z.object({ latencyMs: z.number().int() }), "The latency now injected"), ...errorResponses(400, 401) },
    }),
    async (c) => c.json(factory.chaosLatency(c.req.valid("json").ms), 200),
  );
}
