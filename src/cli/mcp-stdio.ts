import { Client, SdkHttpError, StreamableHTTPClientTransport, UnauthorizedError } from "@modelcontextprotocol/client";
import { Server } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import { MAX_TOOL_WAIT_MS } from "../api/mcp/factory-tools.ts";

export interface McpStdioOptions {
  /** The factory server, e.g. http://127.0.0.1:7371 (its `/mcp` is used). */
  url: string;
  /** An operator key; none for a server with no key configured. */
  apiKey?: string | undefined;
}

/** A tool call may wait for a task this long, plus a margin for the answer to arrive; progress from the server keeps it alive meanwhile. */
const CALL_TIMEOUT_MS = MAX_TOOL_WAIT_MS + 30_000;

/** The innermost cause of a failed fetch (`connect ECONNREFUSED 127.0.0.1:7371`): the SDK and fetch wrap it twice as "fetch failed". */
function rootCause(error: unknown): string {
  let inner = error;
  for (let depth = 0; depth < 8 && inner instanceof Error && inner.cause !== undefined; depth++) inner = inner.cause;
  return inner instanceof Error ? inner.message : String(inner);
}

/** What went wrong talking to the server, in words a person reading a desktop client's log can act on. */
function explain(error: unknown, endpoint: string): string {
  if (UnauthorizedError.isInstance(error) || (SdkHttpError.isInstance(error) && error.status === 401)) {
    return `${endpoint} refused the key (401): give an operator key with --key, --api-key or AGENT_FACTORY_API_KEY`;
  }
  if (SdkHttpError.isInstance(error) && error.status === 403) return `${endpoint} refused the request (403): ${error.message}`;
  const message = error instanceof Error ? error.message : String(error);
  const cause = rootCause(error);
  if (/fetch failed|ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|ETIMEDOUT/i.test(`${message} ${cause}`)) {
    return `cannot reach the factory at ${endpoint} (${cause}): is 'agent-factory serve' running there?`;
  }
  return `${endpoint}: ${message}${cause === message ? "" : ` (${cause})`}`;
}

/**
 * Serves MCP on stdin/stdout (both protocol eras, by the SDK's `serveStdio`) as a proxy of the
 * factory server's `/mcp`: one upstream client, connected and checked (tools listed) before
 * anything is served, so a server that is down or a refused key ends the command at once with a
 * message on stderr and exit code 1. Later failures become tool errors, not crashes.
 */
export async function serveMcpStdio(options: McpStdioOptions): Promise<void> {
  const endpoint = new URL("/mcp", options.url).toString();
  const headers: Record<string, string> = options.apiKey === undefined || options.apiKey.length === 0 ? {} : { authorization: `Bearer ${options.apiKey}` };
  const upstream = new Client({ name: "agent-factory-mcp-stdio", version: "1" }, { versionNegotiation: { mode: "auto" } });
  try {
    await upstream.connect(new StreamableHTTPClientTransport(new URL(endpoint), { requestInit: { headers } }));
    // A key is checked per request, not at connect: listing the tools proves it is accepted.
    await upstream.listTools();
  } catch (error) {
    await upstream.close().catch(() => {});
    process.stderr.write(`agent-factory mcp: ${explain(error, endpoint)}\n`);
    process.exitCode = 1;
    return;
  }
  const identity = upstream.getServerVersion() ?? { name: "agent-factory", version: "0.0.0" };

  const handle = serveStdio(
    () => {
      const server = new Server({ name: identity.name, version: identity.version }, { capabilities: { tools: {} } });
      server.setRequestHandler("tools/list", async (request) => {
        try {
          return await upstream.listTools(request.params);
        } catch (error) {
          // tools/list has no error result: a JSON-RPC error, with the reason.
          throw new Error(explain(error, endpoint), { cause: error });
        }
      });
      server.setRequestHandler("tools/call", async (request, ctx) => {
        const progressToken = ctx.mcpReq._meta?.progressToken;
        try {
          return await upstream.callTool(request.params, {
            signal: ctx.mcpReq.signal,
            timeout: CALL_TIMEOUT_MS,
            resetTimeoutOnProgress: true,
            // The server's progress (a task still running) reaches the desktop client, which may keep waiting on it.
            onprogress: (progress) => {
              if (progressToken === undefined) return;
              void ctx.mcpReq.notify({ method: "notifications/progress", params: { ...progress, progressToken } }).catch(() => {});
            },
          });
        } catch (error) {
          return { content: [{ type: "text", text: explain(error, endpoint) }], isError: true };
        }
      });
      return server;
    },
    { onerror: (error) => process.stderr.write(`agent-factory mcp: ${error.message}\n`) },
  );
  // The desktop client closing our stdin ends the session: close both sides so the process exits.
  await new Promise<void>((resolve) => process.stdin.once("close", resolve).once("end", resolve));
  await handle.close().catch(() => {});
  await upstream.close().catch(() => {});
}
