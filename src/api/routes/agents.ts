import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { AGENT_STATES } from "../../core/lifecycle.ts";
import { NameSchema, ProfileSchema, RoleSchema } from "../../core/schemas/profile.ts";
import type { Factory } from "../../factory/factory.ts";
import { errorResponses, jsonBody, jsonContent, noBody } from "../openapi-helpers.ts";
import { CursorQuery, decodeCursor, pageOf, toPage } from "../cursor.ts";
import { onlyCrewOf } from "../caller-crews.ts";
import { AgentSchema, IdParam, LimitQuery, ModelRequestSchema, ModelResultSchema, WalletSchema } from "../schemas.ts";
import type { AgentModelRequest } from "../../core/model-call.ts";

const tags = ["agents"];

export const SpawnSchema = z
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
      operationId: "spawnAgent",
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
      operationId: "listAgents",
      tags,
      summary: "Agents, newest first, a page at a time (those in memory, unless `state=TERMINATED` or `state=HIBERNATING`, which read the store)",
      description: "`limit` per page, 1,000 by default; `nextCursor` given as `cursor` gives the next, older page.",
      request: {
        query: z.strictObject({
          state: z.enum(AGENT_STATES).optional(),
          role: RoleSchema.optional(),
          crewId: z.string().max(128).optional(),
          limit: LimitQuery,
          cursor: CursorQuery,
        }),
      },
      responses: { 200: jsonContent(pageOf(AgentSchema).meta({ id: "AgentPage" }), "A page of agents"), ...errorResponses(400, 401) },
    }),
    async (c) => {
      const { cursor, limit = 1000, ...filter } = c.req.valid("query");
      // A caller held to one crew lists that crew's: filtered before paging, so no cursor names another crew's agent.
      const only = filter.crewId === undefined ? onlyCrewOf(c) : undefined;
      const fetched = await factory.listAgents({ ...filter, ...(only === undefined ? {} : { crewId: only }), ...(cursor === undefined ? {} : { after: decodeCursor(cursor) }), limit: limit + 1 });
      return c.json(toPage(fetched, limit, (a) => ({ at: a.spawnedAt, id: a.id })), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/agents/{id}",
      operationId: "getAgent",
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
      operationId: "terminateAgent",
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
      path: "/v1/agents/{id}/model-calls",
      operationId: "callAgentModel",
      tags,
      summary: "Make a model call for one of this agent's attempts, through the router: its crew's wallet pays (its own without a crew), under the budgets",
      description:
        "The HTTP form of the `model/call` method on a process agent's channel. An agent calls with its token as bearer, and only as itself (another agent's id is 403 FORBIDDEN); an operator key acts for the agent. `taskId` must be a task the agent is running (else 403 NOT_YOUR_TASK); the usage counts on that task.",
      request: { params: IdParam, ...jsonBody(ModelRequestSchema.extend({ taskId: z.string().min(1).max(128) }).meta({ id: "AgentModelCall" })) },
      responses: { 200: jsonContent(ModelResultSchema, "The model's answer and what it cost"), ...errorResponses(400, 401, 402, 403, 404, 413, 415, 503) },
    }),
    async (c) => {
      const { taskId, ...request } = c.req.valid("json");
      return c.json(await factory.callModelAsAgent(c.req.valid("param").id, taskId, request as AgentModelRequest), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/agents/{id}/clone",
      operationId: "cloneAgent",
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
      operationId: "hibernateAgent",
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
      operationId: "wakeAgent",
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
      operationId: "getWallet",
      tags: ["wallets"],
      summary: "A wallet of an agent or crew",
      request: { params: z.object({ address: z.string().min(1).max(128) }) },
      responses: { 200: jsonContent(WalletSchema, "The wallet"), ...errorResponses(401, 404) },
    }),
    async (c) => c.json(await factory.getWallet(c.req.valid("param").address), 200),
  );
}
