import { closeSync, mkdirSync, rmSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { Agent } from "../core/agent.ts";
import { closestNames } from "../core/closest-names.ts";
import { FactoryError, isFactoryError } from "../core/errors.ts";
import type { Sandbox } from "../core/ports/sandbox.ts";
import { ToolPolicySchema, type McpServerSpec } from "../core/schemas/mcp-server.ts";
import { SandboxSchema, type ProfileRecord, type SandboxSpec } from "../core/schemas/profile.ts";
import type { ToolCallResult, ToolCaller, ToolInfo } from "../core/tool.ts";
import type { AgentFiles } from "../runtimes/process/agent-files.ts";
import type { EventLog } from "../state/event-log.ts";
import { AgentTools } from "./agent-tools.ts";
import { httpTransport, McpConnection, type StartedTransport } from "./mcp-connection.ts";
import { SandboxedStdioTransport } from "./sandboxed-stdio-transport.ts";

export interface ToolHostDeps {
  /** Sandboxes by kind: a stdio server runs in the one its agent's profile names. */
  sandboxes: ReadonlyMap<string, Sandbox>;
  /** Agents' workspaces (`<root>/<agent id>`): a server shares its agent's. */
  workspaceRoot: string;
  /** Host folders no sandboxed program may see (the factory's data). */
  hidden: readonly string[];
  /** Which host paths a server's `files` may name (the operator's `--agent-files`). */
  agentFiles: AgentFiles;
  allowUnsandboxed?: boolean;
  allowEgress?: boolean;
  events: EventLog;
  /** A crew's manifest servers, and whether it still runs (its servers' workspace is wiped once it does not). */
  crewServers?: (crewId: string) => { servers: readonly McpServerSpec[]; active: boolean } | undefined;
  /** Where `${env:NAME}` in a url server's headers is read from. */
  env?: NodeJS.ProcessEnv;
  log(agentId: string, level: "info" | "warn" | "error", message: string): void;
}

/** Who may list tools: every agent, or those of some crews (a crew-limited caller). */
export interface ToolFilter {
  agentId?: string;
  crewId?: string;
  server?: string;
}

/**
 * This node's MCP servers, by agent: starts and stops them with their agents (`McpRuntime`),
 * lists their tools (the registry, `GET /v1/tools`), and is the one executor every tool call goes
 * through — the agent's allow-list, argument checks, a timeout that progress extends, a
 * `tool.called` event, and tool errors as results, never crashes (docs/mcp.md).
 */
export class ToolHost {
  readonly #deps: ToolHostDeps;
  readonly #agents = new Map<string, AgentTools>();
  /** Crews' servers on this node: started with the first member here, closed with the last. */
  readonly #crews = new Map<string, CrewServers>();

  constructor(deps: ToolHostDeps) {
    this.#deps = deps;
  }

  /** Refuses a profile whose servers this node could never start (files out of bounds, a sandbox not allowed). */
  validate(profile: Pick<ProfileRecord, "mcpServers" | "sandbox">): void {
    for (const [i, server] of (profile.mcpServers ?? []).entries()) {
      if (server.command !== undefined) {
        this.#permit(SandboxSchema.parse(profile.sandbox ?? {}), "VALIDATION_FAILED");
        this.#files(server, i, "VALIDATION_FAILED", false);
      }
    }
  }

  #permit(spec: SandboxSpec, code: "VALIDATION_FAILED" | "AGENT_START_FAILED"): void {
    if (spec.kind === "none" && this.#deps.allowUnsandboxed !== true) {
      throw new FactoryError(code, "sandbox.kind: 'none' would run the profile's MCP servers on the host, unsandboxed; this server does not allow it (start it with --allow-unsandboxed)", { field: "sandbox.kind" });
    }
    if (spec.allowEgress && this.#deps.allowEgress !== true) {
      throw new FactoryError(code, "sandbox.allowEgress: the profile's MCP servers would share this host's network; this server does not allow it (start it with --allow-egress)", { field: "sandbox.allowEgress" });
    }
  }

  /** A server's files, checked (and opened, for a start) as a process agent's are; errors name `mcpServers.N.files.M`. */
  #files(server: McpServerSpec, index: number, code: "VALIDATION_FAILED" | "AGENT_START_FAILED", open: boolean): Array<{ fd?: number; host: string; path: string }> {
    const files = server.files ?? [];
    try {
      if (!open) return this.#deps.agentFiles.resolve(files, code).map((host) => ({ host, path: join("/agent", basename(host)) }));
      return this.#deps.agentFiles.open(files, code).map(({ fd, real }, i) => ({ fd, host: real, path: join("/agent", basename(files[i]!)) }));
    } catch (error) {
      if (!isFactoryError(error) || error.field === undefined) throw error;
      const field = error.field.replace(/^runtime\.files/, `mcpServers.${index}.files`);
      throw new FactoryError(error.code, error.message.replace(/^runtime\.files/, `mcpServers.${index}.files`), { field });
    }
  }

  /** Whether an agent of this profile, in this crew, has any MCP server (its profile's or its crew's). */
  declares(agent: Readonly<Agent>, profile: ProfileRecord): boolean {
    return (profile.mcpServers ?? []).length > 0 || (agent.crewId !== null && (this.#deps.crewServers?.(agent.crewId)?.servers.length ?? 0) > 0);
  }

  /** Starts an agent's servers (replacing any it had here); a server that fails to start fails the start, quoting its stderr. */
  async start(agent: Readonly<Agent>, profile: ProfileRecord): Promise<AgentTools> {
    await this.stop(agent.id);
    const spec = SandboxSchema.parse(profile.sandbox ?? {});
    const readOnly = agent.scopes.includes("reviewer") && !agent.scopes.includes("coder");
    const own = profile.mcpServers ?? [];
    const crewServers = agent.crewId === null ? [] : (this.#deps.crewServers?.(agent.crewId)?.servers ?? []);
    // Names namespace the tools: a profile server and a crew server of one name would give two tools each name.
    for (const server of own) {
      if (crewServers.some((s) => s.name === server.name)) {
        throw new FactoryError(
          "AGENT_START_FAILED",
          `mcpServers: tool name collision: server '${server.name}' is declared by both profile '${profile.name}' and crew ${agent.crewId}'s manifest ('${server.name}.*' would name the tools of both); rename one`,
          { field: "mcpServers" },
        );
      }
    }
    const connections = own.map((server, i) => {
      const label = `MCP server '${server.name}' of agent ${agent.id}`;
      return new McpConnection({
        label,
        spec: server,
        transport: (mcp) => (server.url !== undefined ? httpTransport(mcp, server, this.#deps.env ?? process.env, `mcpServers.${i}`) : this.#stdio(agent.id, join(resolve(this.#deps.workspaceRoot), agent.id), server, i, spec, readOnly)),
        onToolsChanged: () => {
          if (this.#agents.get(agent.id) === tools) tools.rebuild();
        },
        log: (level, message) => this.#deps.log(agent.id, level, message),
      });
    });
    const shared = crewServers.length === 0 ? [] : await this.#joinCrew(agent.crewId!, agent.id, crewServers);
    const tools: AgentTools = new AgentTools({
      agentId: agent.id,
      crewId: agent.crewId,
      connections,
      shared,
      policy: ToolPolicySchema.parse(profile.tools ?? {}),
      onCollision: (message) => this.#deps.log(agent.id, "error", `tool name collision: ${message}`),
    });
    this.#agents.set(agent.id, tools);
    try {
      await tools.start();
    } catch (error) {
      if (this.#agents.get(agent.id) === tools) this.#agents.delete(agent.id);
      await this.#leaveCrew(agent.crewId, agent.id);
      throw error;
    }
    return tools;
  }

  /** The crew's servers on this node, started by its first member here; the member is counted until it stops. */
  async #joinCrew(crewId: string, agentId: string, servers: readonly McpServerSpec[]): Promise<McpConnection[]> {
    let crew = this.#crews.get(crewId);
    if (crew === undefined) {
      const workspace = join(resolve(this.#deps.workspaceRoot), crewId);
      // A crew's servers run as its agents' would by default: bubblewrap, no network.
      const spec = SandboxSchema.parse({});
      const connections = servers.map(
        (server, i) =>
          new McpConnection({
            label: `MCP server '${server.name}' of crew ${crewId}`,
            spec: server,
            transport: (mcp) => (server.url !== undefined ? httpTransport(mcp, server, this.#deps.env ?? process.env, `mcpServers.${i}`) : this.#stdio(crewId, workspace, server, i, spec, false)),
            onToolsChanged: () => {
              for (const member of this.#crews.get(crewId)?.members ?? []) this.#agents.get(member)?.rebuild();
            },
            log: (level, message) => this.#deps.log(crewId, level, message),
          }),
      );
      const created: CrewServers = { connections, members: new Set(), started: Promise.all(connections.map((c) => c.start())).then(() => undefined) };
      crew = created;
      this.#crews.set(crewId, created);
      created.started.catch(() => {
        if (this.#crews.get(crewId) === created) this.#crews.delete(crewId);
        void Promise.all(connections.map((c) => c.close()));
      });
    }
    crew.members.add(agentId);
    try {
      await crew.started;
    } catch (error) {
      crew.members.delete(agentId);
      throw error;
    }
    return crew.connections;
  }

  /** A member stopped here: the last one closes the crew's servers (and, once the crew has ended, wipes their workspace). */
  async #leaveCrew(crewId: string | null, agentId: string): Promise<void> {
    if (crewId === null) return;
    const crew = this.#crews.get(crewId);
    if (crew === undefined || !crew.members.delete(agentId) || crew.members.size > 0) return;
    this.#crews.delete(crewId);
    await Promise.all(crew.connections.map((c) => c.close()));
    if (this.#deps.crewServers?.(crewId)?.active !== true && /^[A-Za-z0-9_-]+$/.test(crewId)) rmSync(join(resolve(this.#deps.workspaceRoot), crewId), { recursive: true, force: true });
  }

  /** A stdio server in its owner's sandbox: for an agent, a second sandboxed process on the agent's workspace. */
  #stdio(ownerId: string, workspace: string, server: McpServerSpec, index: number, spec: SandboxSpec, readOnly: boolean): StartedTransport {
    const sandbox = this.#deps.sandboxes.get(spec.kind);
    if (sandbox === undefined) throw new FactoryError("SANDBOX_UNAVAILABLE", `sandbox.kind: no '${spec.kind}' sandbox in this factory`, { field: "sandbox.kind" });
    this.#permit(spec, "AGENT_START_FAILED");
    sandbox.check();
    mkdirSync(workspace, { recursive: true });
    const files = this.#files(server, index, "AGENT_START_FAILED", true);
    try {
      const launch = sandbox.launch({
        agentId: ownerId,
        command: server.command!,
        env: server.env ?? {},
        cwd: undefined,
        files,
        workspace,
        ...(readOnly ? { workspaceReadOnly: true } : {}),
        hidden: this.#deps.hidden,
        spec,
      });
      const transport = new SandboxedStdioTransport(launch);
      // The descriptors are the launcher's once it has started; closed here after that.
      const start = transport.start.bind(transport);
      transport.start = () =>
        start().finally(() => {
          for (const { fd } of files) if (fd !== undefined) closeSync(fd);
        });
      return { transport, stderr: () => transport.stderr };
    } catch (error) {
      for (const { fd } of files) if (fd !== undefined) closeSync(fd);
      throw error;
    }
  }

  /**
   * Stops the servers of one start of an agent: a replaced runtime's handle, stopped late, must not
   * stop the servers its replacement started under the same id.
   */
  async release(tools: AgentTools): Promise<void> {
    if (this.#agents.get(tools.agentId) === tools) await this.stop(tools.agentId);
    else await tools.close();
  }

  /** Stops an agent's servers, if it has any here. */
  async stop(agentId: string): Promise<void> {
    const tools = this.#agents.get(agentId);
    if (tools === undefined) return;
    this.#agents.delete(agentId);
    await tools.close();
    await this.#leaveCrew(tools.crewId, agentId);
  }

  /** The agent's tools here, if it has servers on this node. */
  of(agentId: string): AgentTools | undefined {
    return this.#agents.get(agentId);
  }

  /** The registry: every tool of the agents on this node that the filter takes, as far as each agent's allow-list lets it be called. */
  list(filter: ToolFilter = {}): ToolInfo[] {
    const out: ToolInfo[] = [];
    const agents = filter.agentId === undefined ? this.#agents.values() : [this.#agents.get(filter.agentId)].filter((t) => t !== undefined);
    for (const tools of agents) {
      if (filter.crewId !== undefined && tools.crewId !== filter.crewId) continue;
      for (const info of tools.list()) if (filter.server === undefined || info.server === filter.server) out.push(info);
    }
    return out;
  }

  /**
   * The executor: calls an agent's tool with the agent's rights. Refusals throw (TOOL_NOT_FOUND,
   * FORBIDDEN, VALIDATION_FAILED, naming the field); once the call reaches the server, everything
   * that goes wrong — the tool's error, a protocol error, a timeout, a dead server — is a result
   * with `isError: true`. Either way a `tool.called` event records it.
   */
  async call(agentId: string, server: string, tool: string, args: unknown, caller: ToolCaller, signal?: AbortSignal): Promise<ToolCallResult> {
    const started = performance.now();
    const tools = this.#agents.get(agentId);
    const record = (outcome: "ok" | "tool-error" | "timeout" | "failed" | "refused", error?: string): void => {
      this.#deps.events.emit({
        type: "tool.called",
        agentId,
        ...(tools?.crewId == null ? {} : { crewId: tools.crewId }),
        data: {
          server,
          tool,
          caller: caller.kind === "agent" ? "agent" : `operator:${caller.keyId}`,
          durationMs: Math.round((performance.now() - started) * 1000) / 1000,
          outcome,
          ...(error === undefined ? {} : { error: error.slice(0, 1_000) }),
        },
      });
    };
    const refuse = (error: FactoryError): never => {
      record("refused", `${error.code}: ${error.message}`);
      throw error;
    };
    if (tools === undefined) return refuse(new FactoryError("TOOL_NOT_FOUND", `agent ${agentId} has no MCP servers on this node`, { field: "agentId" }));
    const connection = tools.connection(server);
    if (connection === undefined) {
      const near = closestNames(server, tools.connections.map((c) => c.name));
      return refuse(new FactoryError("TOOL_NOT_FOUND", `server: agent ${agentId} has no MCP server '${server}' (its servers: ${tools.connections.map((c) => c.name).join(", ")})${near.length > 0 ? `; did you mean ${near[0]}?` : ""}`, { field: "server" }));
    }
    const name = `${server}.${tool}`;
    // Before the tool is looked up: a refused caller learns nothing about what exists beyond the allow-list.
    if (!tools.allows(name)) return refuse(new FactoryError("FORBIDDEN", `tool: ${name} is not in agent ${agentId}'s allow-list (tools.allow: ${tools.policy.allow?.join(", ")})`, { field: "tool" }));
    if (tools.entry(name) === undefined && connection.state === "ready") {
      const near = closestNames(tool, connection.tools.map((t) => t.name));
      return refuse(new FactoryError("TOOL_NOT_FOUND", `tool: server '${server}' of agent ${agentId} has no tool '${tool}'${near.length > 0 ? `; did you mean ${near.join(", ")}?` : ""}`, { field: "tool" }));
    }
    if (args !== undefined && (typeof args !== "object" || args === null || Array.isArray(args))) {
      return refuse(new FactoryError("VALIDATION_FAILED", "arguments: must be an object of the tool's arguments", { field: "arguments" }));
    }
    try {
      const result = await connection.call(tool, (args ?? {}) as Record<string, unknown>, { timeoutMs: tools.policy.timeoutMs, maxTotalTimeoutMs: tools.policy.maxTotalTimeoutMs, ...(signal === undefined ? {} : { signal }) });
      record(result.isError ? "tool-error" : "ok", result.isError ? textOf(result) : undefined);
      return result;
    } catch (error) {
      // The SDK's SdkError with SdkErrorCode.RequestTimeout, told by its code (the SDK is loaded lazily, so no instanceof here).
      const timeout = (error as { code?: unknown } | null)?.code === "REQUEST_TIMEOUT";
      const message = timeout ? `${name} timed out (no answer or progress for ${tools.policy.timeoutMs} ms, or over ${tools.policy.maxTotalTimeoutMs} ms in all)` : `${name} failed: ${error instanceof Error ? error.message : String(error)}`;
      record(timeout ? "timeout" : "failed", message);
      return { content: [{ type: "text", text: message }], isError: true };
    }
  }

  /** Ends every server (factory shutdown). */
  async close(): Promise<void> {
    const all = [...this.#agents.values()];
    const crews = [...this.#crews.values()];
    this.#agents.clear();
    this.#crews.clear();
    await Promise.all([...all.map((t) => t.close()), ...crews.flatMap((c) => c.connections.map((x) => x.close()))]);
  }
}

/** One crew's servers on this node. */
interface CrewServers {
  connections: McpConnection[];
  /** Its members on this node whose tools use them. */
  members: Set<string>;
  started: Promise<void>;
}

/** The text of a result's text blocks, for an event's `error`. */
function textOf(result: ToolCallResult): string {
  return result.content.map((c) => (c.type === "text" && typeof c.text === "string" ? c.text : "")).join(" ").trim();
}
