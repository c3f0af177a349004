import type { Tool } from "@modelcontextprotocol/client";
import { FactoryError } from "../core/errors.ts";
import { globToRegExp } from "../core/glob.ts";
import type { ToolPolicy } from "../core/schemas/mcp-server.ts";
import type { ToolInfo } from "../core/tool.ts";
import type { McpConnection } from "./mcp-connection.ts";

/** One entry of an agent's registry: the namespaced name and the server's tool under it. */
interface Entry {
  info: ToolInfo;
  connection: McpConnection;
}

/**
 * The MCP servers of one agent and the registry of their tools, namespaced `server.tool`. The
 * registry is rebuilt whenever a server's list changes; a name that two tools would share is an
 * error naming both (at start the spawn fails; later the first keeps the name and the error is
 * logged), never a silent overwrite (langchain-mcp-adapters#605).
 */
export class AgentTools {
  readonly agentId: string;
  readonly crewId: string | null;
  readonly connections: readonly McpConnection[];
  /** The crew's servers among `connections`: shared with the other members here, started and closed by the host, not by this agent. */
  readonly #shared: ReadonlySet<McpConnection>;
  readonly policy: ToolPolicy;
  readonly #allow: RegExp[] | undefined;
  readonly #onCollision: (message: string) => void;
  #entries = new Map<string, Entry>();

  constructor(options: { agentId: string; crewId: string | null; connections: readonly McpConnection[]; shared?: readonly McpConnection[]; policy: ToolPolicy; onCollision: (message: string) => void }) {
    this.agentId = options.agentId;
    this.crewId = options.crewId;
    this.connections = [...options.connections, ...(options.shared ?? [])];
    this.#shared = new Set(options.shared ?? []);
    this.policy = options.policy;
    this.#allow = options.policy.allow?.map(globToRegExp);
    this.#onCollision = options.onCollision;
  }

  /** Starts its own servers (in parallel; the crew's are started already) and builds the registry; the first failure (or a collision) throws, after all are closed. */
  async start(): Promise<void> {
    const results = await Promise.allSettled(this.connections.filter((c) => !this.#shared.has(c)).map((c) => c.start()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed !== undefined) {
      await this.close();
      throw failed.reason;
    }
    const collisions = this.rebuild();
    if (collisions.length > 0) {
      await this.close();
      throw new FactoryError("AGENT_START_FAILED", `tool name collision: ${collisions.join("; ")}`, { field: "mcpServers" });
    }
  }

  /** Rebuilds the registry from the servers' current lists; returns the collisions it found (each naming both tools). */
  rebuild(): string[] {
    const entries = new Map<string, Entry>();
    const collisions: string[] = [];
    for (const connection of this.connections) {
      for (const tool of connection.tools) {
        const name = `${connection.name}.${tool.name}`;
        const first = entries.get(name);
        if (first !== undefined) {
          collisions.push(`'${name}' is both server '${first.connection.name}' tool '${first.info.tool}' and server '${connection.name}' tool '${tool.name}'`);
          continue;
        }
        entries.set(name, { info: this.#info(connection.name, tool), connection });
      }
    }
    this.#entries = entries;
    for (const message of collisions) this.#onCollision(message);
    return collisions;
  }

  #info(server: string, tool: Tool): ToolInfo {
    return {
      name: `${server}.${tool.name}`,
      server,
      tool: tool.name,
      description: tool.description ?? "",
      inputSchema: tool.inputSchema,
      agentId: this.agentId,
      crewId: this.crewId,
    };
  }

  /** Whether the agent's policy lets anyone call `server.tool`. */
  allows(name: string): boolean {
    return this.#allow === undefined || this.#allow.some((re) => re.test(name));
  }

  /** The tools it may call. */
  list(): ToolInfo[] {
    return [...this.#entries.values()].filter((e) => this.allows(e.info.name)).map((e) => e.info);
  }

  entry(name: string): Entry | undefined {
    return this.#entries.get(name);
  }

  connection(server: string): McpConnection | undefined {
    return this.connections.find((c) => c.name === server);
  }

  /** Closes its own servers; the crew's stay for the other members. */
  async close(): Promise<void> {
    await Promise.all(this.connections.filter((c) => !this.#shared.has(c)).map((c) => c.close()));
  }
}
