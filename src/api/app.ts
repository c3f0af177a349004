import { OpenAPIHono } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import { matchedRoutes } from "hono/route";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ErrorCode } from "../core/errors.ts";
import { describeIssue } from "../core/schemas/parse.ts";
import type { Factory } from "../factory/factory.ts";
import { z } from "zod";
import type { HttpErrorCode } from "./http-error.ts";
import { toErrorResponse } from "./http-errors.ts";
import { bodyLimit } from "./body-limit.ts";
import { requestLog } from "./request-log.ts";
import { allowedOrigins, hostGuard } from "./host-guard.ts";
import { errorResponses, jsonContent } from "./openapi-helpers.ts";
import { agentRoutes } from "./routes/agents.ts";
import { chaosRoutes } from "./routes/chaos.ts";
import { ledgerRoutes } from "./routes/ledger.ts";
import { modelRoutes } from "./routes/models.ts";
import { budgetRoutes } from "./routes/budgets.ts";
import { crewRoutes } from "./routes/crews.ts";
import { eventRoutes } from "./routes/events.ts";
import { nodeRoutes } from "./routes/nodes.ts";
import { clusterRoutes } from "./routes/cluster.ts";
import { poolRoutes } from "./routes/pools.ts";
import { profileRoutes } from "./routes/profiles.ts";
import { taskRoutes } from "./routes/tasks.ts";
import { toolRoutes } from "./routes/tools.ts";
import { ownerRouting } from "./owner-routing.ts";
import { accessOf } from "./access.ts";
import { authenticate } from "./auth.ts";
import { crewGuard } from "./crew-guard.ts";
import { keyRoutes } from "./routes/keys.ts";
import { mcpEndpoint } from "./mcp/mcp-endpoint.ts";
import { statsRoutes } from "./routes/stats.ts";
import { dashboardRoutes } from "./routes/dashboard.ts";

export interface AppOptions {
  /** When set, every `/v1` route needs `Authorization: Bearer <key>`: this one (an admin key) or a stored operator key. */
  apiKey?: string;
  /**
   * `/v1` never answers without a key, even while no key exists at all (by default it is open
   * until the first key is made): for a server reachable beyond loopback on stored keys only, so
   * revoking the last one does not open it. Default false.
   */
  requireKey?: boolean;
  /** Largest request body; default 1 MiB. */
  bodyLimitBytes?: number;
  /** Aborted when the server shuts down: open event streams end. */
  closing?: AbortSignal;
  /** Where unexpected errors are reported; default stderr. */
  onUnexpectedError?: (error: unknown) => void;
  /** `Host` values answered, `name` (any port) or `name:port`; unset: not checked (in-process use — startServer always sets it). */
  allowedHosts?: readonly string[];
  /** Other sites' origins (`https://app.example`) whose pages may call the API (CORS); other cross-site requests get 403. */
  corsOrigins?: readonly string[];
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * The HTTP API as a Hono app: `app.fetch` serves it, `app.request()` tests it in-process.
 * Bodies are validated by the same zod schemas that produce `/openapi.json`.
 */
export function createApp(factory: Factory, options: AppOptions = {}): OpenAPIHono {
  const limit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT;
  // Unexpected errors are logged with their request (requestLog, below); a caller may also hear of them here.
  const onUnexpected = options.onUnexpectedError ?? (() => {});
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (result.success) return;
      const { field, message } = describeIssue(result.error);
      const where = result.target === "json" ? "body" : result.target;
      return c.json({ error: { code: "VALIDATION_FAILED", message: `invalid ${where}: ${message}`, ...(field === undefined ? {} : { field }) } }, 400);
    },
  });

  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      const malformed = error.status === 400 && /json/i.test(error.message);
      const code: HttpErrorCode | ErrorCode = malformed
        ? "MALFORMED_JSON"
        : error.status === 415
          ? "UNSUPPORTED_MEDIA_TYPE"
          : error.status === 413
            ? "PAYLOAD_TOO_LARGE"
            : "VALIDATION_FAILED";
      const message = malformed
        ? "the body is not valid JSON"
        : error.status === 415
          ? `content-type: the body must be application/json, got '${c.req.header("content-type") ?? "none"}'`
          : error.message || "bad request";
      return c.json({ error: { code, message } }, error.status);
    }
    const { status, body } = toErrorResponse(error);
    if (status >= 500 && body.error.code === "INTERNAL") onUnexpected(error);
    const retryAfter = body.error.details?.retryAfterSec;
    if (typeof retryAfter === "number") c.header("Retry-After", String(retryAfter));
    // Unavailable for now (the store or Redis away, a restart): a client may try again in a second.
    else if (status === 503) c.header("Retry-After", "1");
    return c.json(body, status);
  });
  // First: every request gets its id (x-request-id, echoed or made), and a failed one is logged with it.
  app.use("*", requestLog(factory.logger));
  // Before every route: a refused Host or Origin learns nothing and changes nothing.
  app.use("*", hostGuard(options));
  // Every answer counts in the metrics, under its route's template (never the raw path: ids would explode the series).
  app.use("*", async (c, next) => {
    const started = performance.now();
    await next();
    const route = matchedRoutes(c as Context).findLast((r) => r.method !== "ALL")?.path.replace(/:(\w+)/g, "{$1}") ?? "unmatched";
    factory.recordHttpRequest(c.req.method, route, c.res.status, (performance.now() - started) / 1000);
  });
  const origins = allowedOrigins(options.corsOrigins);
  if (origins.size > 0) {
    app.use(
      "*",
      cors({
        origin: (origin) => (origins.has(origin.toLowerCase()) ? origin : null),
        // The MCP headers: a browser MCP client (an inspector) on an allowed site sends them to /mcp (its Mcp-Param-* ones only for tools that declare them; ours do not).
        allowHeaders: ["authorization", "content-type", "last-event-id", "mcp-protocol-version", "mcp-session-id", "mcp-method", "mcp-name"],
        allowMethods: ["GET", "POST", "PUT", "DELETE"],
        exposeHeaders: ["retry-after", "x-request-id"],
        maxAge: 600,
      }),
    );
  }
  app.notFound((c) => c.json({ error: { code: "NOT_FOUND", message: `no route ${c.req.method} ${c.req.path}` } }, 404));

  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/health",
    operationId: "getHealth",
    tags: ["health"],
    summary: "Liveness: the process answers",
    description: "Answers any `Host` (probes use whatever name they know), but not another site's page (`Origin`).",
    security: [],
    responses: { 200: jsonContent(z.object({ status: z.literal("ok") }), "Alive"), ...errorResponses(403) },
  });
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/ready",
    operationId: "getReady",
    tags: ["health"],
    summary: "Readiness: takes work (counts of agents, crews, queued and running tasks)",
    security: [],
    responses: {
      200: jsonContent(z.object({ status: z.literal("ready") }).passthrough(), "Taking work"),
      ...errorResponses(403),
      503: jsonContent(z.object({ status: z.enum(["shutting-down", "store-unavailable", "node-lapsed", "node-fenced"]) }).passthrough(), "Not taking work"),
    },
  });
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/.well-known/jwks.json",
    operationId: "getJwks",
    tags: ["health"],
    summary: "The public keys agents' tokens are signed with (a JWK set: Ed25519, EdDSA), for anyone to verify a token",
    security: [],
    responses: {
      200: jsonContent(z.object({ keys: z.array(z.object({ kty: z.literal("OKP"), crv: z.literal("Ed25519"), x: z.string(), kid: z.string(), alg: z.literal("EdDSA") }).passthrough()) }), "The key set"),
      ...errorResponses(403),
    },
  });
  app.get("/.well-known/jwks.json", async (c) => {
    c.header("Cache-Control", "public, max-age=300");
    return c.json(await factory.jwks(), 200);
  });
  app.get("/health", (c) => c.json({ status: "ok" }, 200));
  app.get("/ready", (c) => {
    // Fenced: another node took its agents over; it has closed itself and waits to be restarted.
    if (factory.nodeState === "fenced") return c.json({ status: "node-fenced" }, 503);
    if (!factory.isOpen) return c.json({ status: "shutting-down" }, 503);
    if (!factory.storeHealthy) return c.json({ status: "store-unavailable", ...factory.stats() }, 503);
    // Its lease ran out (its membership server was away): a load balancer should send work elsewhere until it has joined again.
    if (factory.nodeState === "lapsed") return c.json({ status: "node-lapsed", ...factory.stats() }, 503);
    return c.json({ status: "ready", ...factory.stats() }, 200);
  });

  // Who asks, and whether its role may call the operation: before the body is read.
  const authenticated = authenticate(app, factory, options.apiKey, options.requireKey === true);
  app.use("/v1/*", authenticated);
  // Metrics tell about the whole node: a viewer key when keys are set (a crew-limited key: no).
  app.use("/metrics", authenticated);
  app.use("/metrics", crewGuard(factory));
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/metrics",
    operationId: "getMetrics",
    tags: ["health"],
    summary: "This node's metrics in the Prometheus exposition format (agent_factory_*, each with a `node` label)",
    description: "See docs/observability.md for the list. Needs a viewer key once keys exist; a crew-limited key is refused (the metrics are the whole node's).",
    responses: { 200: { description: "Prometheus text exposition format 0.0.4", content: { "text/plain": { schema: z.string() } } }, ...errorResponses(401, 403) },
  });
  app.get("/metrics", async (c) => {
    const { contentType, body } = await factory.scrapeMetrics();
    return c.body(body, 200, { "content-type": contentType });
  });
  // Declared even when no key is set, so clients generated from the document can send one.
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", {
    type: "http",
    scheme: "bearer",
    description: "An operator key (`afk_…`, made with POST /v1/keys) or the server's AGENT_FACTORY_API_KEY (an admin key), once either exists",
  });

  app.use("/v1/*", bodyLimit({ maxBytes: limit }));
  // A crew-limited key reaches only its crews' things; before owner routing, so a request is refused before another node sees it.
  app.use("/v1/*", crewGuard(factory));
  // After the key and the body limit: a request is checked here before another node sees it.
  app.use("/v1/*", ownerRouting(factory));
  profileRoutes(app, factory);
  agentRoutes(app, factory);
  crewRoutes(app, factory);
  taskRoutes(app, factory);
  toolRoutes(app, factory);
  poolRoutes(app, factory);
  nodeRoutes(app, factory);
  statsRoutes(app, factory);
  clusterRoutes(app, factory);
  ledgerRoutes(app, factory);
  modelRoutes(app, factory);
  budgetRoutes(app, factory);
  keyRoutes(app, factory);
  if (factory.chaosEnabled) chaosRoutes(app, factory);
  eventRoutes(app, factory, options.closing ?? new AbortController().signal);
  // Not a REST route (JSON-RPC over POST): outside /v1 and the OpenAPI document; docs/mcp-server.md describes it.
  mcpEndpoint(app, factory, { apiKey: options.apiKey, requireKey: options.requireKey === true, maxBodyBytes: limit, onError: onUnexpected });
  dashboardRoutes(app);

  const config = {
    openapi: "3.1.0",
    info: {
      title: "Agent Factory",
      version: "1",
      license: { name: "MIT", url: "https://spdx.org/licenses/MIT.html" },
      description:
        "Control plane for fleets of AI agents. Errors are `{ error: { code, message, field?, details? } }`: 4xx for bad input or state, 503 while shutting down or when the store is unavailable. Every operation names the role it needs (`x-required-role`: viewer < operator < admin) and how a crew-limited key is held to its crews (`x-crew-scope`).",
    },
    // A relative server: the document is served by the API it describes, under whatever name the client used.
    servers: [{ url: "/", description: "The server that serves this document" }],
  };
  const envKeySet = options.apiKey !== undefined && options.apiKey.length > 0;
  app.get("/openapi.json", async (c) => {
    const document = withAccess(app.getOpenAPI31Document(config));
    // No key at all (none in the environment, none stored): a key is optional (`{}` — none — or one, which is not checked); /health and /ready never need one.
    const keyed = envKeySet || options.requireKey === true || (await factory.hasOperatorKeys());
    return c.json({ ...document, security: keyed ? [{ apiKey: [] }] : [{}, { apiKey: [] }] });
  });
  return app;
}

/** The document with each `/v1` operation's access from ACCESS: `x-required-role`, `x-crew-scope`, and a line in its description. */
function withAccess<T extends { paths?: object }>(document: T): T {
  for (const [path, item] of Object.entries((document.paths ?? {}) as Record<string, object>)) {
    if (!path.startsWith("/v1/") && path !== "/metrics") continue;
    for (const operation of Object.values(item) as Array<{ operationId?: string; description?: string } & Record<string, unknown>>) {
      const access = accessOf(operation.operationId);
      operation["x-required-role"] = access.role;
      operation["x-crew-scope"] = access.crews;
      const line = `Needs role \`${access.role}\`${access.crews === "crewless" ? "; refused to crew-limited keys" : "; a crew-limited key reaches only its crews' things"}.`;
      operation.description = operation.description === undefined ? line : `${operation.description}\n\n${line}`;
    }
  }
  return document;
}
