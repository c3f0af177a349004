import type { Agent } from "../../core/agent.ts";
import type { BalancerContext, LoadBalancer } from "../../core/ports/balancer.ts";

/**
 * The lowest load relative to the agent's limit wins. Among idle agents the one freed most
 * recently is reused first (like a connection pool), so a light load keeps few agents busy
 * and the rest go IDLE, where the pool can retire them — the balancer does not keep surplus
 * agents warm against the scaler. An idle agent ends the search.
 */
export class LeastLoaded implements LoadBalancer {
  readonly name = "least-loaded";

  pick(candidates: Iterable<Agent>, _task?: unknown, context?: BalancerContext): Agent | undefined {
    for (const agent of context?.recent ?? []) if (agent.load === 0) return agent;
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
