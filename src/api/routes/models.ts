import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import type { Factory } from "../../factory/factory.ts";
import { errorResponses, jsonBody, jsonContent } from "../openapi-helpers.ts";

const RouteRequestSchema = z
  .strictObject({
    metadata: z.record(z.string(), z.unknown()).default({}).meta({ description: "The call's task metadata, e.g. { quality: 'high', confidential: true }" }),
    estimatedInputTokens: z.number().int().min(0).max(100_000_000),
    crewId: z.string().max(128).optional().meta({ description: "Judge the remaining budget of this crew" }),
  })
  .meta({ id: "RouteRequest" });

const RouteDecisionSchema = z
  .object({
    model: z.string(),
    fallbacks: z.array(z.string()),
    rule: z.string().meta({ description: "The rule that chose" }),
    reason: z.string(),
    budgetFraction: z.number().nullable().meta({ description: "Remaining budget as a fraction (null: no budget applies)" }),
  })
  .meta({ id: "RouteDecision" });

export function modelRoutes(app: OpenAPIHono, factory: Factory): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/models/route",
      tags: ["models"],
      summary: "Explain routing: which model a call would go to, by which rule, and why",
      request: jsonBody(RouteRequestSchema),
      responses: { 200: jsonContent(RouteDecisionSchema, "The decision"), ...errorResponses(400, 401, 404, 409, 413, 415) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      return c.json(await factory.routeModel({ metadata: body.metadata, estimatedInputTokens: body.estimatedInputTokens, ...(body.crewId === undefined ? {} : { crewId: body.crewId }) }), 200);
    },
  );
}
