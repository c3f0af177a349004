import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import type { Factory } from "../../factory/factory.ts";
import { resolvedOf } from "../auth.ts";
import { errorResponses, jsonBody, jsonContent } from "../openapi-helpers.ts";
import { itemsOf } from "../schemas.ts";

const tags = ["tools"];

export const ToolSchema = z
  .object({
    name: z.string().meta({ description: "`server.tool`: unique among an agent's tools" }),
    server: z.string(),
    tool: z.string(),
    description: z.string(),
    inputSchema: z.record(z.string(), z.unknown()).meta({ description: "The tool's JSON Schema for its arguments, as its server declared it" }),
    agentId: z.string(),
    crewId: z.string().nullable(),
  })
  .meta({ id: "Tool" });

export const ToolCallSchema = z
  .strictObject({
    agentId: z.string().min(1).max(128).meta({ description: "The agent whose server and rights (its allow-list) the call uses" }),
    server: z.string().min(1).max(64),
    tool: z.string().min(1).max(256),
    arguments: z.record(z.string(), z.unknown()).optional().meta({ description: "The tool's arguments, checked by its server against its inputSchema" }),
  })
  .meta({ id: "ToolCall" });

export const ToolResultSchema = z
  .object({
    content: z.array(z.record(z.string(), z.unknown())).meta({ description: "MCP content blocks (text, image, resource …)" }),
    isError: z.boolean().meta({ description: "The tool failed, or its server did (down, timed out, a protocol error): content says why" }),
    structuredContent: z.unknown().optional(),
  })
  .meta({ id: "ToolResult" });

/** The tool registry and the executor over HTTP (docs/mcp.md). */
export function toolRoutes(app: OpenAPIHono, factory: Factory): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/tools",
      operationId: "listTools",
      tags,
      summary: "The tools of agents' MCP servers on this node, namespaced `server.tool`, with their JSON Schemas",
      description: "Only the tools each agent's allow-list lets be called. With `agentId`, the node that runs that agent answers.",
      request: { query: z.strictObject({ agentId: z.string().min(1).max(128).optional(), crewId: z.string().min(1).max(128).optional(), server: z.string().min(1).max(64).optional() }) },
      responses: { 200: jsonContent(itemsOf(ToolSchema), "Tools"), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const { agentId, crewId, server } = c.req.valid("query");
      // A filter naming nothing that exists is a mistake to say, not an empty list.
      if (agentId !== undefined) await factory.getAgent(agentId);
      if (crewId !== undefined) await factory.getCrew(crewId);
      return c.json({ items: factory.listTools({ ...(agentId === undefined ? {} : { agentId }), ...(crewId === undefined ? {} : { crewId }), ...(server === undefined ? {} : { server }) }) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/tools/call",
      operationId: "callTool",
      tags,
      summary: "Call one of an agent's MCP tools, with that agent's rights",
      description:
        "Goes through the one executor: the agent's allow-list (403 FORBIDDEN), a timeout that progress extends, a `tool.called` event. A tool or server failure is a 200 with `isError: true`; the node that runs the agent answers.",
      request: jsonBody(ToolCallSchema),
      responses: { 200: jsonContent(ToolResultSchema, "The tool's result"), ...errorResponses(400, 401, 403, 404, 413, 503) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const keyId = resolvedOf(c)?.principal.keyId ?? null;
      const result = await factory.callTool(body, { kind: "operator", keyId: keyId ?? "none" }, c.req.raw.signal);
      return c.json(result, 200);
    },
  );
}
