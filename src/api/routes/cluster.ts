import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import { FactoryError } from "../../core/errors.ts";
import type { AgentModelRequest } from "../../core/model-call.ts";
import type { Factory } from "../../factory/factory.ts";
import { errorResponses, jsonBody, jsonContent } from "../openapi-helpers.ts";
import { AgentSchema, CrewSchema, IdParam, ModelRequestSchema, ModelResultSchema, ProfileRecordSchema } from "../schemas.ts";

const tags = ["cluster"];
/** A crew as its node sends it along (its record, without the members' views). */
const CrewRecordSchema = CrewSchema.omit({ agents: true }).meta({ id: "CrewRecord" });
const description = "Node to node: one node of a cluster asks another, with the cluster's API key. Not for operators.";

/** The routes nodes of a cluster call on each other for crews whose members run on several nodes. */
export function clusterRoutes(app: OpenAPIHono, factory: Factory): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/cluster/crews/{id}/members",
      operationId: "hostCrewMember",
      tags,
      summary: "Run a member of another node's crew here (its node spreads the crew); answers once it is READY",
      description,
      request: { params: IdParam, ...jsonBody(z.strictObject({ crew: CrewRecordSchema, profile: ProfileRecordSchema, name: z.string().min(1).max(128), scopes: z.array(z.string().max(64)).max(64).optional() }).meta({ id: "HostMemberRequest" })) },
      responses: { 201: jsonContent(AgentSchema, "The member, READY"), ...errorResponses(400, 401, 404, 413, 415, 503) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      if (body.crew.id !== id) throw new FactoryError("VALIDATION_FAILED", `crew.id must be the path's crew, '${id}'`, { field: "crew.id" });
      return c.json(await factory.hostCrewMember(body.crew, body.profile, body.name, body.scopes), 201);
    },
  );
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/cluster/crews/{id}/signals",
      operationId: "deliverCrewSignal",
      tags,
      summary: "Deliver a broadcast of another node's crew to the members this node runs",
      description,
      request: {
        params: IdParam,
        ...jsonBody(
          z
            .strictObject({ agentIds: z.array(z.string().min(1).max(128)).max(10_000), signal: z.string().min(1).max(64), payload: z.unknown().optional(), at: z.string() })
            .meta({ id: "DeliverSignalRequest" }),
        ),
      },
      responses: { 200: jsonContent(z.object({ delivered: z.number().int() }), "How many members took it"), ...errorResponses(400, 401, 413, 415, 503) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      return c.json({ delivered: await factory.deliverCrewSignal(id, body.agentIds, body.signal, body.payload ?? null, body.at) }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/cluster/model-calls",
      operationId: "callModelForMember",
      tags,
      summary: "Make a model call for a member (run by another node) of a crew this node owns: the crew's wallet pays, its budgets apply",
      description,
      request: jsonBody(
        z
          .strictObject({ crewId: z.string().min(1).max(64), agentId: z.string().min(1).max(128), taskId: z.string().min(1).max(128), request: ModelRequestSchema })
          .meta({ id: "MemberModelCall" }),
      ),
      responses: { 200: jsonContent(ModelResultSchema, "The model's answer and what it cost"), ...errorResponses(400, 401, 402, 404, 413, 415, 503) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const result = await factory.callModelForMember(body.crewId, body.agentId, body.taskId, body.request as AgentModelRequest);
      return c.json(result, 200);
    },
  );
}
