import type { Agent } from "../../core/agent.ts";
import type { BalancerContext, LoadBalancer } from "../../core/ports/balancer.ts";

/**
 * Rotates through the free agents in a stable order (by id): each pick takes the agent after
 * the one picked last for the same lane, wrapping around.
 */
export class RoundRobin implements LoadBalancer {
  readonly name = "round-robin";
  readonly #last = new Map<string, string>();

  pick(candidates: Iterable<Agent>, _task: unknown, context: BalancerContext): Agent | undefined {
    const last = this.#last.get(context.laneKey);
    let next: Agent | undefined;
    let first: Agent | undefined;
    for (const agent of candidates) {
      if (first === undefined || agent.id < first.id) first = agent;
      if (last !== undefined && agent.id > last && (next === undefined || agent.id < next.id)) next = agent;
    }
    const chosen = next ?? first;
    if (chosen !== undefined) {
      // Bounded: one entry per lane; lanes are few (one per distinct target).
      this.#last.set(context.laneKey, chosen.id);
    }
    return chosen;
  }
}
