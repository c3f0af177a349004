import { readFileSync } from "node:fs";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { createMcpHandler, McpRequestContext, McpServer } from "@modelcontextprotocol/server";
import type { Context } from "hono";
import { OPERATOR_ROLES, roleAllows, type OperatorRole } from "../../core/operator-key.ts";
import type { Factory } from "../../factory/factory.ts";
import { accessOf, agentAccessOf, AGENT_OPERATIONS } from "../access.ts";
import { deny, envKeyBytes, identifyCaller, type CallerAgent, type Principal } from "../auth.ts";
import { FACTORY_TOOLS, toToolResult, type ApiCall, type FactoryTool, type ToolResult } from "./factory-tools.ts";

export interface McpEndpointOptions {
  /** The server's AGENT_FACTORY_API_KEY (an admin key), as for `/v1`. */
  apiKey?: string | undefined;
  /** As for `/v1`: never open without a key (a server reachable beyond loopback). */
  requireKey?: boolean;
  /** Largest JSON-RPC body, as for `/v1`. */
  maxBodyBytes: number;
  /** Where the SDK's out-of-band errors go. */
  onError: (error: unknown) => void;
}

/** The package's version, reported in `initialize` / `server/discover`; package.json is two folders up from src/api/mcp and dist/api/mcp alike. */
const VERSION = (JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }).version;

/** The caller of one `/mcp` request, handed to the per-request MCP server through `authInfo.extra`. */
interface Caller {
  principal: Principal;
  /** An agent's token: only the agent-facing operations, as on `/v1`. */
  agent: CallerAgent | null;
  api: ApiCall;
  /** Records the refusal as `security.denied`, like the HTTP side. */
  deny(operationId: string, reason: string): void;
}

/** The role a tool needs: the strongest its HTTP operations need (ACCESS in access.ts). */
function roleOf(tool: FactoryTool, args: Record<string, unknown>): OperatorRole {
  const roles = tool.operations(args).map((op) => accessOf(op).role);
  return roles.reduce((a, b) => (OPERATOR_ROLES.indexOf(b) > OPERATOR_ROLES.indexOf(a) ? b : a), "viewer");
}

/** Why the caller may not run the tool with these arguments, as a tool error; undefined when it may. */
function refusal(tool: FactoryTool, args: Record<string, unknown>, caller: Caller): ToolResult | undefined {
  const { principal } = caller;
  for (const operationId of tool.operations(args)) {
    const needed = accessOf(operationId).role;
    let reason: string | undefined;
    let details: Record<string, unknown> = { tool: tool.name, operation: operationId };
    // As on /v1: "needs role …" follows the operation, the agent's reason follows a colon.
    // The agent's scope and `self` checks are the /v1 route's (the tool calls it with the agent's token).
    if (caller.agent !== null && agentAccessOf(operationId) === undefined) reason = `: an agent's token may call only the agent-facing operations (${Object.keys(AGENT_OPERATIONS).join(", ")})`;
    else if (!roleAllows(principal.role, needed)) {
      reason = ` needs role '${needed}', the key is '${principal.role}'`;
      details = { ...details, required: needed, role: principal.role };
    }
    if (reason === undefined) continue;
    caller.deny(operationId, `MCP tool ${tool.name}:${reason.replace(/^:/, "")}`);
    return toToolResult(403, { error: { code: "FORBIDDEN", message: `${tool.name} (${operationId})${reason}`, details } });
  }
  return undefined;
}

/** One MCP server for one request (the SDK's stateless serving): every tool, checked against this caller. */
function serverFor(context: McpRequestContext, Server: typeof McpServer): McpServer {
  const caller = context.authInfo?.extra?.caller as Caller | undefined;
  const server = new Server({ name: "agent-factory", version: VERSION }, { capabilities: { tools: {} } });
  for (const tool of FACTORY_TOOLS) {
    const role = roleOf(tool, {});
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: `${tool.description} Needs role '${role}'.`,
        inputSchema: tool.inputSchema,
        annotations: { readOnlyHint: tool.readOnly, ...(tool.readOnly ? {} : { destructiveHint: tool.destructive === true }), openWorldHint: false },
      },
      async (args: Record<string, unknown>, ctx) => {
        // Only the route below builds servers, always with a caller: without one, nothing is allowed.
        if (caller === undefined) return toToolResult(401, { error: { code: "UNAUTHORIZED", message: "no caller" } });
        const refused = refusal(tool, args, caller);
        if (refused !== undefined) return refused;
        const progressToken = ctx.mcpReq._meta?.progressToken;
        return tool.run(args, caller.api, {
          signal: ctx.mcpReq.signal,
          progress: async (progress, total, message) => {
            if (progressToken === undefined) return;
            await ctx.mcpReq.notify({ method: "notifications/progress", params: { progressToken, progress, ...(total === undefined ? {} : { total }), message } });
          },
        });
      },
    );
  }
  return server;
}

/**
 * `/mcp`: the factory as an MCP server over Streamable HTTP, serving the 2026-07-28 revision and,
 * statelessly, 2025-era clients (the SDK's `createMcpHandler`). The caller is known exactly as on
 * `/v1` (its bearer key; 401 otherwise). Each tool is a call of the factory's own HTTP API, made
 * in-process with the caller's `Authorization`, so key roles, crew limits, validation, owner
 * routing on a cluster and error bodies are the API's own; a tool the caller's role may not use
 * is refused before anything runs, as a tool error (`isError`) naming the role, recorded as
 * `security.denied` — the role comes from the ACCESS entry of each HTTP operation the tool calls.
 */
export function mcpEndpoint(app: OpenAPIHono, factory: Factory, options: McpEndpointOptions): void {
  const expected = envKeyBytes(options.apiKey);
  // The SDK loads at the first /mcp request: a factory nobody drives over MCP never pays its import.
  type Handler = ReturnType<typeof createMcpHandler>;
  let handler: Promise<Handler> | undefined;
  const handlerOnce = (): Promise<Handler> =>
    (handler ??= import("@modelcontextprotocol/server").then(({ createMcpHandler, McpServer: Server }) =>
      createMcpHandler((context) => serverFor(context, Server), {
        maxRequestBodySize: options.maxBodyBytes,
        onerror: options.onError,
      }),
    ));
  app.all("/mcp", async (c) => {
    const { principal, agent } = await identifyCaller(c, factory, expected, undefined, options.requireKey === true);
    const caller: Caller = {
      principal,
      agent,
      api: apiFor(app, c),
      deny: (operationId, reason) => deny(c, factory, principal, operationId, "FORBIDDEN", reason),
    };
    // The key itself stays out of authInfo: the tools reach the API through `api`, which forwards the header.
    return (await handlerOnce()).fetch(c.req.raw, { authInfo: { token: "", clientId: principal.keyId ?? "anonymous", scopes: [principal.role], extra: { caller } } });
  });
}

/** Calls of the app's own `/v1` routes as the `/mcp` request's caller: its `Authorization`, and its `Host`, which the host guard already accepted. */
function apiFor(app: OpenAPIHono, c: Context): ApiCall {
  const authorization = c.req.header("authorization");
  const host = c.req.header("host");
  return async (method, path, body) => {
    const headers = new Headers();
    if (authorization !== undefined) headers.set("authorization", authorization);
    if (host !== undefined) headers.set("host", host);
    if (body !== undefined) headers.set("content-type", "application/json");
    const response = await app.request(new URL(path, c.req.url).toString(), { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await response.text();
    if (text.length === 0) return { status: response.status, body: null };
    try {
      return { status: response.status, body: JSON.parse(text) as unknown };
    } catch {
      // Every route the tools call answers JSON; anything else is passed on as text, never a crash.
      return { status: response.status, body: { value: text } };
    }
  };
}
