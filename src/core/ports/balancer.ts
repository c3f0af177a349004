import type { Agent } from "../agent.ts";
import type { Task } from "../task.ts";

export interface BalancerContext {
  /** The queue lane the task belongs to: balancers that keep state keep it per lane. */
  laneKey: string;
  /** Candidates that became free most recently (one per agent group), most recent first. */
  recent?: readonly Agent[];
}

/**
 * Chooses among agents that may take a task now (each is available and matches). Candidates
 * come in the order they became available and are produced lazily: a balancer that can decide
 * early should stop iterating.
 */
export interface LoadBalancer {
  readonly name: string;
  pick(candidates: Iterable<Agent>, task: Readonly<Task>, context: BalancerContext): Agent | undefined;
}
