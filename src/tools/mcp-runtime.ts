import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Agent } from "../core/agent.ts";
import type { AgentAdmin, AgentHandle, AgentRuntime, AgentServices, AgentToken, CrewAccess, ModelAccess, RunContext, TaskAccess } from "../core/ports/runtime.ts";
import type { ProfileRecord } from "../core/schemas/profile.ts";
import type { ToolAccess, ToolCallResult, ToolInfo } from "../core/tool.ts";
import type { ToolHost } from "./tool-host.ts";

/**
 * A runtime whose agents get their profile's MCP servers: it starts the agent, then its servers
 * (a server that fails fails the start, and the agent is stopped), and stops the servers with the
 * agent, before it (a process agent's stop wipes the workspace the servers share). Agents
 * without servers start exactly as the wrapped runtime starts them.
 */
export class McpRuntime implements AgentRuntime {
  readonly #inner: AgentRuntime;
  readonly #host: ToolHost;
  readonly #workspaceRoot: string;

  constructor(inner: AgentRuntime, host: ToolHost, workspaceRoot: string) {
    this.#inner = inner;
    this.#host = host;
    this.#workspaceRoot = workspaceRoot;
  }

  get kind(): string {
    return this.#inner.kind;
  }

  validate(profile: Parameters<AgentRuntime["validate"]>[0]): void {
    this.#inner.validate(profile);
    this.#host.validate(profile);
  }

  async start(agent: Readonly<Agent>, profile: ProfileRecord, services: AgentServices): Promise<AgentHandle> {
    if (!this.#host.declares(agent, profile)) return this.#inner.start(agent, profile, services);
    const host = this.#host;
    const handle = await this.#inner.start(agent, profile, new ServicesWithTools(services, { list: () => host.of(agent.id)?.list() ?? [], call: (server, tool, args, signal) => host.call(agent.id, server, tool, args, { kind: "agent" }, signal) }));
    let tools;
    try {
      tools = await host.start(agent, profile);
    } catch (error) {
      await handle.stop().catch(() => {});
      this.#wipe(agent.id);
      throw error;
    }
    // A late stop of a replaced start wipes nothing its replacement uses.
    return new HandleWithTools(handle, () => host.release(tools), () => host.of(agent.id) === undefined && this.#wipe(agent.id));
  }

  /** A process agent's own stop wipes its workspace; for the others, the servers' workspace goes here. */
  #wipe(agentId: string): void {
    if (this.#inner.kind === "process" || !/^[A-Za-z0-9_-]+$/.test(agentId)) return;
    rmSync(join(resolve(this.#workspaceRoot), agentId), { recursive: true, force: true });
  }

  async close(): Promise<void> {
    await this.#inner.close?.();
  }

  forget(agentId: string): void {
    this.#inner.forget?.(agentId);
    this.#wipe(agentId);
  }

  stats(): Record<string, unknown> {
    return this.#inner.stats?.() ?? {};
  }
}

/** The agent's handle, whose servers stop before it does. */
class HandleWithTools implements AgentHandle {
  readonly #inner: AgentHandle;
  readonly #stopTools: () => Promise<void>;
  readonly #wipe: () => unknown;
  readonly liveness?: "heartbeat" | "probe";

  constructor(inner: AgentHandle, stopTools: () => Promise<void>, wipe: () => unknown) {
    this.#inner = inner;
    this.#stopTools = stopTools;
    this.#wipe = wipe;
    if (inner.liveness !== undefined) this.liveness = inner.liveness;
    if (inner.probe !== undefined) this.probe = () => inner.probe!();
    if (inner.freeze !== undefined) this.freeze = (ms) => inner.freeze!(ms);
  }

  probe?: () => Promise<boolean>;
  freeze?: (ms: number) => void;

  get pid(): number | undefined {
    return this.#inner.pid;
  }

  run(input: unknown, context: RunContext): Promise<unknown> {
    return this.#inner.run(input, context);
  }

  signal(signal: string, payload: unknown): Promise<void> {
    return this.#inner.signal(signal, payload);
  }

  async stop(): Promise<void> {
    await this.#stopTools();
    await this.#inner.stop();
    this.#wipe();
  }

  /** Hibernation: the servers stop (they start again with the agent), the workspace stays. */
  async suspend(): Promise<void> {
    await this.#stopTools();
    await (this.#inner.suspend ?? this.#inner.stop).call(this.#inner);
  }

  async kill(): Promise<void> {
    await this.#stopTools();
    await (this.#inner.kill ?? this.#inner.stop).call(this.#inner);
  }
}

/** The factory's services for the agent, with its tools added. */
class ServicesWithTools implements AgentServices {
  readonly #inner: AgentServices;
  readonly tools: ToolAccess;

  constructor(inner: AgentServices, tools: { list(): ToolInfo[]; call(server: string, tool: string, args: unknown, signal?: AbortSignal): Promise<ToolCallResult> }) {
    this.#inner = inner;
    this.tools = tools;
  }

  get agents(): AgentAdmin | undefined {
    return this.#inner.agents;
  }

  get crew(): CrewAccess | null {
    return this.#inner.crew;
  }

  get models(): ModelAccess | undefined {
    return this.#inner.models;
  }

  get tasks(): TaskAccess | undefined {
    return this.#inner.tasks;
  }

  async token(): Promise<AgentToken | undefined> {
    return this.#inner.token?.();
  }

  saveContext(context: Record<string, unknown>): void {
    this.#inner.saveContext(context);
  }

  lost(reason: string): void {
    this.#inner.lost(reason);
  }

  heartbeat(): void {
    this.#inner.heartbeat();
  }

  progress(taskId: string, message: string | undefined, fraction: number | undefined): void {
    this.#inner.progress(taskId, message, fraction);
  }

  log(level: "debug" | "info" | "warn" | "error", message: string): void {
    this.#inner.log(level, message);
  }
}
