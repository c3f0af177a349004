import type { Agent } from "../agent.ts";
import type { AgentModelRequest, ModelCallResult } from "../model-call.ts";
import type { ProfileRecord } from "../schemas/profile.ts";
import type { Task } from "../task.ts";
import type { ToolAccess } from "../tool.ts";

/** The crew's shared context as a running agent sees it; null for an agent in no crew. */
export interface CrewAccess {
  readonly crewId: string;
  get(key: string): Promise<unknown>;
  keys(): Promise<string[]>;
  set(key: string, value: unknown): Promise<void>;
  publish(topic: string, payload: unknown): Promise<void>;
}

/** Model calls through the router, paid by the agent's crew wallet (or its own) and counted on the task. */
export interface ModelAccess {
  call(taskId: string, request: AgentModelRequest): Promise<ModelCallResult>;
}

/** A sub-task as an agent submits it: to a role (of its crew, if it has one). */
export interface SubtaskRequest {
  role: string;
  input: unknown;
  priority?: number;
  timeoutMs?: number;
}

/** What an `admin` agent may do to the agents of its own crew (refused with FORBIDDEN without the scope). */
export interface AgentAdmin {
  /** Spawns an agent of a registered profile into the caller's crew; resolves once it is READY. */
  spawn(profile: string): Promise<Readonly<Agent>>;
  /** Drains and terminates a member of the caller's crew (CROSS_CREW for any other agent). */
  terminate(agentId: string): Promise<Readonly<Agent>>;
}

/** Sub-tasks an agent submits, in its crew. */
export interface TaskAccess {
  submit(parentTaskId: string, request: SubtaskRequest): Promise<Task>;
  /** The task once it is final, or as it stands after `waitMs`. */
  wait(taskId: string, waitMs: number): Promise<Task>;
}

/** A signed token naming the agent (a JWT), and when it stops being valid (ISO time). */
export interface AgentToken {
  token: string;
  expiresAt: string;
}

/** What the factory lends a runtime for one agent. */
export interface AgentServices {
  /** Spawning and terminating agents of its crew (the `admin` scope); absent where the factory lends none. */
  agents?: AgentAdmin;
  /** A fresh signed token for the agent; undefined when the factory gives agents none. */
  token?(): Promise<AgentToken | undefined>;
  crew: CrewAccess | null;
  /** Model calls (the llm runtime's loop); absent where the factory lends none. */
  models?: ModelAccess;
  tasks?: TaskAccess;
  /** The tools of its MCP servers (profile `mcpServers`); absent for an agent that has none. */
  tools?: ToolAccess;
  /** Replaces the agent's saved context (what a replacement or a woken agent starts from). */
  saveContext(context: Record<string, unknown>): void;
  /** The agent is gone (its process exited or crashed): the factory replaces it. */
  lost(reason: string): void;
  /** The agent said it is alive (a heartbeat, or any message at all). */
  heartbeat(): void;
  /** The agent reported progress on a task (what stuck detection counts as progress). */
  progress(taskId: string, message: string | undefined, fraction: number | undefined): void;
  /** A line of the agent's log (its stderr, or `log` notifications); counts as output for stuck detection. */
  log(level: "debug" | "info" | "warn" | "error", message: string): void;
  /** Something the agent asked was refused for who it is (`CROSS_CREW`, `FORBIDDEN`): recorded as a `security.denied` event. */
  denied?(operation: string, code: string, reason: string): void;
}

export interface RunContext {
  task: Readonly<Task>;
  /** Aborted on cancel, timeout or forced shutdown. */
  signal: AbortSignal;
}

/** A started agent. */
export interface AgentHandle {
  /** The host process id, for agents that are processes. */
  readonly pid?: number;
  run(input: unknown, context: RunContext): Promise<unknown>;
  /** Delivers a broadcast signal; resolves when the agent has it. */
  signal(signal: string, payload: unknown): Promise<void>;
  /** Releases what the agent holds; idempotent. */
  stop(): Promise<void>;
  /**
   * How the watchdog knows it is alive: `heartbeat` (it must call `services.heartbeat()` at
   * the profile's interval), `probe` (the watchdog calls `probe()`), or absent: it lives as long
   * as the factory does (an in-process function without a probe).
   */
  readonly liveness?: "heartbeat" | "probe";
  /** Answers whether the agent is alive; a throw or `false` is a missed probe. */
  probe?(): Promise<boolean>;
  /** Releases resources but keeps what a woken agent needs (its workspace): hibernation. Default: `stop`. */
  suspend?(): Promise<void>;
  /** Ends it at once, without asking (a silent or frozen process); resolves when it is gone. */
  kill?(): Promise<void>;
  /** Stops it cold for `ms` (SIGSTOP, then SIGCONT), for chaos runs. */
  freeze?(ms: number): void;
}

/** How agents of one `runtime.kind` execute. */
export interface AgentRuntime {
  readonly kind: string;
  /** Rejects a profile this runtime cannot run (e.g. an unknown handler), naming the field. */
  validate(profile: ProfileRecord | Omit<ProfileRecord, "version" | "createdAt">): void;
  start(agent: Readonly<Agent>, profile: ProfileRecord, services: AgentServices): Promise<AgentHandle>;
  /** At factory shutdown: ends what the runtime runs without wiping what a restart brings back. */
  close?(): Promise<void>;
  /** An agent ended while it had no running handle (it was hibernating): wipe what is kept for it (a workspace). */
  forget?(agentId: string): void;
  /** Counters worth showing operators (processes, warm sandboxes …). */
  stats?(): Record<string, unknown>;
}
