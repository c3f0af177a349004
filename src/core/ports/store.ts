import type { Agent } from "../agent.ts";
import type { Crew, CrewState } from "../crew.ts";
import type { FactoryEvent } from "../events.ts";
import type { AgentState } from "../lifecycle.ts";
import type { ListPosition } from "../list-position.ts";
import type { ProfileRecord } from "../schemas/profile.ts";
import type { LedgerEntry, LedgerKind, LedgerReportKey, LedgerReportRow } from "../ledger.ts";
import type { StoredOperatorKey } from "../operator-key.ts";
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
  /** Only agents past this place in newest-first order (`spawnedAt`, id): the next page. */
  after?: ListPosition;
  limit?: number;
}

export interface CrewQuery {
  states?: readonly CrewState[];
  /** Only crews past this place in newest-first order (`createdAt`, id): the next page. */
  after?: ListPosition;
  limit?: number;
}

export interface TaskQuery {
  states?: readonly TaskState[];
  crewId?: string;
  /** Newest first (`createdAt`, then id, descending); default oldest first. */
  newestFirst?: boolean;
  /** Only tasks past this place in the chosen order: the next page. */
  after?: ListPosition;
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

export interface LedgerReportQuery {
  /** One row per agent, crew, model, or UTC hour, day or month of `at`. */
  by: LedgerReportKey;
  /** Which entries are summed; default "usage" (what model calls cost). */
  kind?: LedgerKind;
  crewId?: string;
  agentId?: string;
  model?: string;
  /** Entries at or after this instant: an ISO string as `Date.toISOString()` writes it. */
  from?: string;
  /** Entries before this instant (exclusive), in the same form. */
  to?: string;
}

/** A reservation that no usage or release entry has fully settled: its call's outcome was never written. */
export interface OpenReservation {
  reservationId: string;
  /** The wallet the credits were held from, and go back to. */
  wallet: string;
  /** Micro-credits still held: reserved minus what usage and release entries already took. */
  micro: number;
  crewId: string | null;
  agentId: string | null;
  taskId: string | null;
  model: string | null;
}

/** A budget limit as stored; what it has spent is summed from the ledger at start. */
export interface StoredBudget {
  key: string;
  credits: number;
  periodMs: number | null;
  /** When its current period (or, without one, the budget) started. */
  windowStart: string;
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

/** What retention removes: finished tasks, events other than crew messages, crew messages (`crew.message` events). */
export type PruneKind = "tasks" | "events" | "messages";

/** One round of retention for one kind; rows outside either limit go, oldest first. */
export interface PruneQuery {
  kind: PruneKind;
  /** Rows older than this instant go: tasks by when they finished, events by `at`. An ISO string as `Date.toISOString()` writes it. */
  before?: string;
  /** Only the newest `keep` rows of the kind stay. */
  keep?: number;
  /** Most rows this call deletes (a small batch, so one call never holds the store long). */
  limit: number;
}

/** A key agents' tokens are signed with (EdDSA, Ed25519), as JWKs; the private half never leaves the factory. */
export interface StoredSigningKey {
  kid: string;
  createdAt: string;
  publicJwk: Record<string, unknown>;
  privateJwk: Record<string, unknown>;
}

/** A node as the store knows it: its id and when this life of it joined the cluster. */
export interface StoreNode {
  id: string;
  /** The node's lease's `startedAt`: tells one life of a node id from the next. */
  startedAt: string;
}

/** What a node owns rows of (a wallet is its agent's or crew's). */
export type OwnedKind = "agent" | "crew" | "task" | "wallet";

/** The unfinished rows a node owns: what it brings back at start, or takes over from a dead node. */
export interface OwnedRows {
  /** Crews not DISBANDED. */
  crews: Crew[];
  /** Agents neither TERMINATED nor HIBERNATING (sleepers change owner but stay in the store). */
  agents: Agent[];
  /** QUEUED, ASSIGNED and RUNNING tasks. */
  tasks: Task[];
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
  /** Newest first (`spawnedAt`, then id). */
  listAgents(query: AgentQuery): Promise<Agent[]>;
  getCrew(id: string): Promise<Crew | undefined>;
  /** Newest first (`createdAt`, then id). */
  listCrews(query: CrewQuery): Promise<Crew[]>;
  getTask(id: string): Promise<Task | undefined>;
  getTaskByIdempotencyKey(key: string): Promise<Task | undefined>;
  /** Oldest first (`createdAt`, then id), or newest first with `newestFirst`. */
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
  /**
   * Sums of one kind of entry grouped by `by`: by amount, largest first, for agents, crews and
   * models (ties by key); by key, oldest first, for periods.
   */
  ledgerReport(query: LedgerReportQuery): Promise<LedgerReportRow[]>;
  /** Reservations whose usage and release entries sum to less than was reserved, in `seq` order. */
  openReservations(): Promise<OpenReservation[]>;
  /** Budget limits set through the API or the config (key: global, crew:<id>, agent:<id>). */
  putBudget(budget: StoredBudget): Promise<void>;
  deleteBudget(key: string): Promise<void>;
  listBudgets(): Promise<StoredBudget[]>;
  /** The keys agents' tokens are signed with, newest first (every node of a cluster signs with the newest). */
  listSigningKeys(): Promise<StoredSigningKey[]>;
  /** Keeps a new signing key; one already kept under its kid stays as it is. */
  putSigningKey(key: StoredSigningKey): Promise<void>;
  /** Creates an operator key (ids are unique: a second put of one id replaces it). */
  putOperatorKey(key: StoredOperatorKey): Promise<void>;
  /** Removes an operator key; true when there was one. */
  deleteOperatorKey(id: string): Promise<boolean>;
  /** Every operator key, oldest first (`createdAt`, then id). */
  listOperatorKeys(): Promise<StoredOperatorKey[]>;
  /**
   * Deletes at most `limit` rows of one kind that fall outside `before` or `keep`, oldest first,
   * and says how many went. Only finished tasks (SUCCEEDED, FAILED, CANCELLED, DEAD) are ever
   * deleted, never unfinished ones; ledger entries, agents, crews, wallets, profiles and crew
   * context are never touched.
   */
  prune(query: PruneQuery): Promise<number>;
  /**
   * Only in a store several nodes share (PostgreSQL). Makes `node` this store's one writer:
   * every agent, crew and task row it writes names the node as its owner; rows no node owns yet
   * (written before the store was shared) become its own; and the node's fence moves on, so a
   * process still writing under this id from an earlier life is refused (`NODE_FENCED`). Event
   * and ledger seqs are then given by the store, in commit order, and written back into the
   * batch's events and entries. Returns the rows the node owns.
   */
  attachNode?(node: StoreNode): Promise<OwnedRows>;
  /**
   * Only in a shared store, once attached: moves the unfinished rows of `dead` (a node whose
   * lease ran out) to the attached node in one transaction and fences `dead` out, unless
   * another node took them first or that life of `dead` never attached (then undefined).
   */
  adoptNode?(dead: StoreNode): Promise<OwnedRows | undefined>;
  /**
   * Only in a shared store, once attached: undefined while the attached node's fence stands,
   * else why it fell (another node took its rows over, or another process attached under its id).
   */
  fenceLost?(): Promise<string | undefined>;
  /** Only in a shared store: the node that owns an agent, crew, task or wallet (by its address) row (null when none does), undefined when there is no such row. */
  ownerOf?(kind: OwnedKind, id: string): Promise<string | null | undefined>;
  close(): Promise<void>;
}
