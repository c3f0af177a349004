import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Factory } from "../../factory/factory.ts";
import { errorResponses, jsonContent } from "../openapi-helpers.ts";
import { itemsOf, NodeSchema } from "../schemas.ts";

export function nodeRoutes(app: OpenAPIHono, factory: Factory): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/nodes",
      operationId: "listNodes",
      tags: ["nodes"],
      summary: "The nodes of the cluster, this one included, oldest join first, with their lease, agents and load (a single node lists itself)",
      responses: { 200: jsonContent(itemsOf(NodeSchema), "The nodes"), ...errorResponses(401) },
    }),
    async (c) => c.json({ items: await factory.listNodes() }, 200),
  );
}
