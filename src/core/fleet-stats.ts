import type { FleetCounts } from "./fleet-counts.ts";
import type { HealingStats } from "./stats.ts";

/** What `GET /v1/stats` answers: the fleet aggregated server-side, for the dashboard. */
export interface FleetStats {
  /** The node that answered (its agents are the ones counted in `agents`). */
  nodeId: string;
  at: string;
  /** This node's live agents (every state but TERMINATED and HIBERNATING), counted. */
  agents: FleetCounts;
  crews: { total: number; byState: Record<string, number> };
  tasks: { queued: number; running: number };
  /** Every node of the cluster (this one alone on a single node), with its agents at its last lease renewal. */
  nodes: Array<{ id: string; alive: boolean; agents: number; load: number; capacity: number }>;
  health: HealingStats;
  /** Recent direct dispatches, enqueue → handler started, µs. */
  dispatch: { samples: number; p50Us: number; p99Us: number };
  lastEventSeq: number;
}
