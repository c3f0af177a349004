import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { OPERATOR_ROLES } from "../../core/operator-key.ts";
import type { Factory } from "../../factory/factory.ts";
import { errorResponses, jsonBody, jsonContent } from "../openapi-helpers.ts";
import { itemsOf } from "../schemas.ts";

const tags = ["keys"];

export const OperatorKeySchema = z
  .object({
    id: z.string().meta({ example: "k1f2e3d4c5b6a7988" }),
    name: z.string(),
    role: z.enum(OPERATOR_ROLES),
    crews: z.array(z.string()).nullable().meta({ description: "The crews the key is limited to; null: not limited" }),
    createdAt: z.string(),
  })
  .meta({ id: "OperatorKey" });

export const CreatedKeySchema = OperatorKeySchema.extend({
  secret: z.string().meta({ description: "`afk_<id>_<43 base64url characters>`: shown this once, stored only as a hash" }),
}).meta({ id: "CreatedOperatorKey" });

export const CreateKeySchema = z
  .strictObject({
    name: z.string().min(1).max(128),
    role: z.enum(OPERATOR_ROLES).meta({ description: "viewer: reads; operator: everything but keys and server settings; admin: everything" }),
    crews: z
      .array(z.string().min(1).max(128))
      .min(1)
      .max(100)
      .optional()
      .meta({ description: "Limit the key to these crews (existing crew ids); not for admin keys" }),
  })
  .meta({ id: "CreateKeyRequest" });

/** Operator keys: create (the secret is shown once), list (never the secrets), revoke. */
export function keyRoutes(app: OpenAPIHono, factory: Factory): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/keys",
      operationId: "createKey",
      tags,
      summary: "Create an operator key with a role, optionally limited to crews; the answer holds its secret, shown only this once",
      request: jsonBody(CreateKeySchema),
      responses: { 201: jsonContent(CreatedKeySchema, "The key and its secret"), ...errorResponses(400, 401, 404, 413, 415) },
    }),
    async (c) => c.json(await factory.createOperatorKey(c.req.valid("json")), 201),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/keys",
      operationId: "listKeys",
      tags,
      summary: "Every operator key, oldest first, without secrets (AGENT_FACTORY_API_KEY is not listed)",
      responses: { 200: jsonContent(itemsOf(OperatorKeySchema), "The keys"), ...errorResponses(401) },
    }),
    async (c) => c.json({ items: await factory.listOperatorKeys() }, 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/keys/{id}",
      operationId: "revokeKey",
      tags,
      summary: "Revoke a key: refused on this node at once, on every node of a cluster within a second",
      request: { params: z.object({ id: z.string().min(1).max(64) }) },
      responses: { 204: { description: "Revoked" }, ...errorResponses(401, 404) },
    }),
    async (c) => {
      await factory.revokeOperatorKey(c.req.valid("param").id);
      return c.body(null, 204);
    },
  );
}
