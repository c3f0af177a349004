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
  /** `crew`: its sandbox joins its crew's network on its node (a crew manifest's `network: crew`); absent: a private one. */
  network?: "crew";
  /**
   * The node that runs it; for a hibernated or terminated agent, the node that last ran it.
   * `""` for an agent stored before nodes existed and not run since.
   */
  nodeId: string;
  walletAddress: string;
  spawnedAt: string;
  /** Tasks running now. */
  load: number;
  /** Outcomes over the agent's whole life. */
  stats: { completed: number; failed: number };
  /** Times the agent was provisioned again under the same id (after a restart, or by the watchdog). */
  restarts: number;
  /** What the watchdog knows about it (see AgentHealth). */
  health: AgentHealth;
  /** Host process id (process agents), null otherwise. */
  pid: number | null;
  /** The latest signal broadcast to it. */
  lastSignal: { signal: string; payload: unknown; at: string } | null;
  /** Context the agent saved; what a replacement or a woken agent starts from. */
  context: Record<string, unknown>;
  updatedAt: string;
}

/**
 * Liveness and quality, as the watchdog sees them. `missed` counts heartbeat intervals (or
 * probes) missed in a row: one makes the agent not ready (it takes no new work), the profile's
 * `health.missedHeartbeats` make it UNHEALTHY. `successRate` and `latencyMs` are moving averages
 * over about `health.qualityWindow` recent outcomes; `samples` counts outcomes since the agent
 * was last provisioned. `suspect` says why the agent takes no new work for now (a stuck task).
 */
export interface AgentHealth {
  lastHeartbeatAt: string | null;
  missed: number;
  successRate: number;
  latencyMs: number | null;
  samples: number;
  suspect: string | null;
}

export function freshHealth(): AgentHealth {
  return { lastHeartbeatAt: null, missed: 0, successRate: 1, latencyMs: null, samples: 0, suspect: null };
}

/** A copy safe to hand out or keep: changing it cannot change the live agent. */
export function snapshotAgent(agent: Agent): Agent {
  return { ...agent, capabilities: [...agent.capabilities], scopes: [...agent.scopes], stats: { ...agent.stats }, health: { ...agent.health } };
}

/** Brings a stored agent written by an older version up to this shape (health, then nodeId, were added later). */
export function upgradeAgent(agent: Agent): Agent {
  if (agent.health === undefined) {
    const legacy = agent as Agent & { lastHeartbeatAt?: string | null; stats: { successRate?: number } };
    agent.health = { ...freshHealth(), lastHeartbeatAt: legacy.lastHeartbeatAt ?? null };
    delete legacy.lastHeartbeatAt;
    delete legacy.stats.successRate;
  }
  // Stored before nodes existed: which node ran it was not recorded.
  if (agent.nodeId === undefined) agent.nodeId = "";
  return agent;
}
