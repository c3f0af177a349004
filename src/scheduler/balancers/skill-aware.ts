import type { Agent } from "../../core/agent.ts";
import type { LoadBalancer } from "../../core/ports/balancer.ts";
import type { Task } from "../../core/task.ts";

/**
 * Sends work to the best specialist: score = 0.5 × fit + 0.4 × success rate + 0.1 × spare
 * capacity. Fit is the share of the agent's capabilities the task asks for (a specialist
 * whose skills are exactly the task's scores 1; a generalist less); with no capabilities asked
 * every agent fits 1. Success rate is the agent's moving average of outcomes, so an agent that
 * keeps failing loses work to one that does not.
 */
export class SkillAware implements LoadBalancer {
  readonly name = "skill-aware";

  pick(candidates: Iterable<Agent>, task: Readonly<Task>): Agent | undefined {
    let best: Agent | undefined;
    let bestScore = -Infinity;
    for (const agent of candidates) {
      const score = SkillAware.score(agent, task);
      if (score > bestScore) {
        best = agent;
        bestScore = score;
      }
    }
    return best;
  }

  static score(agent: Agent, task: Readonly<Task>): number {
    const asked = task.capabilities.length;
    const fit = asked === 0 || agent.capabilities.length === 0 ? 1 : Math.min(1, asked / agent.capabilities.length);
    const spare = 1 - agent.load / agent.cognitiveLoadLimit;
    return 0.5 * fit + 0.4 * agent.health.successRate + 0.1 * spare;
  }
}
