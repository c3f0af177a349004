import type { Agent } from "../../core/agent.ts";
import type { CrewAccess } from "../../core/ports/runtime.ts";
import type { Task } from "../../core/task.ts";
import type { ToolCallResult, ToolInfo } from "../../core/tool.ts";

/** What a function handler is given besides the task's input. */
export interface HandlerContext {
  agent: Readonly<Agent>;
  task: Readonly<Task>;
  /**
   * Aborted when the factory ends the attempt — cancel, timeout, no progress (stuck), its agent
   * declared lost, forced shutdown — with an `AbortReason` (`signal.reason.kind`) saying which:
   * pass it on to anything that waits. The task's outcome is already decided then.
   */
  signal: AbortSignal;
  /** The crew's shared context, or null for an agent in no crew. */
  crew: CrewAccess | null;
  /** Replaces the agent's saved context. (Function properties, not methods: handlers destructure them.) */
  saveContext: (context: Record<string, unknown>) => void;
  /**
   * Reports progress on this task (a `task.progress` event). This is what stuck detection counts
   * as progress for a function agent: a handler that runs past the profile's `stuckThresholdMs`
   * without calling it is stuck.
   */
  progress: (message?: string, fraction?: number) => void;
  /**
   * A fresh signed token naming the agent (a JWT: `sub` its id, `crew`, `scopes`; verify it at
   * `/.well-known/jwks.json`), for whatever the handler calls; undefined when the factory gives none.
   */
  token: () => Promise<string | undefined>;
  /**
   * The agent's MCP tools (its profile's `mcpServers`, docs/mcp.md): `list()` them, `call(server,
   * tool, args)` one through the factory's executor (its allow-list, timeout and `tool.called`
   * event; aborted with the task). A failing tool answers `isError: true`; a refused call throws.
   */
  tools: HandlerTools;
}

/** A function agent's MCP tools. */
export interface HandlerTools {
  list: () => ToolInfo[];
  call: (server: string, tool: string, args?: Record<string, unknown>) => Promise<ToolCallResult>;
}

/** What a function agent's optional hooks are given. */
export interface AgentContext {
  agent: Readonly<Agent>;
  crew: CrewAccess | null;
  saveContext(context: Record<string, unknown>): void;
}

/**
 * An in-process agent body: `(input, ctx) => result`. A thrown FactoryError keeps its code;
 * `nonRetryable: true` ends the task without another attempt.
 */
export type FunctionHandlerFn = (input: unknown, context: HandlerContext) => unknown;

/** A handler with lifecycle hooks: `init` runs while the agent is WARMING (a throw fails the spawn). */
export interface FunctionAgentDefinition {
  init?(context: AgentContext): unknown;
  run: FunctionHandlerFn;
  /** Receives crew broadcasts. */
  signal?(signal: string, payload: unknown, context: AgentContext): unknown;
  /** Runs when the agent terminates, hibernates or is replaced: the moment to save context. */
  stop?(context: AgentContext): unknown;
  /**
   * Liveness probe, called every `pool.healthIntervalMs`: `false`, a throw, or no answer within
   * the interval is a miss, and `health.missedHeartbeats` misses in a row make the agent
   * UNHEALTHY (it is replaced). Without it a function agent lives as long as the factory.
   */
  probe?(context: AgentContext): boolean | Promise<boolean>;
}

export type FunctionHandler = FunctionHandlerFn | FunctionAgentDefinition;
