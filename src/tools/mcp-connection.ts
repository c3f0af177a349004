import type * as McpSdkModule from "@modelcontextprotocol/client";
import type { Client, Tool, Transport } from "@modelcontextprotocol/client";
import { FactoryError } from "../core/errors.ts";
import type { McpServerSpec } from "../core/schemas/mcp-server.ts";
import type { ToolCallResult } from "../core/tool.ts";

/** The official SDK's client module. */
export type McpSdk = typeof McpSdkModule;

/** The SDK, loaded at the first server start (about 0.2 s): a factory whose profiles declare no server never pays for it. */
let sdk: Promise<McpSdk> | undefined;
function loadSdk(): Promise<McpSdk> {
  return (sdk ??= import("@modelcontextprotocol/client"));
}

/** A transport for one start of a server, and what it said on stderr (stdio servers). */
export interface StartedTransport {
  transport: Transport;
  stderr?: () => string;
}

export interface McpConnectionOptions {
  /** What the connection is for, in messages: "server 'fs' of agent agt_…". */
  label: string;
  spec: McpServerSpec;
  /** A fresh transport for each start (a stdio server is a new sandboxed process each time). */
  transport(sdk: McpSdk): StartedTransport;
  /** The server's tools changed (a restart, or its `tools/list_changed`). */
  onToolsChanged(): void;
  log(level: "info" | "warn" | "error", message: string): void;
  /** Restarts in a row before the server is given up (its tools then answer errors); default 5. */
  maxRestarts?: number;
  /** How long a (re)started server must stay up for its earlier failures to be forgotten; default 10 s. */
  stableAfterMs?: number;
}

/** Connection states: `ready` serves calls; `restarting` after the server died; `failed` once restarts ran out. */
export type McpConnectionState = "starting" | "ready" | "restarting" | "failed" | "closed";

/**
 * One MCP server of an agent, through the official SDK client: started (initialize, tools/list),
 * re-listed on `tools/list_changed`, restarted with backoff if it dies, closed with its owner.
 */
export class McpConnection {
  readonly #options: McpConnectionOptions;
  #client: Client | undefined;
  #started: StartedTransport | undefined;
  #state: McpConnectionState = "starting";
  #tools: Tool[] = [];
  #failures = 0;
  /** When the server last became ready: one that stays up this long has its failures forgiven. */
  #readyAt = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Times the server was started again after it died. */
  restarts = 0;

  constructor(options: McpConnectionOptions) {
    this.#options = options;
  }

  get name(): string {
    return this.#options.spec.name;
  }

  get state(): McpConnectionState {
    return this.#state;
  }

  get tools(): readonly Tool[] {
    return this.#tools;
  }

  /** Starts the server and lists its tools; a server that cannot throws AGENT_START_FAILED quoting its stderr. */
  async start(): Promise<void> {
    try {
      await this.#connect();
    } catch (error) {
      this.#state = "failed";
      throw new FactoryError("AGENT_START_FAILED", `${this.#options.label} failed to start: ${this.#why(error)}`, { field: "mcpServers", cause: error });
    }
  }

  async #connect(): Promise<void> {
    const { spec } = this.#options;
    const mcp = await loadSdk();
    const started = this.#options.transport(mcp);
    this.#started = started;
    const client = new mcp.Client(
      { name: "agent-factory", version: "1" },
      {
        listChanged: {
          tools: {
            onChanged: (error, tools) => {
              if (error !== null || tools === null || client !== this.#client) return;
              this.#tools = tools;
              this.#options.onToolsChanged();
            },
          },
        },
      },
    );
    this.#client = client;
    client.onclose = () => this.#closedUnderUs(client);
    client.onerror = () => {};
    await client.connect(started.transport, { timeout: spec.startTimeoutMs });
    const listed = await client.listTools(undefined, { timeout: spec.startTimeoutMs });
    if (client !== this.#client) return;
    this.#tools = listed.tools;
    this.#state = "ready";
    this.#readyAt = Date.now();
    this.#options.onToolsChanged();
  }

  /** The server's own words when it failed, else the error's. */
  #why(error: unknown): string {
    const said = this.#started?.stderr?.() ?? "";
    const message = error instanceof Error ? error.message : String(error);
    return said === "" ? message : `${message}; it said: ${said.slice(-2_000)}`;
  }

  /** The server went away while it was meant to run: start it again, after a pause that grows. */
  #closedUnderUs(client: Client): void {
    if (client !== this.#client || this.#state !== "ready") return;
    const said = this.#started?.stderr?.() ?? "";
    this.#options.log("warn", `${this.#options.label} stopped${said === "" ? "" : ` (it said: ${said.slice(-300)})`}; restarting it`);
    // A server that starts and dies soon after, again and again, is a crash loop: it is given up, not restarted forever.
    if (Date.now() - this.#readyAt >= (this.#options.stableAfterMs ?? 10_000)) this.#failures = 0;
    this.#retry();
  }

  #retry(): void {
    this.#client = undefined;
    this.#failures++;
    if (this.#failures > (this.#options.maxRestarts ?? 5)) {
      this.#state = "failed";
      this.#tools = [];
      this.#options.onToolsChanged();
      this.#options.log("error", `${this.#options.label} gave up after ${this.#failures - 1} restarts in a row`);
      return;
    }
    this.#state = "restarting";
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#state !== "restarting") return;
      this.restarts++;
      this.#connect().catch((error: unknown) => {
        if (this.#state !== "restarting") return;
        void this.#client?.close().catch(() => {});
        this.#options.log("warn", `${this.#options.label} failed to restart: ${this.#why(error)}`);
        this.#retry();
      });
    }, Math.min(100 * 2 ** (this.#failures - 1), 5_000));
    this.#timer.unref();
  }

  /**
   * Calls a tool. A protocol error, a timeout or a server that is down throws (the executor turns
   * it into a tool error); a tool that reports failure answers `isError: true`.
   */
  async call(tool: string, args: Record<string, unknown>, options: { timeoutMs: number; maxTotalTimeoutMs: number; signal?: AbortSignal }): Promise<ToolCallResult> {
    const client = this.#client;
    if (client === undefined || this.#state !== "ready") {
      const why = this.#state === "restarting" ? "is restarting after it stopped" : this.#state === "failed" ? `was given up: it stopped again after ${this.#options.maxRestarts ?? 5} restarts in a row` : `is ${this.#state}`;
      throw new Error(`the server ${why}`);
    }
    const result = await client.callTool(
      { name: tool, arguments: args },
      {
        timeout: options.timeoutMs,
        // A long tool that reports progress keeps its call alive (typescript-sdk#245): each notification restarts the wait.
        resetTimeoutOnProgress: true,
        onprogress: () => {},
        maxTotalTimeout: options.maxTotalTimeoutMs,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
    );
    return {
      content: (result.content ?? []),
      isError: result.isError === true,
      ...(result.structuredContent === undefined ? {} : { structuredContent: result.structuredContent }),
    };
  }

  /** Ends the server; idempotent. */
  async close(): Promise<void> {
    this.#state = "closed";
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    await client?.close().catch(() => {});
    await this.#started?.transport.close().catch(() => {});
  }
}

/** A Streamable HTTP transport for a `url` server, its headers' `${env:NAME}` read from `env`. */
export function httpTransport(mcp: McpSdk, spec: McpServerSpec, env: NodeJS.ProcessEnv, field: string): StartedTransport {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(spec.headers ?? {})) {
    headers[name] = value.replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, variable: string) => {
      const found = env[variable];
      if (found === undefined) throw new FactoryError("AGENT_START_FAILED", `${field}.headers.${name}: the environment variable ${variable} is not set on this node`, { field: `${field}.headers.${name}` });
      return found;
    });
  }
  return { transport: new mcp.StreamableHTTPClientTransport(new URL(spec.url!), { requestInit: { headers } }) };
}
