import { upgradeAgent, type Agent } from "../../../core/agent.ts";
import type { Crew } from "../../../core/crew.ts";
import { FactoryError } from "../../../core/errors.ts";
import type { FactoryEvent } from "../../../core/events.ts";
import { fromMicro, toMicro, type LedgerEntry, type LedgerReportRow } from "../../../core/ledger.ts";
import type { AgentQuery, CrewQuery, EventQuery, LedgerQuery, LedgerReportQuery, OpenReservation, PruneQuery, Store, StoredBudget, StoredSigningKey, StoreWrite, TaskQuery } from "../../../core/ports/store.ts";
import type { ProfileRecord } from "../../../core/schemas/profile.ts";
import { upgradeTask, type Task } from "../../../core/task.ts";
import type { Wallet } from "../../../core/wallet.ts";
import { ledgerReport, ledgerTotals, listLedger, openReservations } from "./memory-ledger-reads.ts";
import { pruneTables } from "./memory-prune.ts";
import { MemoryTables, parse, type BudgetRow, type OperatorKeyRow } from "./memory-tables.ts";
import type { OperatorRole, StoredOperatorKey } from "../../../core/operator-key.ts";
import { applyWrites } from "./memory-writes.ts";
import { compare, nullableNum, num, past, take, text } from "./sqlite-semantics.ts";

/**
 * A Store held in this process's memory, for tests and for embedding the factory where nothing
 * needs to outlive the process: nothing is written anywhere, and everything is gone at `close()`
 * or exit. It is the reference implementation of the port and keeps the SQL store's semantics
 * row for row (it passes the same conformance suite). Records are kept as JSON text, as the SQL
 * store keeps them, so a caller that changes an object after writing it, or one it read, changes
 * nothing stored, and what comes back is what JSON keeps (no `undefined` fields, no class instances).
 */
export function createMemoryStore(): Store {
  return new MemoryStore();
}

class MemoryStore implements Store {
  #closed = false;
  readonly #tables = new MemoryTables();

  async migrate(): Promise<void> {
    this.#open();
  }

  async apply(writes: readonly StoreWrite[]): Promise<void> {
    this.#open();
    if (writes.length === 0) return;
    applyWrites(this.#tables, writes);
  }

  async listProfiles(): Promise<ProfileRecord[]> {
    this.#open();
    const rows = [...this.#tables.profiles.values()].sort((a, b) => compare(a.name, b.name) || a.version - b.version);
    return rows.map(parse<ProfileRecord>);
  }

  async getAgent(id: string): Promise<Agent | undefined> {
    this.#open();
    const row = this.#tables.agents.get(id);
    return row === undefined ? undefined : upgradeAgent(parse<Agent>(row));
  }

  async listAgents(query: AgentQuery): Promise<Agent[]> {
    this.#open();
    const rows = [...this.#tables.agents.values()].filter(
      (r) =>
        (query.states === undefined || (query.states as readonly string[]).includes(r.state)) &&
        (query.role === undefined || r.role === query.role) &&
        (query.crewId === undefined || r.crewId === query.crewId) &&
        (query.after === undefined || past(r.spawnedAt, r.id, query.after, true)),
    );
    rows.sort((a, b) => compare(b.spawnedAt, a.spawnedAt) || compare(b.id, a.id));
    return take(rows, query.limit ?? 1_000_000).map((r) => upgradeAgent(parse<Agent>(r)));
  }

  async getCrew(id: string): Promise<Crew | undefined> {
    this.#open();
    const row = this.#tables.crews.get(id);
    return row === undefined ? undefined : parse<Crew>(row);
  }

  async listCrews(query: CrewQuery): Promise<Crew[]> {
    this.#open();
    const rows = [...this.#tables.crews.values()].filter(
      (r) => (query.states === undefined || (query.states as readonly string[]).includes(r.state)) && (query.after === undefined || past(r.createdAt, r.id, query.after, true)),
    );
    rows.sort((a, b) => compare(b.createdAt, a.createdAt) || compare(b.id, a.id));
    return take(rows, query.limit ?? 1_000_000).map(parse<Crew>);
  }

  async getTask(id: string): Promise<Task | undefined> {
    this.#open();
    const row = this.#tables.tasks.get(id);
    return row === undefined ? undefined : upgradeTask(parse<Task>(row));
  }

  async getTaskByIdempotencyKey(key: string): Promise<Task | undefined> {
    this.#open();
    const id = this.#tables.taskKeys.get(key);
    const row = id === undefined ? undefined : this.#tables.tasks.get(id);
    return row === undefined ? undefined : upgradeTask(parse<Task>(row));
  }

  async listTasks(query: TaskQuery): Promise<Task[]> {
    this.#open();
    const newest = query.newestFirst === true;
    const rows = [...this.#tables.tasks.values()].filter(
      (r) =>
        (query.states === undefined || (query.states as readonly string[]).includes(r.state)) &&
        (query.crewId === undefined || r.crewId === query.crewId) &&
        (query.after === undefined || past(r.createdAt, r.id, query.after, newest)),
    );
    const sign = newest ? -1 : 1;
    rows.sort((a, b) => sign * (compare(a.createdAt, b.createdAt) || compare(a.id, b.id)));
    return take(rows, query.limit ?? 1_000_000).map((row) => upgradeTask(parse<Task>(row)));
  }

  async getWallet(address: string): Promise<Wallet | undefined> {
    this.#open();
    const row = this.#tables.wallets.get(address);
    return row === undefined ? undefined : parse<Wallet>(row);
  }

  async listEvents(query: EventQuery): Promise<FactoryEvent[]> {
    this.#open();
    const afterSeq = query.afterSeq ?? 0;
    const types = query.types ?? [];
    const exact = new Set(types.filter((t) => !t.endsWith(".*")));
    const families = types.filter((t) => t.endsWith(".*")).map((t) => t.slice(0, -1));
    const typeMatches = (type: string): boolean => types.length === 0 || exact.has(type) || families.some((f) => type.startsWith(f));
    const limit = query.limit ?? 1000;
    const out: FactoryEvent[] = [];
    for (const r of this.#tables.events) {
      if (limit >= 0 && out.length >= limit) break;
      if (r.seq <= afterSeq) continue;
      if (query.crewId !== undefined && r.crewId !== query.crewId) continue;
      if (query.agentId !== undefined && r.agentId !== query.agentId) continue;
      if (query.taskId !== undefined && r.taskId !== query.taskId) continue;
      if (!typeMatches(r.type)) continue;
      out.push(parse<FactoryEvent>(r));
    }
    return out;
  }

  async lastEventSeq(): Promise<number> {
    this.#open();
    return this.#tables.events.at(-1)?.seq ?? 0;
  }

  async getContext(crewId: string): Promise<Record<string, unknown>> {
    this.#open();
    const entries = [...(this.#tables.context.get(crewId) ?? new Map<string, string>())].sort(([a], [b]) => compare(a, b));
    return Object.fromEntries(entries.map(([key, value]) => [key, JSON.parse(value) as unknown]));
  }

  async listLedger(query: LedgerQuery): Promise<LedgerEntry[]> {
    this.#open();
    return listLedger(this.#tables.ledger, query);
  }

  async ledgerTotals(): Promise<{ balances: Map<string, number>; lastSeq: number }> {
    this.#open();
    return ledgerTotals(this.#tables.ledger);
  }

  async ledgerReport(query: LedgerReportQuery): Promise<LedgerReportRow[]> {
    this.#open();
    return ledgerReport(this.#tables.ledger, query);
  }

  async openReservations(): Promise<OpenReservation[]> {
    this.#open();
    return openReservations(this.#tables.ledger);
  }

  async putBudget(budget: StoredBudget): Promise<void> {
    this.#open();
    const row: BudgetRow = {
      key: text(budget.key, "budgets.key"),
      creditsMicro: num(toMicro(budget.credits), "budgets.credits_micro"),
      periodMs: nullableNum(budget.periodMs, "budgets.period_ms"),
      windowStart: text(budget.windowStart, "budgets.window_start"),
    };
    this.#tables.budgets.set(row.key, row);
  }

  async deleteBudget(key: string): Promise<void> {
    this.#open();
    this.#tables.budgets.delete(key);
  }

  async listBudgets(): Promise<StoredBudget[]> {
    this.#open();
    const rows = [...this.#tables.budgets.values()].sort((a, b) => compare(a.key, b.key));
    return rows.map((r) => ({ key: r.key, credits: fromMicro(r.creditsMicro), periodMs: r.periodMs, windowStart: r.windowStart }));
  }

  async listSigningKeys(): Promise<StoredSigningKey[]> {
    this.#open();
    return [...this.#tables.signingKeys.values()].sort((a, b) => compare(b.createdAt, a.createdAt) || compare(b.kid, a.kid)).map((k) => structuredClone(k));
  }

  async putSigningKey(key: StoredSigningKey): Promise<void> {
    this.#open();
    if (!this.#tables.signingKeys.has(key.kid)) this.#tables.signingKeys.set(key.kid, structuredClone(key));
  }

  async putOperatorKey(key: StoredOperatorKey): Promise<void> {
    this.#open();
    const row: OperatorKeyRow = {
      id: text(key.id, "operator_keys.id"),
      name: text(key.name, "operator_keys.name"),
      role: text(key.role, "operator_keys.role"),
      crews: key.crews === null ? null : JSON.stringify(key.crews),
      secretHash: text(key.secretHash, "operator_keys.secret_hash"),
      createdAt: text(key.createdAt, "operator_keys.created_at"),
    };
    this.#tables.operatorKeys.set(row.id, row);
  }

  async deleteOperatorKey(id: string): Promise<boolean> {
    this.#open();
    return this.#tables.operatorKeys.delete(id);
  }

  async listOperatorKeys(): Promise<StoredOperatorKey[]> {
    this.#open();
    const rows = [...this.#tables.operatorKeys.values()].sort((a, b) => compare(a.createdAt, b.createdAt) || compare(a.id, b.id));
    return rows.map((r) => ({ id: r.id, name: r.name, role: r.role as OperatorRole, crews: r.crews === null ? null : (JSON.parse(r.crews) as string[]), createdAt: r.createdAt, secretHash: r.secretHash }));
  }

  async prune(query: PruneQuery): Promise<number> {
    return pruneTables(this.#tables, query);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Nothing outlives the store: let the memory go.
    this.#tables.clear();
  }

  #open(): void {
    if (this.#closed) throw new FactoryError("STORE_UNAVAILABLE", "the memory store is closed");
  }
}
