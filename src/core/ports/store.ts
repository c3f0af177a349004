import type { Agent } from "../agent.ts";
import type { Crew, CrewState } from "../crew.ts";
import type { FactoryEvent } from "../events.ts";
import type { AgentState } from "../lifecycle.ts";
import type { ProfileRecord } from "../schemas/profile.ts";
import type { LedgerEntry } from "../ledger.ts";
import type { Task } from "../task.ts";
import type { TaskState } from "../task-states.ts";
import type { Wallet } from "../wallet.ts";

/** One durable write. Records are whole (upserts), so a later write of the same id supersedes an earlier one. */
export type StoreWrite =
  | { kind: "profile"; value: ProfileRecord }
  | { kind: "agent"; value: Agent }
  | { kind: "crew"; value: Crew }
  | { kind: "task"; value: Task }
  | { kind: "wallet"; value: Wallet }
  | { kind: "event"; value: FactoryEvent }
  | { kind: "context"; crewId: string; key: string; value: unknown; deleted: boolean }
  /** Append-only: an entry is written once and never changed. */
  | { kind: "ledger"; value: LedgerEntry };

export interface AgentQuery {
  states?: readonly AgentState[];
  role?: string;
  crewId?: string;
  limit?: number;
}

export interface TaskQuery {
  states?: readonly TaskState[];
  crewId?: string;
  limit?: number;
}

export interface LedgerQuery {
  /** Entries that debit or credit this wallet. */
  wallet?: string;
  crewId?: string;
  agentId?: string;
  kinds?: readonly string[];
  afterSeq?: number;
  limit?: number;
}

export interface EventQuery {
  afterSeq?: number;
  crewId?: string;
  agentId?: string;
  taskId?: string;
  /** Exact types, or families as `agent.*`; empty or absent means every type. */
  types?: readonly string[];
  limit?: number;
}

/**
 * Durable state. The factory keeps hot state in memory and writes here in batches
 * (`apply` is one transaction), so an adapter needs only upserts and a few indexed reads.
 * Every adapter passes test/conformance/store.conformance.ts.
 */
export interface Store {
  /** Creates or upgrades the schema; idempotent. */
  migrate(): Promise<void>;
  /** Applies the writes atomically, in order. */
  apply(writes: readonly StoreWrite[]): Promise<void>;
  /** Every version of every profile, oldest first. */
  listProfiles(): Promise<ProfileRecord[]>;
  getAgent(id: string): Promise<Agent | undefined>;
  /** Newest first. */
  listAgents(query: AgentQuery): Promise<Agent[]>;
  getCrew(id: string): Promise<Crew | undefined>;
  listCrews(query: { states?: readonly CrewState[]; limit?: number }): Promise<Crew[]>;
  getTask(id: string): Promise<Task | undefined>;
  getTaskByIdempotencyKey(key: string): Promise<Task | undefined>;
  /** Oldest first. */
  listTasks(query: TaskQuery): Promise<Task[]>;
  getWallet(address: string): Promise<Wallet | undefined>;
  /** In `seq` order. */
  listEvents(query: EventQuery): Promise<FactoryEvent[]>;
  /** The highest event seq stored, 0 when none. */
  lastEventSeq(): Promise<number>;
  getContext(crewId: string): Promise<Record<string, unknown>>;
  /** Ledger entries in `seq` order. */
  listLedger(query: LedgerQuery): Promise<LedgerEntry[]>;
  /** Every wallet's balance in micro-credits (credited minus debited), and the last seq. */
  ledgerTotals(): Promise<{ balances: Map<string, number>; lastSeq: number }>;
  close(): Promise<void>;
}
