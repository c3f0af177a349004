import type { FleetCounts } from "./fleet-counts.ts";
import type { HealingStats } from "./stats.ts";

/** What `GET /v1/stats` answers: the fleet aggregated server-side, for the dashboard. */
export interface FleetStats {
  /** The node that answered. */
  nodeId: string;
  at: string;
  /** Live agents (every state but TERMINATED and HIBERNATING), counted: this node's, or on a cluster every node's that answered. */
  agents: FleetCounts;
  crews: { total: number; byState: Record<string, number> };
  tasks: { queued: number; running: number };
  /** Every node of the cluster (this one alone on a single node), with its agents at its last lease renewal. */
  nodes: Array<{ id: string; alive: boolean; agents: number; load: number; capacity: number }>;
  health: HealingStats;
  /** Recent direct dispatches, enqueue → handler started, µs. */
  dispatch: { samples: number; p50Us: number; p99Us: number };
  lastEventSeq: number;
  /** Nodes alive in the cluster whose counts could not be read (their agents are missing from `agents`). */
  unreachable: string[];
}
