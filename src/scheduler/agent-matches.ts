import type { Agent } from "../core/agent.ts";
import type { Task } from "../core/task.ts";

/**
 * Whether `agent` may run `task`: same crew (a task with no crew runs only on agents in no
 * crew, so nothing crosses a crew boundary), and every constraint the task names.
 */
export function agentMatches(agent: Agent, task: Task): boolean {
  if (agent.crewId !== task.crewId) return false;
  if (task.role !== null && agent.role !== task.role) return false;
  if (task.profile !== null && agent.profile !== task.profile) return false;
  for (const capability of task.capabilities) if (!agent.capabilities.includes(capability)) return false;
  return true;
}
