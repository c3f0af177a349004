import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import type { Factory } from "../../factory/factory.ts";
import { errorResponses, jsonBody, jsonContent } from "../openapi-helpers.ts";
import { itemsOf } from "../schemas.ts";

export const BudgetSchema = z
  .object({
    key: z.string().meta({ description: "global, crew:<id> or agent:<id>" }),
    credits: z.number().meta({ description: "Most credits spent per period (or ever, without one)" }),
    periodMs: z.number().int().nullable(),
    spent: z.number().meta({ description: "Spent in the current period" }),
    reserved: z.number().meta({ description: "Held for calls under way" }),
    remaining: z.number(),
    resetsAt: z.string().nullable(),
  })
  .meta({ id: "Budget" });

export const BudgetPutSchema = z
  .strictObject({
    credits: z.number().min(0).max(1_000_000_000),
    periodMs: z.number().int().min(1_000).max(31_622_400_000).nullable().default(null).meta({ description: "e.g. 86400000 for a daily budget; null: no period" }),
  })
  .meta({ id: "BudgetPut" });

const KeyParam = z.object({ key: z.string().max(200).meta({ param: { name: "key", in: "path" }, example: "crew:crew_1234" }) });

export function budgetRoutes(app: OpenAPIHono, factory: Factory): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/budgets",
      operationId: "listBudgets",
      tags: ["models"],
      summary: "Every budget limit with what it has spent, holds and has left",
      responses: { 200: jsonContent(itemsOf(BudgetSchema), "The limits"), ...errorResponses(401) },
    }),
    (c) => c.json({ items: factory.listBudgets() }, 200),
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/v1/budgets/{key}",
      operationId: "setBudget",
      tags: ["models"],
      summary: "Set a budget: global, per crew (crew:<id>) or per agent (agent:<id>), optionally per period",
      request: { params: KeyParam, ...jsonBody(BudgetPutSchema) },
      responses: { 200: jsonContent(BudgetSchema, "The limit as it stands"), ...errorResponses(400, 401, 404, 413) },
    }),
    async (c) => {
      const { key } = c.req.valid("param");
      const body = c.req.valid("json");
      return c.json(await factory.setBudget(key, body), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/budgets/{key}",
      operationId: "removeBudget",
      tags: ["models"],
      summary: "Remove a budget limit",
      request: { params: KeyParam },
      responses: { 204: { description: "Removed" }, ...errorResponses(401, 404) },
    }),
    async (c) => {
      await factory.removeBudget(c.req.valid("param").key);
      return c.body(null, 204);
    },
  );
}
