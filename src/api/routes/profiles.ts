import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { NameSchema, ProfileSchema } from "../../core/schemas/profile.ts";
import type { Factory } from "../../factory/factory.ts";
import { errorResponses, jsonBody, jsonContent } from "../openapi-helpers.ts";
import { itemsOf, ProfileRecordSchema } from "../schemas.ts";

const tags = ["profiles"];

export function profileRoutes(app: OpenAPIHono, factory: Factory): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/profiles",
      operationId: "registerProfile",
      tags,
      summary: "Register a profile (a changed one becomes a new version)",
      request: jsonBody(ProfileSchema),
      responses: {
        201: jsonContent(ProfileRecordSchema, "A new version was registered"),
        200: jsonContent(ProfileRecordSchema, "Identical to the latest version; nothing changed"),
        ...errorResponses(400, 401, 413, 503),
      },
    }),
    (c) => {
      const { profile, created } = factory.registerProfile(c.req.valid("json"));
      return created ? c.json(profile, 201) : c.json(profile, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/profiles",
      operationId: "listProfiles",
      tags,
      summary: "The latest version of every profile",
      responses: { 200: jsonContent(itemsOf(ProfileRecordSchema), "Profiles by name"), ...errorResponses(401) },
    }),
    (c) => c.json({ items: factory.listProfiles() }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/profiles/{name}",
      operationId: "getProfile",
      tags,
      summary: "A profile's latest version, or `?version=N`",
      request: {
        params: z.object({ name: NameSchema }),
        query: z.strictObject({ version: z.coerce.number().int().min(1).optional() }),
      },
      responses: { 200: jsonContent(ProfileRecordSchema, "The profile"), ...errorResponses(400, 401, 404) },
    }),
    (c) => c.json(factory.getProfile(c.req.valid("param").name, c.req.valid("query").version), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/profiles/{name}/versions",
      operationId: "listProfileVersions",
      tags,
      summary: "Every version of a profile, oldest first",
      request: { params: z.object({ name: NameSchema }) },
      responses: { 200: jsonContent(itemsOf(ProfileRecordSchema), "Versions"), ...errorResponses(400, 401, 404) },
    }),
    (c) => c.json({ items: [...factory.profileVersions(c.req.valid("param").name)] }, 200),
  );
}
