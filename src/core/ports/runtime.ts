import type { Agent } from "../agent.ts";
import type { ProfileRecord } from "../schemas/profile.ts";
import type { Task } from "../task.ts";

/** The crew's shared context as a running agent sees it; null for an agent in no crew. */
export interface CrewAccess {
  readonly crewId: string;
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  publish(topic: string, payload: unknown): Promise<void>;
}

/** What the factory lends a runtime for one agent. */
export interface AgentServices {
  crew: CrewAccess | null;
  /** Replaces the agent's saved context (what a replacement or a woken agent starts from). */
  saveContext(context: Record<string, unknown>): void;
  /** The agent is gone (its process exited or crashed): the factory replaces it. */
  lost(reason: string): void;
  /** The agent said it is alive. */
  heartbeat(): void;
  /** The agent reported progress on a task. */
  progress(taskId: string, message: string | undefined, fraction: number | undefined): void;
  /** A line of the agent's log (its stderr, or `log` notifications). */
  log(level: "debug" | "info" | "warn" | "error", message: string): void;
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
}

/** How agents of one `runtime.kind` execute. */
export interface AgentRuntime {
  readonly kind: string;
  /** Rejects a profile this runtime cannot run (e.g. an unknown handler), naming the field. */
  validate(profile: ProfileRecord | Omit<ProfileRecord, "version" | "createdAt">): void;
  start(agent: Readonly<Agent>, profile: ProfileRecord, services: AgentServices): Promise<AgentHandle>;
  /** At factory shutdown: ends what the runtime runs without wiping what a restart brings back. */
  close?(): Promise<void>;
  /** Counters worth showing operators (processes, warm sandboxes …). */
  stats?(): Record<string, unknown>;
}
