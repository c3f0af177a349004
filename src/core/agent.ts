import type { AgentState } from "./lifecycle.ts";

/** A live (or remembered) instance of one profile version. Plain data: it is what the store keeps and the API returns. */
export interface Agent {
  id: string;
  /** Instance name, e.g. `coder-2` in a crew; the profile name for a lone spawn. */
  name: string;
  profile: string;
  profileVersion: number;
  role: string;
  capabilities: string[];
  scopes: string[];
  cognitiveLoadLimit: number;
  state: AgentState;
  crewId: string | null;
  walletAddress: string;
  spawnedAt: string;
  /** Tasks running now. */
  load: number;
  /** Outcomes so far; `successRate` is a moving average of recent ones (1 = all succeeded). */
  stats: { completed: number; failed: number; successRate: number };
  /** Times the agent was provisioned again under the same id (after a restart, or by the watchdog). */
  restarts: number;
  lastHeartbeatAt: string | null;
  /** Host process id (process agents), null otherwise. */
  pid: number | null;
  /** The latest signal broadcast to it. */
  lastSignal: { signal: string; payload: unknown; at: string } | null;
  /** Context the agent saved; what a replacement or a woken agent starts from. */
  context: Record<string, unknown>;
  updatedAt: string;
}

/** A copy safe to hand out or keep: changing it cannot change the live agent. */
export function snapshotAgent(agent: Agent): Agent {
  return { ...agent, capabilities: [...agent.capabilities], scopes: [...agent.scopes], stats: { ...agent.stats } };
}
