import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import type { Factory } from "../../factory/factory.ts";
import { errorResponses, jsonBody, jsonContent } from "../openapi-helpers.ts";

export const RouteRequestSchema = z
  .strictObject({
    metadata: z.record(z.string(), z.unknown()).default({}).meta({ description: "The call's task metadata, e.g. { quality: 'high', confidential: true }" }),
    estimatedInputTokens: z.number().int().min(0).max(100_000_000),
    crewId: z.string().max(128).optional().meta({ description: "Judge the remaining budget of this crew (its wallet and its limits)" }),
    agentId: z.string().max(128).optional().meta({ description: "Judge this agent's budget limit too" }),
  })
  .meta({ id: "RouteRequest" });

export const RouteDecisionSchema = z
  .object({
    model: z.string(),
    fallbacks: z.array(z.string()),
    rule: z.string().meta({ description: "The rule that chose" }),
    reason: z.string(),
    budgetFraction: z.number().nullable().meta({ description: "Remaining budget as a fraction (null: no budget applies)" }),
  })
  .meta({ id: "RouteDecision" });

const PriceSchema = z.object({ input: z.number(), output: z.number() }).meta({ id: "Price", description: "Credits per 1,000 tokens in and out" });

export const ModelsInfoSchema = z
  .object({
    providers: z.array(
      z.object({
        name: z.string(),
        kind: z.enum(["mock", "openai-compatible", "anthropic"]),
        baseURL: z.string().nullable(),
        servesAll: z.boolean().meta({ description: "Takes every model name no provider claims by prefix" }),
        calls: z.number().int(),
        failures: z.number().int(),
        consecutiveFailures: z.number().int(),
        coolingDownUntil: z.string().nullable(),
      }),
    ),
    rules: z.array(z.object({ name: z.string(), when: z.record(z.string(), z.unknown()), model: z.string(), fallbacks: z.array(z.string()), reason: z.string().optional() })),
    pricing: z.object({ prices: z.record(z.string(), PriceSchema), defaultPrice: PriceSchema }),
    calls: z.number().int().meta({ description: "Model calls made since start" }),
    uncoveredCredits: z.number().meta({ description: "Cost beyond what calls had reserved (providers reported more tokens than estimated), not charged" }),
  })
  .meta({ id: "ModelsInfo" });

export function modelRoutes(app: OpenAPIHono, factory: Factory): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/models/route",
      operationId: "routeModel",
      tags: ["models"],
      summary: "Explain routing: which model a call would go to, by which rule, and why",
      request: jsonBody(RouteRequestSchema),
      responses: { 200: jsonContent(RouteDecisionSchema, "The decision"), ...errorResponses(400, 401, 404, 409, 413, 415) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      return c.json(
        await factory.routeModel({
          metadata: body.metadata,
          estimatedInputTokens: body.estimatedInputTokens,
          ...(body.crewId === undefined ? {} : { crewId: body.crewId }),
          ...(body.agentId === undefined ? {} : { agentId: body.agentId }),
        }),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/models",
      operationId: "getModels",
      tags: ["models"],
      summary: "Providers (calls, failures, cooldowns), routing rules and prices",
      responses: { 200: jsonContent(ModelsInfoSchema, "How model calls are routed and priced"), ...errorResponses(401) },
    }),
    (c) => c.json(factory.modelsInfo() as z.output<typeof ModelsInfoSchema>, 200),
  );
}
