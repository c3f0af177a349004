import type { CrewState } from "./crew-states.ts";
import type { McpServerSpec } from "./schemas/mcp-server.ts";

/** ASSEMBLING → ACTIVE ⇄ PAUSED → DISBANDING → DISBANDED; the table is `CREW_TRANSITIONS` in crew-states.ts. */
export type { CrewState };

export interface Crew {
  id: string;
  name: string;
  description: string | null;
  state: CrewState;
  /** Member agent ids, in manifest order. */
  agentIds: string[];
  budget: number | null;
  /** Its manifest's crew-wide MCP servers; absent when it declares none. */
  mcpServers?: McpServerSpec[];
  walletAddress: string;
  /** `crew`: its members share one loopback-only network namespace per node; absent: each member has its own (the default, `private`). */
  network?: "crew";
  /**
   * Scopes its manifest narrowed, by profile name: a member of that profile added later (an admin
   * agent's spawn, `POST /v1/crews/{id}/members`) gets no more than its first members got.
   */
  memberScopes?: Record<string, string[]>;
  createdAt: string;
  updatedAt: string;
}

/** One message on a crew's bus: a broadcast signal or a publish to a topic. */
export interface CrewMessage {
  id: string;
  crewId: string;
  topic: string;
  /** Set for broadcasts (topic `signals`). */
  signal: string | null;
  payload: unknown;
  /** How many members it reached. */
  delivered: number;
  at: string;
}

/** A copy safe to hand out or keep: changing it cannot change the live crew. */
export function snapshotCrew(crew: Crew): Crew {
  return { ...crew, agentIds: [...crew.agentIds] };
}
