import type { Agent } from "../../core/agent.ts";
import type { LoadBalancer } from "../../core/ports/balancer.ts";

/**
 * The lowest load relative to the agent's limit wins; ties go to the agent that has been free
 * longest (candidates arrive in the order they became available). An idle agent ends the search.
 */
export class LeastLoaded implements LoadBalancer {
  readonly name = "least-loaded";

  pick(candidates: Iterable<Agent>): Agent | undefined {
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
  }
}
