import { timingSafeEqual } from "node:crypto";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { FactoryError } from "../core/errors.ts";
import { roleAllows, type OperatorRole } from "../core/operator-key.ts";
import type { Factory } from "../factory/factory.ts";
import { accessOf, agentAccessOf, AGENT_OPERATIONS, type Access } from "./access.ts";
import { HttpError } from "./http-error.ts";

/** Who made a request: a stored key, the environment's admin key, or nobody on a server with no key at all. */
export interface Principal {
  /** The key's id; `env` for AGENT_FACTORY_API_KEY; null when no key is configured and none was needed. */
  keyId: string | null;
  role: OperatorRole;
  /** The crews the key is limited to; null: not limited. */
  crews: readonly string[] | null;
}

interface Resolved {
  principal: Principal;
  operationId: string | undefined;
  access: Access;
  /** Whether a route matched (else the answer is 404). */
  matched: boolean;
  /** The path parameters of the matched route, by name. */
  params: Record<string, string>;
}

/** By the request's context (the body limit may swap the raw Request for one with a counted body). */
const resolved = new WeakMap<Context, Resolved>();
const NO_ROUTE: Access = { role: "viewer", crews: "crewless" };

/**
 * Before the body is read: who is asking (401 `UNAUTHORIZED` for a missing, unknown or revoked
 * key once any key exists), and whether its role may call this operation (403 `FORBIDDEN`).
 * With no key configured at all — no AGENT_FACTORY_API_KEY, none stored — `/v1` is open as before
 * (unless `requireKey`: a server reachable beyond loopback).
 */
export function authenticate(app: OpenAPIHono, factory: Factory, envKey: string | undefined, requireKey = false): MiddlewareHandler {
  const expected = envKeyBytes(envKey);
  const operations = operationTable(app);
  return async function authenticateRequest(c, next) {
    const { matched, operationId, params } = operations.match(c);
    // No route at all: any valid key learns only that (404).
    const access = matched ? accessOf(operationId) : NO_ROUTE;
    const { principal, agent } = await identifyCaller(c, factory, expected, operationId, requireKey);
    if (agent !== null) {
      // An agent's token: the agent-facing operations only, with the scope they need, some only about itself.
      const what = operationId ?? `${c.req.method} ${c.req.path}`;
      const refuse = (reason: string, details?: Record<string, unknown>): never => {
        deny(c, factory, principal, operationId, "FORBIDDEN", reason);
        throw new FactoryError("FORBIDDEN", `${what}: ${reason}`, details === undefined ? {} : { details });
      };
      const needs = agentAccessOf(operationId);
      if (needs === undefined) refuse(`an agent's token may call only the agent-facing operations (${Object.keys(AGENT_OPERATIONS).join(", ")})`);
      else if (needs.scope !== undefined && !agent.scopes.includes(needs.scope)) refuse(`needs the agent scope '${needs.scope}'; agent ${agent.agentId} has ${agent.scopes.length === 0 ? "none" : agent.scopes.join(", ")}`, { required: needs.scope, scopes: agent.scopes });
      else if (needs.self === true && params.id !== agent.agentId) refuse(`an agent makes this call only as itself (agent ${agent.agentId})`);
    }
    if (!roleAllows(principal.role, access.role)) {
      const reason = `needs role '${access.role}', the key is '${principal.role}'`;
      deny(c, factory, principal, operationId, "FORBIDDEN", reason);
      throw new FactoryError("FORBIDDEN", `${operationId ?? `${c.req.method} ${c.req.path}`} ${reason}`, { details: { required: access.role, role: principal.role } });
    }
    resolved.set(c, { principal, matched, operationId, access, params });
    await next();
  };
}

/** The environment's admin key as bytes for a constant-time comparison; undefined when none is set. */
export function envKeyBytes(envKey: string | undefined): Buffer | undefined {
  return envKey === undefined || envKey.length === 0 ? undefined : Buffer.from(envKey);
}

/**
 * Who sends the request's `Authorization: Bearer` — the environment's admin key, a stored operator
 * key, another node, or an agent (`agent`: its id and scopes, held to the agent-facing operations by the caller) —
 * or, with no key configured at all, an admin nobody. Anything else is 401 `UNAUTHORIZED`, recorded
 * as `security.denied` against `operationId`. Shared by `/v1` and `/mcp`, so both know callers alike.
 */
/** The agent behind an agent's token: its id and scopes as the factory keeps them. */
export interface CallerAgent {
  agentId: string;
  scopes: readonly string[];
}

export async function identifyCaller(c: Context, factory: Factory, expected: Buffer | undefined, operationId: string | undefined, requireKey = false): Promise<{ principal: Principal; agent: CallerAgent | null }> {
  const header = c.req.header("authorization") ?? "";
  const token = header.startsWith("Bearer ") ? header.slice(7).trim() : "";
  if (expected !== undefined && token.length > 0) {
    const given = Buffer.from(token);
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { principal: { keyId: "env", role: "admin", crews: null }, agent: null };
  }
  if (token.length > 0) {
    const key = await factory.authenticateOperatorKey(token);
    if (key !== undefined) return { principal: { keyId: key.id, role: key.role, crews: key.crews }, agent: null };
    // Signed with the factory's keys: another node of the cluster (admin), or an agent — the
    // agent-facing operations, in its own crew only (none without a crew).
    const bearer = await factory.identifyBearer(token);
    if (bearer?.kind === "node") return { principal: { keyId: `node:${bearer.node}`, role: "admin", crews: null }, agent: null };
    if (bearer?.kind === "agent") return { principal: { keyId: `agent:${bearer.agentId}`, role: "operator", crews: bearer.crewId === null ? [] : [bearer.crewId] }, agent: { agentId: bearer.agentId, scopes: bearer.scopes } };
  }
  if (expected === undefined && !requireKey && !(await factory.hasOperatorKeys())) return { principal: { keyId: null, role: "admin", crews: null }, agent: null };
  const reason = token.length === 0 ? "no key given" : "unknown or revoked key";
  deny(c, factory, { keyId: null, role: null }, operationId, "UNAUTHORIZED", reason);
  // A JWT-shaped bearer is an agent's token: say what may be wrong with one of those.
  const jwt = /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token);
  throw new HttpError(
    "UNAUTHORIZED",
    jwt
      ? "this route needs 'Authorization: Bearer <key>': an agent's token that has expired, is not signed by this factory, or names an agent that has ended (or moved crews) is refused"
      : `this route needs 'Authorization: Bearer <key>' with an operator key or the server's AGENT_FACTORY_API_KEY (${reason})`,
  );
}

/** The request's operation, as `authenticate` matched it. */
export function resolvedOf(c: Context): Resolved | undefined {
  return resolved.get(c);
}

/** Records a refusal as a `security.denied` event: who (never a secret), what, why. */
export function deny(c: Context, factory: Factory, who: { keyId: string | null; role: OperatorRole | null }, operationId: string | undefined, code: string, reason: string, crewId?: string | null): void {
  factory.recordDenied({
    ...(crewId === undefined || crewId === null ? {} : { crewId }),
    data: { code, keyId: who.keyId, role: who.role, operation: operationId ?? null, method: c.req.method, path: c.req.path, reason },
  });
}

/** Maps a request to its documented operation: the route Hono matched, looked up in the OpenAPI registry (built at the first request, once every route is in). */
function operationTable(app: OpenAPIHono): { match(c: Context): { matched: boolean; operationId: string | undefined; params: Record<string, string> } } {
  let byRoute: Map<string, string> | undefined;
  return {
    match(c) {
      byRoute ??= new Map(
        app.openAPIRegistry.definitions.flatMap((d) =>
          d.type === "route" && d.route.operationId !== undefined ? [[`${d.route.method.toUpperCase()} ${d.route.path}`, d.route.operationId] as const] : [],
        ),
      );
      const route = matchedRoutes(c).find((r) => r.method !== "ALL");
      if (route === undefined) return { matched: false, operationId: undefined, params: {} };
      const documented = route.path.replace(/:(\w+)/g, "{$1}");
      const params: Record<string, string> = {};
      const names = route.path.split("/");
      const values = c.req.path.split("/");
      names.forEach((name, i) => {
        if (name.startsWith(":")) params[name.slice(1)] = safeDecode(values[i] ?? "");
      });
      return { matched: true, operationId: byRoute.get(`${route.method} ${documented}`), params };
    },
  };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
