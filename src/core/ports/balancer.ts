import type { Agent } from "../agent.ts";
import type { Task } from "../task.ts";

/** Chooses among agents that may take a task (all are available and match). */
export interface LoadBalancer {
  readonly name: string;
  pick(candidates: readonly Agent[], task: Readonly<Task>): Agent | undefined;
}
