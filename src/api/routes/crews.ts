import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import type { Crew } from "../../core/crew.ts";
import { JsonValueSchema } from "../../core/schemas/json-value.ts";
import { CrewManifestSchema } from "../../core/schemas/manifest.ts";
import { FactoryError, isFactoryError } from "../../core/errors.ts";
import { isPast, newestFirst, type ListPosition } from "../../core/list-position.ts";
import { callerCrews } from "../caller-crews.ts";
import type { Factory } from "../../factory/factory.ts";
import { errorResponses, jsonBody, jsonContent } from "../openapi-helpers.ts";
import { CursorQuery, decodeCursor, pageOf, toPage } from "../cursor.ts";
import { AgentSchema, CrewMessageSchema, CrewSchema, CrewStateSchema, IdParam, itemsOf, LimitQuery } from "../schemas.ts";
import { NameSchema } from "../../core/schemas/profile.ts";
import { resolvedOf } from "../auth.ts";

const tags = ["crews"];

export const AssembleSchema = z
  .strictObject({
    manifest: CrewManifestSchema,
    requestId: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .meta({ description: "Echoed in the `crew.assembly.progress` events, so a client can follow its own assembly" }),
  })
  .meta({ id: "AssembleRequest" });

const BroadcastSchema = z.strictObject({ signal: z.string().min(1).max(64), payload: JsonValueSchema.optional() }).meta({ id: "BroadcastRequest" });
const PublishSchema = z.strictObject({ topic: z.string().min(1).max(128), payload: JsonValueSchema.optional() }).meta({ id: "PublishRequest" });
const KeyParams = z.object({ id: z.string().min(1).max(128), key: z.string().min(1).max(256) });
const ContextEntrySchema = z.object({ key: z.string(), value: z.unknown() }).meta({ id: "ContextEntry" });

export function crewRoutes(app: OpenAPIHono, factory: Factory): void {
  /** The caller's crews as a page of the list: newest first, past `after`, not disbanded unless asked for. */
  const heldCrews = async (ids: readonly string[], state: Crew["state"] | undefined, after: ListPosition | undefined, limit: number): Promise<Crew[]> => {
    const crews: Crew[] = [];
    for (const id of ids) {
      try {
        crews.push(await factory.getCrew(id));
      } catch (error) {
        if (!isFactoryError(error) || error.code !== "CREW_NOT_FOUND") throw error;
      }
    }
    const place = (crew: Crew): ListPosition => ({ at: crew.createdAt, id: crew.id });
    return crews
      .filter((crew) => (state === undefined ? crew.state !== "DISBANDED" : crew.state === state))
      .filter((crew) => after === undefined || isPast(place(crew), after))
      .sort((a, b) => newestFirst(place(a), place(b)))
      .slice(0, limit);
  };

  const view = async (crew: Crew) => ({ ...crew, agents: await factory.crewAgents(crew) });

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/crews/assemble",
      operationId: "assembleCrew",
      tags,
      summary: "Assemble a crew from a manifest; answers when every member is READY",
      description: "Atomic: if any member fails to start, every member already started is terminated and the crew is DISBANDED.",
      request: jsonBody(AssembleSchema),
      responses: { 201: jsonContent(CrewSchema, "The ACTIVE crew and its agents"), ...errorResponses(400, 401, 404, 413, 422, 503) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const { crew, agents } = await factory.assembleCrew(body.manifest, { requestId: body.requestId });
      return c.json({ ...crew, agents }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/crews/{id}/members",
      operationId: "spawnCrewMember",
      tags,
      summary: "Spawn an agent of a registered profile into a live crew, as a new member; answers when it is READY",
      description:
        "The HTTP form of the `agent/spawn` method on a process agent's channel: an agent whose profile has the `admin` scope may call it for its own crew with its token as bearer (any other agent: 403 FORBIDDEN; another crew: 403 CROSS_CREW).",
      request: { params: IdParam, ...jsonBody(z.strictObject({ profile: NameSchema.meta({ description: "A registered profile's name" }) }).meta({ id: "CrewMemberRequest" })) },
      responses: { 201: jsonContent(AgentSchema, "The READY member"), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 503) },
    }),
    async (c) => {
      // An agent's token: the new member gets no scope the agent lacks.
      const keyId = resolvedOf(c)?.principal.keyId ?? null;
      const byAgent = keyId?.startsWith("agent:") === true ? keyId.slice("agent:".length) : undefined;
      return c.json(await factory.spawnCrewMember(c.req.valid("param").id, c.req.valid("json").profile, byAgent === undefined ? {} : { byAgent }), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/crews",
      operationId: "listCrews",
      tags,
      summary: "Crews, newest first, a page at a time (not disbanded unless `state=DISBANDED`)",
      description: "`limit` per page, 1,000 by default; `nextCursor` given as `cursor` gives the next, older page.",
      request: { query: z.strictObject({ state: CrewStateSchema.optional(), limit: LimitQuery, cursor: CursorQuery }) },
      responses: { 200: jsonContent(pageOf(CrewSchema).meta({ id: "CrewPage" }), "A page of crews"), ...errorResponses(400, 401) },
    }),
    async (c) => {
      const { cursor, limit = 1000, ...filter } = c.req.valid("query");
      const after = cursor === undefined ? undefined : decodeCursor(cursor);
      const held = callerCrews(c);
      // A crew-limited caller's crews are few and known: listed from them, so no cursor names another crew.
      const fetched = held === null ? await factory.listCrews({ ...filter, ...(after === undefined ? {} : { after }), limit: limit + 1 }) : await heldCrews(held, filter.state, after, limit + 1);
      const page = toPage(fetched, limit, (crew) => ({ at: crew.createdAt, id: crew.id }));
      return c.json({ items: await Promise.all(page.items.map(view)), nextCursor: page.nextCursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/crews/{id}",
      operationId: "getCrew",
      tags,
      summary: "One crew with its agents",
      request: { params: IdParam },
      responses: { 200: jsonContent(CrewSchema, "The crew"), ...errorResponses(401, 404) },
    }),
    async (c) => c.json(await view(await factory.getCrew(c.req.valid("param").id)), 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/crews/{id}",
      operationId: "disbandCrew",
      tags,
      summary: "Disband a crew: cancel its queued tasks, drain and terminate its members",
      request: { params: IdParam },
      responses: { 202: jsonContent(CrewSchema, "The crew, DISBANDING or DISBANDED"), ...errorResponses(401, 404, 409) },
    }),
    async (c) => c.json(await view(await factory.disbandCrew(c.req.valid("param").id)), 202),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/crews/{id}/broadcast",
      operationId: "broadcastToCrew",
      tags,
      summary: "Send a signal to every member (PAUSE stops the crew taking tasks, RESUME restarts it)",
      request: { params: IdParam, ...jsonBody(BroadcastSchema) },
      responses: {
        202: jsonContent(z.object({ delivered: z.number().int(), message: CrewMessageSchema }), "How many members got it"),
        ...errorResponses(400, 401, 404, 409, 413),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const message = await factory.broadcast(c.req.valid("param").id, body.signal, body.payload);
      return c.json({ delivered: message.delivered, message }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/crews/{id}/messages",
      operationId: "listCrewMessages",
      tags,
      summary: "Messages on the crew bus, oldest first (broadcasts are on topic `signals`)",
      request: {
        params: IdParam,
        query: z.strictObject({ topic: z.string().max(128).optional(), after: z.coerce.number().int().min(0).optional(), limit: LimitQuery }),
      },
      responses: { 200: jsonContent(itemsOf(CrewMessageSchema), "Messages"), ...errorResponses(400, 401, 404) },
    }),
    async (c) => {
      const q = c.req.valid("query");
      return c.json({ items: await factory.listMessages(c.req.valid("param").id, { topic: q.topic, afterSeq: q.after, limit: q.limit }) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/crews/{id}/messages",
      operationId: "publishCrewMessage",
      tags,
      summary: "Publish a message to a crew topic",
      request: { params: IdParam, ...jsonBody(PublishSchema) },
      responses: { 202: jsonContent(CrewMessageSchema, "The recorded message"), ...errorResponses(400, 401, 404, 409, 413) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      return c.json(await factory.publish(c.req.valid("param").id, body.topic, body.payload), 202);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/crews/{id}/context",
      operationId: "getCrewContext",
      tags,
      summary: "The crew's shared key/value context",
      request: { params: IdParam },
      responses: { 200: jsonContent(z.object({ context: z.record(z.string(), z.unknown()) }), "Every key"), ...errorResponses(401, 404) },
    }),
    async (c) => c.json({ context: await factory.getContext(c.req.valid("param").id) }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/crews/{id}/context/{key}",
      operationId: "getCrewContextKey",
      tags,
      summary: "One key of the crew's context",
      request: { params: KeyParams },
      responses: { 200: jsonContent(ContextEntrySchema, "The value"), ...errorResponses(401, 404) },
    }),
    async (c) => {
      const { id, key } = c.req.valid("param");
      const context = await factory.getContext(id);
      if (!Object.hasOwn(context, key)) throw new FactoryError("NOT_FOUND", `crew ${id} has no context key '${key}'`, { field: "key" });
      return c.json({ key, value: context[key] }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/v1/crews/{id}/context/{key}",
      operationId: "setCrewContextKey",
      tags,
      summary: "Set one key of the crew's context",
      request: { params: KeyParams, ...jsonBody(z.strictObject({ value: JsonValueSchema }).meta({ id: "ContextValue" })) },
      responses: { 200: jsonContent(ContextEntrySchema, "Stored"), ...errorResponses(400, 401, 404, 409, 413) },
    }),
    async (c) => {
      const { id, key } = c.req.valid("param");
      const { value } = c.req.valid("json");
      await factory.setContext(id, key, value);
      return c.json({ key, value }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/crews/{id}/context/{key}",
      operationId: "deleteCrewContextKey",
      tags,
      summary: "Remove one key of the crew's context",
      request: { params: KeyParams },
      responses: { 204: { description: "Removed (or was not there)" }, ...errorResponses(400, 401, 404, 409) },
    }),
    async (c) => {
      const { id, key } = c.req.valid("param");
      await factory.deleteContext(id, key);
      return c.body(null, 204);
    },
  );
}
