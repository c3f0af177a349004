import { FactoryError } from "./errors.ts";

/** ASSEMBLING → ACTIVE ⇄ PAUSED → DISBANDING → DISBANDED (DESIGN.md). */
export const CREW_STATES = ["ASSEMBLING", "ACTIVE", "PAUSED", "DISBANDING", "DISBANDED"] as const;
export type CrewState = (typeof CREW_STATES)[number];

/**
 * Every legal transition, read from what `CrewManager` does. Beyond the diagram: an assembly
 * that fails, or that a restart interrupts, ends the crew at once (ASSEMBLING → DISBANDED: it has
 * no member left to drain); a crew is disbanded from ACTIVE or PAUSED alike. PAUSE on a crew that
 * is not ACTIVE, and RESUME on one that is not PAUSED, change nothing (they are only delivered).
 */
export const CREW_TRANSITIONS: Readonly<Record<CrewState, readonly CrewState[]>> = {
  ASSEMBLING: ["ACTIVE", "DISBANDED"],
  ACTIVE: ["PAUSED", "DISBANDING"],
  PAUSED: ["ACTIVE", "DISBANDING"],
  DISBANDING: ["DISBANDED"],
  DISBANDED: [],
};

export function canCrewTransition(from: CrewState, to: CrewState): boolean {
  return CREW_TRANSITIONS[from].includes(to);
}

/** Throws ILLEGAL_TRANSITION (HTTP 409) naming both states when `from → to` is not in the table. */
export function assertCrewTransition(from: CrewState, to: CrewState, crewId: string): void {
  if (!canCrewTransition(from, to)) {
    throw new FactoryError("ILLEGAL_TRANSITION", `crew ${crewId} cannot go from ${from} to ${to}`, {
      details: { current: from, requested: to },
    });
  }
}
