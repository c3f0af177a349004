import type { Agent } from "../../core/agent.ts";
import type { CrewAccess } from "../../core/ports/runtime.ts";
import type { Task } from "../../core/task.ts";

/** What a function handler is given besides the task's input. */
export interface HandlerContext {
  agent: Readonly<Agent>;
  task: Readonly<Task>;
  /** Aborted on cancel, timeout or forced shutdown: pass it on to anything that waits. */
  signal: AbortSignal;
  /** The crew's shared context, or null for an agent in no crew. */
  crew: CrewAccess | null;
  /** Replaces the agent's saved context. */
  saveContext(context: Record<string, unknown>): void;
}

/**
 * An in-process agent body: `(input, ctx) => result`. A thrown FactoryError keeps its code;
 * `nonRetryable: true` ends the task without another attempt.
 */
export type FunctionHandler = (input: unknown, context: HandlerContext) => unknown;
