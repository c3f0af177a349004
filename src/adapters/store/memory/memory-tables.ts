import type { StoredSigningKey } from "../../../core/ports/store.ts";
// One row per record, as the SQL tables hold them: the columns filtered, ordered and summed on,
// and the record whole as JSON in `data`.
export interface AgentRow { id: string; state: string; role: string; profile: string; crewId: string | null; spawnedAt: string; data: string }
export interface CrewRow { id: string; state: string; name: string; createdAt: string; data: string }
export interface TaskRow { id: string; state: string; crewId: string | null; createdAt: string; idempotencyKey: string | null; finishedAt: string | null; data: string }
export interface EventRow { seq: number; type: string; at: string; agentId: string | null; crewId: string | null; taskId: string | null; data: string }
export interface LedgerRow {
  seq: number;
  id: string;
  kind: string;
  debit: string;
  credit: string;
  micro: number;
  crewId: string | null;
  agentId: string | null;
  taskId: string | null;
  reservationId: string | null;
  model: string | null;
  tokensIn: number | null;
  tokensOut: number | null;
  at: string;
  data: string;
}
export interface BudgetRow { key: string; creditsMicro: number; periodMs: number | null; windowStart: string }
export interface OperatorKeyRow { id: string; name: string; role: string; crews: string | null; secretHash: string; createdAt: string }

/** The memory store's tables: one map (or seq-ordered array) per SQL table, and the indexes SQL would keep. */
export class MemoryTables {
  /** By `name\0version`. */
  readonly profiles = new Map<string, { name: string; version: number; data: string }>();
  readonly agents = new Map<string, AgentRow>();
  readonly crews = new Map<string, CrewRow>();
  readonly tasks = new Map<string, TaskRow>();
  /** Idempotency key → task id, for tasks that have one (unique, as the SQL index). */
  readonly taskKeys = new Map<string, string>();
  readonly wallets = new Map<string, { address: string; ownerId: string; data: string }>();
  /** In seq order. */
  events: EventRow[] = [];
  /** In seq order; append-only. */
  readonly ledger: LedgerRow[] = [];
  readonly ledgerIds = new Set<string>();
  /** Crew id → key → value as JSON. */
  readonly context = new Map<string, Map<string, string>>();
  readonly budgets = new Map<string, BudgetRow>();
  readonly signingKeys = new Map<string, StoredSigningKey>();
  readonly operatorKeys = new Map<string, OperatorKeyRow>();

  /** Lets every row go. */
  clear(): void {
    this.profiles.clear();
    this.agents.clear();
    this.crews.clear();
    this.tasks.clear();
    this.taskKeys.clear();
    this.wallets.clear();
    this.events = [];
    this.ledger.length = 0;
    this.ledgerIds.clear();
    this.context.clear();
    this.budgets.clear();
    this.signingKeys.clear();
    this.operatorKeys.clear();
  }
}

/** A row's record, parsed from its JSON. */
export const parse = <T>(row: { data: string }): T => JSON.parse(row.data) as T;
