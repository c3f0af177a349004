import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { z } from "zod";
import { DashboardAssets, ASSET_NAMES } from "../../dashboard/dashboard-assets.ts";
import { FactoryError } from "../../core/errors.ts";
import { errorResponses } from "../openapi-helpers.ts";

const html = (description: string) => ({ description, content: { "text/html": { schema: z.string() } } });

/**
 * The web dashboard at `/ui` and the API reference (Swagger UI) at `/docs`: static files, served
 * without a key — the page asks for one and sends it on each `/v1` call, so the data stays behind
 * the key. Every file is served by the factory itself (nothing from another site), under a CSP
 * that allows only this origin's scripts and the pages' own import map.
 */
export function dashboardRoutes(app: OpenAPIHono): void {
  const assets = new DashboardAssets();

  const send = async (c: Context, name: string): Promise<Response> => {
    const loading = assets.get(name);
    if (loading === undefined) throw new FactoryError("NOT_FOUND", `file: no such dashboard file '${c.req.param("file") ?? name}' (known: ${ASSET_NAMES.join(", ")})`, { field: "file" });
    const asset = await loading;
    const headers: Record<string, string> = {
      "content-type": asset.contentType,
      etag: asset.etag,
      // Revalidated each time (a cheap 304): an upgraded factory serves its new page at once.
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
    };
    if (asset.contentType.startsWith("text/html")) {
      // Swagger UI styles some elements inline; no page here runs inline code but its import map.
      headers["content-security-policy"] = [
        "default-src 'self'",
        `script-src 'self' ${DashboardAssets.scriptHashes(asset.body).join(" ")}`.trim(),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'none'",
      ].join("; ");
      headers["referrer-policy"] = "no-referrer";
    }
    if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304, headers);
    return c.body(asset.body, 200, headers);
  };

  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/ui",
    operationId: "getDashboard",
    tags: ["dashboard"],
    summary: "The live web dashboard (HTML; it asks for a key when keys are set, or takes one from `#key=`)",
    security: [],
    responses: { 200: html("The dashboard page"), ...errorResponses(403) },
  });
  app.get("/ui", (c) => send(c, "index.html"));

  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/ui/assets/{file}",
    operationId: "getDashboardAsset",
    tags: ["dashboard"],
    summary: "A script or stylesheet of the dashboard or of /docs",
    security: [],
    request: { params: z.object({ file: z.string().meta({ example: "app.js" }) }) },
    responses: {
      200: { description: "The file", content: { "text/javascript": { schema: z.string() }, "text/css": { schema: z.string() } } },
      ...errorResponses(403, 404),
    },
  });
  // The pages have their own paths; under /ui/assets/ only the listed scripts and stylesheets.
  app.get("/ui/assets/:file", (c) => send(c, ASSET_NAMES.includes(c.req.param("file")) ? c.req.param("file") : ""));

  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/docs",
    operationId: "getApiDocs",
    tags: ["dashboard"],
    summary: "The API reference: Swagger UI on /openapi.json",
    security: [],
    responses: { 200: html("The API reference page"), ...errorResponses(403) },
  });
  app.get("/docs", (c) => send(c, "docs.html"));
}
