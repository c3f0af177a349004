import type { Agent } from "../../core/agent.ts";
import type { LoadBalancer } from "../../core/ports/balancer.ts";

/**
 * The lowest load relative to the agent's limit wins; ties go to the agent that has been
 * waiting longest (candidates arrive in the order they became available).
 */
export const leastLoaded: LoadBalancer = {
  name: "least-loaded",
  pick(candidates: readonly Agent[]): Agent | undefined {
    let best: Agent | undefined;
    let bestRatio = Infinity;
    for (const agent of candidates) {
      const ratio = agent.load / agent.cognitiveLoadLimit;
      if (ratio < bestRatio) {
        best = agent;
        bestRatio = ratio;
        if (ratio === 0) break;
      }
    }
    return best;
  },
};
