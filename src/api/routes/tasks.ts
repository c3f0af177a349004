import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { TaskSubmitSchema } from "../../core/schemas/task.ts";
import { TASK_STATES } from "../../core/task-states.ts";
import type { Factory } from "../../factory/factory.ts";
import { errorResponses, jsonBody, jsonContent, noBody } from "../openapi-helpers.ts";
import { CursorQuery, decodeCursor, pageOf, toPage } from "../cursor.ts";
import { onlyCrewOf } from "../caller-crews.ts";
import { IdParam, LimitQuery, TaskSchema } from "../schemas.ts";

const tags = ["tasks"];

/** Longest a single GET may wait for a task to finish. */
export const MAX_WAIT_MS = 60_000;

export function taskRoutes(app: OpenAPIHono, factory: Factory): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/tasks",
      operationId: "submitTask",
      tags,
      summary: "Submit a task; it is stored before this answers",
      description: "A full queue answers 429 QUEUE_FULL with `Retry-After`; nothing is dropped silently. With an `idempotencyKey` already used, the first task comes back with 200.",
      request: jsonBody(TaskSubmitSchema),
      responses: {
        202: jsonContent(TaskSchema, "Accepted (QUEUED, or already ASSIGNED)"),
        200: jsonContent(TaskSchema, "The task first submitted with this idempotencyKey"),
        ...errorResponses(400, 401, 404, 409, 413, 429, 503),
      },
    }),
    async (c) => {
      const { task, created } = await factory.submit(c.req.valid("json"));
      return created ? c.json(task, 202) : c.json(task, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/tasks",
      operationId: "listTasks",
      tags,
      summary: "Tasks, newest first, a page at a time (`state=DEAD` lists the dead letters)",
      description: "`limit` per page, 100 by default; `nextCursor` given as `cursor` gives the next, older page.",
      request: { query: z.strictObject({ state: z.enum(TASK_STATES).optional(), crewId: z.string().max(128).optional(), limit: LimitQuery, cursor: CursorQuery }) },
      responses: { 200: jsonContent(pageOf(TaskSchema).meta({ id: "TaskPage" }), "A page of tasks"), ...errorResponses(400, 401) },
    }),
    async (c) => {
      const { cursor, limit = 100, ...filter } = c.req.valid("query");
      // A caller held to one crew lists that crew's: filtered before paging, so no cursor names another crew's task.
      const only = filter.crewId === undefined ? onlyCrewOf(c) : undefined;
      const fetched = await factory.listTasks({ ...filter, ...(only === undefined ? {} : { crewId: only }), ...(cursor === undefined ? {} : { after: decodeCursor(cursor) }), limit: limit + 1 });
      return c.json(toPage(fetched, limit, (t) => ({ at: t.createdAt, id: t.id })), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/tasks/{id}",
      operationId: "getTask",
      tags,
      summary: "A task; with `waitMs` the answer waits (long-poll) until the task is final or the time is up",
      request: {
        params: IdParam,
        query: z.strictObject({ waitMs: z.coerce.number().int().min(0).max(MAX_WAIT_MS).optional() }),
      },
      responses: { 200: jsonContent(TaskSchema, "The task"), ...errorResponses(400, 401, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { waitMs } = c.req.valid("query");
      return c.json(waitMs === undefined ? await factory.getTask(id) : await factory.waitForTask(id, waitMs), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/tasks/{id}/retry",
      operationId: "retryTask",
      tags,
      summary: "Re-drive a dead-lettered task: QUEUED again with a fresh set of attempts",
      request: { params: IdParam, ...noBody },
      responses: { 202: jsonContent(TaskSchema, "The task, QUEUED again (or already ASSIGNED)"), ...errorResponses(401, 404, 409) },
    }),
    async (c) => c.json(await factory.retryTask(c.req.valid("param").id), 202),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/tasks/{id}/cancel",
      operationId: "cancelTask",
      tags,
      summary: "Cancel a queued or running task",
      request: { params: IdParam, ...noBody },
      responses: { 202: jsonContent(TaskSchema, "The task, CANCELLED"), ...errorResponses(401, 404, 409) },
    }),
    async (c) => c.json(await factory.cancelTask(c.req.valid("param").id), 202),
  );
}
