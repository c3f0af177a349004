// What a chaos run is asked to do and what it records as it goes: the command parses the first, the run fills the rest and the report reads them.

/** The chaos command's settings, parsed from its flags. */
export interface ChaosOptions {
  durationMs: number;
  killRate: number;
  freezeRatio: number;
  freezeForMs: number;
  latencyMs: number;
  rate: number;
  agents: number;
  workMs: number;
  profile: string;
  graceMs: number;
  keep: boolean;
}

export type ActionKind = "kill" | "freeze";

export interface ChaosAction {
  action: ActionKind;
  agentId: string;
  pid: number | null;
  /** Server time of the action (ISO). */
  at: string;
}

export interface Submission {
  n: number;
  key: string;
  text: string;
  taskId?: string;
  /** Set when it was never accepted. */
  error?: string;
}
