import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { AGENT_STATES } from "../../core/lifecycle.ts";
import { NameSchema, ProfileSchema, RoleSchema } from "../../core/schemas/profile.ts";
import type { Factory } from "../../factory/factory.ts";
import { errorResponses, jsonBody, jsonContent, noBody } from "../openapi-helpers.ts";
import { AgentSchema, IdParam, itemsOf, LimitQuery, WalletSchema } from "../schemas.ts";

const tags = ["agents"];

const SpawnSchema = z
  .strictObject({
    profile: NameSchema.optional().meta({ description: "A registered profile's name" }),
    config: ProfileSchema.optional().meta({ description: "An inline profile (registered, then spawned)" }),
    name: z.string().min(1).max(128).optional(),
  })
  .refine((b) => (b.profile === undefined) !== (b.config === undefined), {
    message: "give exactly one of 'profile' (a name) and 'config' (an inline profile)",
    path: ["profile"],
  })
  .meta({ id: "SpawnRequest" });

export function agentRoutes(app: OpenAPIHono, factory: Factory): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/agents",
      tags,
      summary: "Spawn an agent; answers when it is READY",
      request: jsonBody(SpawnSchema),
      responses: { 201: jsonContent(AgentSchema, "The READY agent"), ...errorResponses(400, 401, 404, 413, 422, 503) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      return c.json(await factory.spawnAgent({ profile: body.profile, config: body.config, name: body.name }), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/agents",
      tags,
      summary: "Agents, newest first (those in memory, unless `state=TERMINATED` or `state=HIBERNATING`, which read the store)",
      request: {
        query: z.strictObject({
          state: z.enum(AGENT_STATES).optional(),
          role: RoleSchema.optional(),
          crewId: z.string().max(128).optional(),
          limit: LimitQuery,
        }),
      },
      responses: { 200: jsonContent(itemsOf(AgentSchema), "Agents"), ...errorResponses(400, 401) },
    }),
    async (c) => {
      return c.json({ items: await factory.listAgents(c.req.valid("query")) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/agents/{id}",
      tags,
      summary: "One agent",
      request: { params: IdParam },
      responses: { 200: jsonContent(AgentSchema, "The agent"), ...errorResponses(401, 404) },
    }),
    async (c) => c.json(await factory.getAgent(c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/agents/{id}",
      tags,
      summary: "Terminate an agent: it drains its running tasks first",
      request: { params: IdParam },
      responses: {
        200: jsonContent(AgentSchema, "The agent, DRAINING or TERMINATED"),
        ...errorResponses(401, 404, 409),
      },
    }),
    async (c) => c.json(await factory.terminateAgent(c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/agents/{id}/clone",
      tags,
      summary: "Clone a live agent for fan-out: same profile version and crew, starting from its saved context",
      request: { params: IdParam, ...noBody },
      responses: { 201: jsonContent(AgentSchema, "The READY clone"), ...errorResponses(401, 404, 409, 422) },
    }),
    async (c) => c.json(await factory.cloneAgent(c.req.valid("param").id), 201),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/agents/{id}/hibernate",
      tags,
      summary: "Put an idle agent to sleep: context saved to the store, runtime stopped, memory released",
      description:
        "The agent must be READY or IDLE with nothing running (else 409 AGENT_BUSY). A hibernated agent is only a store row; a task addressed to it (`agentId`, or an affinity key bound to it) or `POST /v1/agents/{id}/wake` wakes it with its context.",
      request: { params: IdParam, ...noBody },
      responses: { 200: jsonContent(AgentSchema, "The agent, HIBERNATING"), ...errorResponses(401, 404, 409) },
    }),
    async (c) => c.json(await factory.hibernateAgent(c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/agents/{id}/wake",
      tags,
      summary: "Wake a hibernated agent; answers when it is READY (an awake agent is returned as it is)",
      request: { params: IdParam, ...noBody },
      responses: { 200: jsonContent(AgentSchema, "The READY agent"), ...errorResponses(401, 404, 409, 422) },
    }),
    async (c) => c.json(await factory.wakeAgent(c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/wallets/{address}",
      tags: ["wallets"],
      summary: "A wallet of an agent or crew",
      request: { params: z.object({ address: z.string().min(1).max(128) }) },
      responses: { 200: jsonContent(WalletSchema, "The wallet"), ...errorResponses(401, 404) },
    }),
    async (c) => c.json(await factory.getWallet(c.req.valid("param").address), 200),
  );
}
