import { FactoryError } from "./errors.ts";

/**
 * The agent lifecycle, as data. DESIGN.md is the source:
 * PROVISIONING → WARMING → READY ⇄ BUSY; READY → IDLE → HIBERNATING → WARMING;
 * READY|BUSY|IDLE → DRAINING → TERMINATED; any live state → UNHEALTHY → PROVISIONING.
 */
export const AGENT_STATES = [
  "PROVISIONING",
  "WARMING",
  "READY",
  "BUSY",
  "IDLE",
  "HIBERNATING",
  "DRAINING",
  "UNHEALTHY",
  "TERMINATED",
] as const;

export type AgentState = (typeof AGENT_STATES)[number];

/** States in which the agent holds resources (a handler, a process). */
export const LIVE_STATES: ReadonlySet<AgentState> = new Set([
  "PROVISIONING",
  "WARMING",
  "READY",
  "BUSY",
  "IDLE",
  "DRAINING",
]);

/** States in which the agent takes work: started, and not draining, unhealthy, asleep or gone. */
export const WORKING_STATES = ["READY", "BUSY", "IDLE"] as const satisfies readonly AgentState[];
export type WorkingState = (typeof WORKING_STATES)[number];

const WORKING: ReadonlySet<string> = new Set(WORKING_STATES);

/** True for READY, BUSY and IDLE (WORKING_STATES); takes a string so that states read off the wire can be checked too. */
export function isWorkingState(state: string): state is WorkingState {
  return WORKING.has(state);
}

/**
 * Every legal transition. Beyond the diagram: a start that fails or is abandoned
 * (PROVISIONING|WARMING → TERMINATED, e.g. an aborted crew assembly), an idle agent that gets
 * work (IDLE → READY|BUSY), and agents that are given up on without a drain
 * (HIBERNATING|UNHEALTHY → TERMINATED: they run nothing that could be drained).
 */
export const AGENT_TRANSITIONS: Readonly<Record<AgentState, readonly AgentState[]>> = {
  PROVISIONING: ["WARMING", "UNHEALTHY", "TERMINATED"],
  WARMING: ["READY", "UNHEALTHY", "TERMINATED"],
  READY: ["BUSY", "IDLE", "DRAINING", "UNHEALTHY"],
  BUSY: ["READY", "DRAINING", "UNHEALTHY"],
  IDLE: ["READY", "BUSY", "HIBERNATING", "DRAINING", "UNHEALTHY"],
  HIBERNATING: ["WARMING", "TERMINATED"],
  DRAINING: ["TERMINATED", "UNHEALTHY"],
  UNHEALTHY: ["PROVISIONING", "TERMINATED"],
  TERMINATED: [],
};

const LEGAL: ReadonlyMap<AgentState, ReadonlySet<AgentState>> = new Map(
  AGENT_STATES.map((from) => [from, new Set(AGENT_TRANSITIONS[from])]),
);

export function canTransition(from: AgentState, to: AgentState): boolean {
  return LEGAL.get(from)?.has(to) ?? false;
}

/** Throws ILLEGAL_TRANSITION (HTTP 409) naming both states when `from → to` is not in the table. */
export function assertTransition(from: AgentState, to: AgentState, agentId?: string): void {
  if (!canTransition(from, to)) {
    const who = agentId === undefined ? "agent" : `agent ${agentId}`;
    throw new FactoryError("ILLEGAL_TRANSITION", `${who} cannot go from ${from} to ${to}`, {
      details: { current: from, requested: to },
    });
  }
}
