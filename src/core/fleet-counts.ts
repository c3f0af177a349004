import type { Agent } from "./agent.ts";

/** Agents counted four ways, for a dashboard that must never list 100,000 of them. */
export interface FleetCounts {
  /** Agents counted (live ones in memory: every state but TERMINATED and HIBERNATING). */
  total: number;
  byState: Record<string, number>;
  byProfile: Record<string, number>;
  byNode: Record<string, number>;
  /** The `topCrews` crews with most agents (`""`: agents in no crew); the rest summed in `otherCrews`. */
  byCrew: Record<string, number>;
  /** Agents of crews past the top ones. */
  otherCrews: number;
}

/**
 * One pass over the agents: O(agents) with a handful of map updates each, a few milliseconds
 * for 100,000. Crews are cut to the largest `topCrews` so the answer stays small however many
 * crews there are.
 */
export function countAgents(agents: Iterable<Pick<Agent, "state" | "profile" | "nodeId" | "crewId">>, topCrews: number): FleetCounts {
  const byState = new Map<string, number>();
  const byProfile = new Map<string, number>();
  const byNode = new Map<string, number>();
  const crews = new Map<string, number>();
  let total = 0;
  for (const agent of agents) {
    total++;
    bump(byState, agent.state);
    bump(byProfile, agent.profile);
    bump(byNode, agent.nodeId);
    bump(crews, agent.crewId ?? "");
  }
  const ranked = [...crews].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const top = ranked.slice(0, Math.max(0, topCrews));
  const otherCrews = ranked.slice(top.length).reduce((sum, [, n]) => sum + n, 0);
  return { total, byState: sorted(byState), byProfile: sorted(byProfile), byNode: sorted(byNode), byCrew: Object.fromEntries(top), otherCrews };
}

function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** Keys in a stable order, so two answers for the same fleet compare equal. */
function sorted(counts: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...counts].sort((a, b) => a[0].localeCompare(b[0])));
}

/**
 * Several nodes' counts as one fleet's: sums per key; crews cut again to the largest `topCrews`
 * (a crew cut from one node's top lands in `otherCrews`, so the totals always add up).
 */
export function mergeFleetCounts(parts: readonly FleetCounts[], topCrews: number): FleetCounts {
  const sum = (pick: (c: FleetCounts) => Record<string, number>): Map<string, number> => {
    const out = new Map<string, number>();
    for (const part of parts) for (const [key, n] of Object.entries(pick(part))) out.set(key, (out.get(key) ?? 0) + n);
    return out;
  };
  const ranked = [...sum((c) => c.byCrew)].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const top = ranked.slice(0, Math.max(0, topCrews));
  const cut = ranked.slice(top.length).reduce((total, [, n]) => total + n, 0);
  return {
    total: parts.reduce((total, c) => total + c.total, 0),
    byState: sorted(sum((c) => c.byState)),
    byProfile: sorted(sum((c) => c.byProfile)),
    byNode: sorted(sum((c) => c.byNode)),
    byCrew: Object.fromEntries(top),
    otherCrews: cut + parts.reduce((total, c) => total + c.otherCrews, 0),
  };
}
