import { upgradeAgent, type Agent } from "../../../core/agent.ts";
import type { Crew } from "../../../core/crew.ts";
import { FactoryError } from "../../../core/errors.ts";
import type { FactoryEvent } from "../../../core/events.ts";
import { fromMicro, toMicro, type LedgerEntry, type LedgerReportRow } from "../../../core/ledger.ts";
import type { ListPosition } from "../../../core/list-position.ts";
import type { AgentQuery, CrewQuery, EventQuery, LedgerQuery, LedgerReportQuery, OpenReservation, PruneQuery, Store, StoredBudget, StoreWrite, TaskQuery } from "../../../core/ports/store.ts";
import type { ProfileRecord } from "../../../core/schemas/profile.ts";
import type { Task } from "../../../core/task.ts";
import { FINAL_TASK_STATES } from "../../../core/task-states.ts";
import type { Wallet } from "../../../core/wallet.ts";
import { lastWritePerRecord } from "../../../core/last-write-per-record.ts";

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

/** The event type crew messages are kept as (retention's "messages"). */
const MESSAGE_EVENT = "crew.message";

/** How much of an ISO `at` (`2026-01-31T09:15:00.000Z`) names its UTC hour, day or month. */
const PERIOD_CHARS = { hour: 13, day: 10, month: 7 } as const;

const FINAL: ReadonlySet<string> = new Set(FINAL_TASK_STATES);

/** A column value as SQL holds it: text, a number, or null. */
type Cell = string | number | null;

// One row per record, as the SQL tables hold them: the columns filtered, ordered and summed on,
// and the record whole as JSON in `data`.
interface AgentRow { id: string; state: string; role: string; profile: string; crewId: string | null; spawnedAt: string; data: string }
interface CrewRow { id: string; state: string; name: string; createdAt: string; data: string }
interface TaskRow { id: string; state: string; crewId: string | null; createdAt: string; idempotencyKey: string | null; finishedAt: string | null; data: string }
interface EventRow { seq: number; type: string; at: string; agentId: string | null; crewId: string | null; taskId: string | null; data: string }
interface LedgerRow {
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
interface BudgetRow { key: string; creditsMicro: number; periodMs: number | null; windowStart: string }

class MemoryStore implements Store {
  #closed = false;
  /** By `name\0version`. */
  readonly #profiles = new Map<string, { name: string; version: number; data: string }>();
  readonly #agents = new Map<string, AgentRow>();
  readonly #crews = new Map<string, CrewRow>();
  readonly #tasks = new Map<string, TaskRow>();
  /** Idempotency key → task id, for tasks that have one (unique, as the SQL index). */
  readonly #taskKeys = new Map<string, string>();
  readonly #wallets = new Map<string, { address: string; ownerId: string; data: string }>();
  /** In seq order. */
  #events: EventRow[] = [];
  readonly #eventSeqs = new Set<number>();
  /** In seq order; append-only. */
  readonly #ledger: LedgerRow[] = [];
  readonly #ledgerSeqs = new Set<number>();
  readonly #ledgerIds = new Set<string>();
  /** Crew id → key → value as JSON. */
  readonly #context = new Map<string, Map<string, string>>();
  readonly #budgets = new Map<string, BudgetRow>();

  async migrate(): Promise<void> {
    this.#open();
  }

  async apply(writes: readonly StoreWrite[]): Promise<void> {
    this.#open();
    if (writes.length === 0) return;
    // Every check runs before anything changes, so a refused batch leaves nothing behind.
    const commits: Array<() => void> = [];
    const newTaskKeys = new Set<string>();
    const newLedgerIds = new Set<string>();
    for (const w of lastWritePerRecord(writes)) {
      switch (w.kind) {
        case "profile": {
          const p = w.value;
          const row = { name: text(p.name, "profiles.name"), version: num(p.version, "profiles.version"), data: json(p, "profiles.data") };
          text(p.createdAt, "profiles.created_at");
          const key = `${row.name}\0${row.version}`;
          // Insert-only: a re-written version is the version already kept.
          commits.push(() => {
            if (!this.#profiles.has(key)) this.#profiles.set(key, row);
          });
          break;
        }
        case "agent": {
          const a = w.value;
          const row: AgentRow = {
            id: text(a.id, "agents.id"),
            state: text(a.state, "agents.state"),
            role: text(a.role, "agents.role"),
            profile: text(a.profile, "agents.profile"),
            crewId: nullableText(a.crewId, "agents.crew_id"),
            spawnedAt: text(a.spawnedAt, "agents.spawned_at"),
            data: json(a, "agents.data"),
          };
          // As the SQL upsert: role, profile and spawnedAt are kept from the first write.
          commits.push(() => {
            const old = this.#agents.get(row.id);
            this.#agents.set(row.id, old === undefined ? row : { ...old, state: row.state, crewId: row.crewId, data: row.data });
          });
          break;
        }
        case "crew": {
          const c = w.value;
          const row: CrewRow = { id: text(c.id, "crews.id"), state: text(c.state, "crews.state"), name: text(c.name, "crews.name"), createdAt: text(c.createdAt, "crews.created_at"), data: json(c, "crews.data") };
          commits.push(() => {
            const old = this.#crews.get(row.id);
            this.#crews.set(row.id, old === undefined ? row : { ...old, state: row.state, data: row.data });
          });
          break;
        }
        case "task": {
          const t = w.value;
          const row: TaskRow = {
            id: text(t.id, "tasks.id"),
            state: text(t.state, "tasks.state"),
            crewId: nullableText(t.crewId, "tasks.crew_id"),
            createdAt: text(t.createdAt, "tasks.created_at"),
            idempotencyKey: nullableText(t.idempotencyKey, "tasks.idempotency_key"),
            finishedAt: nullableText(t.finishedAt, "tasks.finished_at"),
            data: json(t, "tasks.data"),
          };
          const old = this.#tasks.get(row.id);
          if (old === undefined && row.idempotencyKey !== null) {
            if (this.#taskKeys.has(row.idempotencyKey) || newTaskKeys.has(row.idempotencyKey)) throw constraint("UNIQUE", "tasks.idempotency_key");
            newTaskKeys.add(row.idempotencyKey);
          }
          // As the SQL upsert: crewId, createdAt and the idempotency key are kept from the first write.
          commits.push(() => {
            if (old === undefined) {
              this.#tasks.set(row.id, row);
              if (row.idempotencyKey !== null) this.#taskKeys.set(row.idempotencyKey, row.id);
            } else {
              const current = this.#tasks.get(row.id) ?? old;
              this.#tasks.set(row.id, { ...current, state: row.state, finishedAt: row.finishedAt, data: row.data });
            }
          });
          break;
        }
        case "wallet": {
          const v = w.value;
          const row = { address: text(v.address, "wallets.address"), ownerId: text(v.ownerId, "wallets.owner_id"), data: json(v, "wallets.data") };
          commits.push(() => {
            const old = this.#wallets.get(row.address);
            this.#wallets.set(row.address, old === undefined ? row : { ...old, data: row.data });
          });
          break;
        }
        case "event": {
          const e = w.value;
          const row: EventRow = {
            seq: num(e.seq, "events.seq"),
            type: text(e.type, "events.type"),
            at: text(e.at, "events.at"),
            agentId: nullableText(e.agentId, "events.agent_id"),
            crewId: nullableText(e.crewId, "events.crew_id"),
            taskId: nullableText(e.taskId, "events.task_id"),
            data: json(e, "events.data"),
          };
          // Insert-only: a re-written seq is the event already kept.
          commits.push(() => {
            if (this.#eventSeqs.has(row.seq)) return;
            this.#eventSeqs.add(row.seq);
            insertBySeq(this.#events, row);
          });
          break;
        }
        case "ledger": {
          const e = w.value;
          const row: LedgerRow = {
            seq: num(e.seq, "ledger.seq"),
            id: text(e.id, "ledger.id"),
            kind: text(e.kind, "ledger.kind"),
            debit: text(e.debit, "ledger.debit"),
            credit: text(e.credit, "ledger.credit"),
            micro: num(toMicro(e.amount), "ledger.micro"),
            crewId: nullableText(e.crewId, "ledger.crew_id"),
            agentId: nullableText(e.agentId, "ledger.agent_id"),
            taskId: nullableText(e.taskId, "ledger.task_id"),
            reservationId: nullableText(e.reservationId, "ledger.reservation_id"),
            model: nullableText(e.model, "ledger.model"),
            tokensIn: nullableNum(e.tokensIn, "ledger.tokens_in"),
            tokensOut: nullableNum(e.tokensOut, "ledger.tokens_out"),
            at: text(e.at, "ledger.at"),
            data: json(e, "ledger.data"),
          };
          // Append-only: a re-written seq (a retried batch) is the entry already kept; ids are unique.
          if (this.#ledgerSeqs.has(row.seq)) break;
          if (this.#ledgerIds.has(row.id) || newLedgerIds.has(row.id)) throw constraint("UNIQUE", "ledger.id");
          newLedgerIds.add(row.id);
          commits.push(() => {
            this.#ledgerSeqs.add(row.seq);
            this.#ledgerIds.add(row.id);
            insertBySeq(this.#ledger, row);
          });
          break;
        }
        case "context": {
          if (w.deleted) {
            const { crewId, key } = w;
            commits.push(() => {
              this.#context.get(crewId)?.delete(key);
            });
          } else {
            const crewId = text(w.crewId, "crew_context.crew_id");
            const key = text(w.key, "crew_context.key");
            const value = json(w.value, "crew_context.value");
            commits.push(() => {
              let map = this.#context.get(crewId);
              if (map === undefined) this.#context.set(crewId, (map = new Map<string, string>()));
              map.set(key, value);
            });
          }
          break;
        }
      }
    }
    for (const commit of commits) commit();
  }

  async listProfiles(): Promise<ProfileRecord[]> {
    this.#open();
    const rows = [...this.#profiles.values()].sort((a, b) => compare(a.name, b.name) || a.version - b.version);
    return rows.map(parse<ProfileRecord>);
  }

  async getAgent(id: string): Promise<Agent | undefined> {
    this.#open();
    const row = this.#agents.get(id);
    return row === undefined ? undefined : upgradeAgent(parse<Agent>(row));
  }

  async listAgents(query: AgentQuery): Promise<Agent[]> {
    this.#open();
    const rows = [...this.#agents.values()].filter(
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
    const row = this.#crews.get(id);
    return row === undefined ? undefined : parse<Crew>(row);
  }

  async listCrews(query: CrewQuery): Promise<Crew[]> {
    this.#open();
    const rows = [...this.#crews.values()].filter(
      (r) => (query.states === undefined || (query.states as readonly string[]).includes(r.state)) && (query.after === undefined || past(r.createdAt, r.id, query.after, true)),
    );
    rows.sort((a, b) => compare(b.createdAt, a.createdAt) || compare(b.id, a.id));
    return take(rows, query.limit ?? 1_000_000).map(parse<Crew>);
  }

  async getTask(id: string): Promise<Task | undefined> {
    this.#open();
    const row = this.#tasks.get(id);
    return row === undefined ? undefined : parse<Task>(row);
  }

  async getTaskByIdempotencyKey(key: string): Promise<Task | undefined> {
    this.#open();
    const id = this.#taskKeys.get(key);
    const row = id === undefined ? undefined : this.#tasks.get(id);
    return row === undefined ? undefined : parse<Task>(row);
  }

  async listTasks(query: TaskQuery): Promise<Task[]> {
    this.#open();
    const newest = query.newestFirst === true;
    const rows = [...this.#tasks.values()].filter(
      (r) =>
        (query.states === undefined || (query.states as readonly string[]).includes(r.state)) &&
        (query.crewId === undefined || r.crewId === query.crewId) &&
        (query.after === undefined || past(r.createdAt, r.id, query.after, newest)),
    );
    const sign = newest ? -1 : 1;
    rows.sort((a, b) => sign * (compare(a.createdAt, b.createdAt) || compare(a.id, b.id)));
    return take(rows, query.limit ?? 1_000_000).map(parse<Task>);
  }

  async getWallet(address: string): Promise<Wallet | undefined> {
    this.#open();
    const row = this.#wallets.get(address);
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
    for (const r of this.#events) {
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
    return this.#events.at(-1)?.seq ?? 0;
  }

  async getContext(crewId: string): Promise<Record<string, unknown>> {
    this.#open();
    const entries = [...(this.#context.get(crewId) ?? new Map<string, string>())].sort(([a], [b]) => compare(a, b));
    return Object.fromEntries(entries.map(([key, value]) => [key, JSON.parse(value) as unknown]));
  }

  async listLedger(query: LedgerQuery): Promise<LedgerEntry[]> {
    this.#open();
    const afterSeq = query.afterSeq ?? 0;
    const kinds = query.kinds !== undefined && query.kinds.length > 0 ? new Set(query.kinds) : undefined;
    const limit = query.limit ?? 1000;
    const out: LedgerEntry[] = [];
    for (const r of this.#ledger) {
      if (limit >= 0 && out.length >= limit) break;
      if (r.seq <= afterSeq) continue;
      if (query.wallet !== undefined && r.debit !== query.wallet && r.credit !== query.wallet) continue;
      if (query.crewId !== undefined && r.crewId !== query.crewId) continue;
      if (query.agentId !== undefined && r.agentId !== query.agentId) continue;
      if (kinds !== undefined && !kinds.has(r.kind)) continue;
      out.push(parse<LedgerEntry>(r));
    }
    return out;
  }

  async ledgerTotals(): Promise<{ balances: Map<string, number>; lastSeq: number }> {
    this.#open();
    const balances = new Map<string, number>();
    for (const r of this.#ledger) balances.set(r.credit, (balances.get(r.credit) ?? 0) + r.micro);
    for (const r of this.#ledger) balances.set(r.debit, (balances.get(r.debit) ?? 0) - r.micro);
    return { balances, lastSeq: this.#ledger.at(-1)?.seq ?? 0 };
  }

  async ledgerReport(query: LedgerReportQuery): Promise<LedgerReportRow[]> {
    this.#open();
    const kind = query.kind ?? "usage";
    const by = query.by;
    const keyOf = (r: LedgerRow): string | null =>
      by === "agent" ? r.agentId : by === "crew" ? r.crewId : by === "model" ? r.model : r.at.slice(0, PERIOD_CHARS[by]);
    const groups = new Map<string | null, { key: string | null; entries: number; micro: number; tokensIn: number; tokensOut: number }>();
    for (const r of this.#ledger) {
      if (r.kind !== kind) continue;
      if (query.crewId !== undefined && r.crewId !== query.crewId) continue;
      if (query.agentId !== undefined && r.agentId !== query.agentId) continue;
      if (query.model !== undefined && r.model !== query.model) continue;
      if (query.from !== undefined && r.at < query.from) continue;
      if (query.to !== undefined && r.at >= query.to) continue;
      const key = keyOf(r);
      let g = groups.get(key);
      if (g === undefined) groups.set(key, (g = { key, entries: 0, micro: 0, tokensIn: 0, tokensOut: 0 }));
      g.entries += 1;
      g.micro += r.micro;
      g.tokensIn += r.tokensIn ?? 0;
      g.tokensOut += r.tokensOut ?? 0;
    }
    const rows = [...groups.values()];
    const period = by === "hour" || by === "day" || by === "month";
    // Amounts largest first, null keys last, then by key; periods by key (never null: `at` is required).
    rows.sort(period ? (a, b) => compare(a.key, b.key) : (a, b) => b.micro - a.micro || Number(a.key === null) - Number(b.key === null) || compare(a.key, b.key));
    return rows.map((g) => ({ key: g.key, entries: g.entries, amount: fromMicro(g.micro), tokensIn: g.tokensIn, tokensOut: g.tokensOut }));
  }

  async openReservations(): Promise<OpenReservation[]> {
    this.#open();
    const held = new Map<string, number>();
    for (const r of this.#ledger) {
      if (r.reservationId === null) continue;
      const delta = r.kind === "reservation" ? r.micro : r.kind === "usage" || r.kind === "release" ? -r.micro : 0;
      held.set(r.reservationId, (held.get(r.reservationId) ?? 0) + delta);
    }
    const out: OpenReservation[] = [];
    for (const r of this.#ledger) {
      if (r.kind !== "reservation" || r.reservationId === null) continue;
      const micro = held.get(r.reservationId) ?? 0;
      if (micro <= 0) continue;
      out.push({ reservationId: r.reservationId, wallet: r.debit, micro, crewId: r.crewId, agentId: r.agentId, taskId: r.taskId, model: r.model });
    }
    return out;
  }

  async putBudget(budget: StoredBudget): Promise<void> {
    this.#open();
    const row: BudgetRow = {
      key: text(budget.key, "budgets.key"),
      creditsMicro: num(toMicro(budget.credits), "budgets.credits_micro"),
      periodMs: nullableNum(budget.periodMs, "budgets.period_ms"),
      windowStart: text(budget.windowStart, "budgets.window_start"),
    };
    this.#budgets.set(row.key, row);
  }

  async deleteBudget(key: string): Promise<void> {
    this.#open();
    this.#budgets.delete(key);
  }

  async listBudgets(): Promise<StoredBudget[]> {
    this.#open();
    const rows = [...this.#budgets.values()].sort((a, b) => compare(a.key, b.key));
    return rows.map((r) => ({ key: r.key, credits: fromMicro(r.creditsMicro), periodMs: r.periodMs, windowStart: r.windowStart }));
  }

  async prune(query: PruneQuery): Promise<number> {
    this.#open();
    return query.kind === "tasks" ? this.#pruneTasks(query) : this.#pruneEvents(query);
  }

  #pruneTasks(query: PruneQuery): number {
    // Candidates are the tasks with a finish time, oldest first (ties by id); only those in a
    // final state are deleted, as the SQL store checks the state again in its DELETE.
    const finished = [...this.#tasks.values()]
      .filter((r): r is TaskRow & { finishedAt: string } => r.finishedAt !== null)
      .sort((a, b) => compare(a.finishedAt, b.finishedAt) || compare(a.id, b.id));
    const ids = new Set<string>();
    if (query.before !== undefined) {
      const before = query.before;
      for (const r of take(finished.filter((r) => r.finishedAt < before), query.limit)) ids.add(r.id);
    }
    if (query.keep !== undefined && ids.size < query.limit) {
      // The newest finished task that must go (ties broken by id), and everything older.
      const edgeIndex = finished.length - 1 - Math.max(0, query.keep);
      if (edgeIndex >= 0) {
        for (const r of take(finished.slice(0, edgeIndex + 1), query.limit)) if (ids.size < query.limit) ids.add(r.id);
      }
    }
    let deleted = 0;
    for (const id of ids) {
      const row = this.#tasks.get(id);
      if (row === undefined || !FINAL.has(row.state)) continue;
      this.#tasks.delete(id);
      if (row.idempotencyKey !== null && this.#taskKeys.get(row.idempotencyKey) === id) this.#taskKeys.delete(row.idempotencyKey);
      deleted += 1;
    }
    return deleted;
  }

  #pruneEvents(query: PruneQuery): number {
    const messages = query.kind === "messages";
    const kind = this.#events.filter((r) => (r.type === MESSAGE_EVENT) === messages);
    // Seq follows time, so what goes is always a prefix in seq order: delete up to a seq.
    let upTo = 0;
    if (query.before !== undefined) {
      for (const r of take(kind, query.limit)) {
        if (r.at >= query.before) break;
        upTo = r.seq;
      }
    }
    if (query.keep !== undefined) {
      const edge = kind[kind.length - 1 - Math.max(0, query.keep)];
      if (edge !== undefined) upTo = Math.max(upTo, edge.seq);
    }
    if (upTo === 0) return 0;
    const gone = new Set(take(kind.filter((r) => r.seq <= upTo), query.limit).map((r) => r.seq));
    if (gone.size === 0) return 0;
    this.#events = this.#events.filter((r) => !gone.has(r.seq));
    for (const seq of gone) this.#eventSeqs.delete(seq);
    return gone.size;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Nothing outlives the store: let the memory go.
    this.#profiles.clear();
    this.#agents.clear();
    this.#crews.clear();
    this.#tasks.clear();
    this.#taskKeys.clear();
    this.#wallets.clear();
    this.#events = [];
    this.#eventSeqs.clear();
    this.#ledger.length = 0;
    this.#ledgerSeqs.clear();
    this.#ledgerIds.clear();
    this.#context.clear();
    this.#budgets.clear();
  }

  #open(): void {
    if (this.#closed) throw new FactoryError("STORE_UNAVAILABLE", "the memory store is closed");
  }
}

const parse = <T>(row: { data: string }): T => JSON.parse(row.data) as T;

/** Orders text as SQL's binary collation does for these keys, and numbers by value; null first. */
function compare(a: Cell, b: Cell): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

/** Whether the row at (`at`, `id`) lies past `after` in the listing's order. */
function past(at: string, id: string, after: ListPosition, newestFirst: boolean): boolean {
  const c = compare(at, after.at) || compare(id, after.id);
  return newestFirst ? c < 0 : c > 0;
}

/** The first `limit` items; a negative limit means all of them, as SQLite reads `LIMIT -1`. */
function take<T>(items: readonly T[], limit: number): T[] {
  return limit < 0 ? [...items] : items.slice(0, limit);
}

/** Inserts in seq order; writes almost always come in increasing seq, so this is an append. */
function insertBySeq<T extends { seq: number }>(rows: T[], row: T): void {
  let i = rows.length;
  while (i > 0 && (rows[i - 1] as T).seq > row.seq) i--;
  rows.splice(i, 0, row);
}

/** The SQL store's wording for a refused write (SQLite's), so callers read the same message from either. */
function constraint(kind: "NOT NULL" | "UNIQUE", column: string): Error {
  return new Error(`${kind} constraint failed: ${column}`);
}

function text(value: unknown, column: string): string {
  const v = nullableText(value, column);
  if (v === null) throw constraint("NOT NULL", column);
  return v;
}

function nullableText(value: unknown, column: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "string") throw new Error(`${column} must be text, not ${typeof value}`);
  return value;
}

function num(value: unknown, column: string): number {
  const v = nullableNum(value, column);
  if (v === null) throw constraint("NOT NULL", column);
  return v;
}

/** SQLite keeps NaN as NULL. */
function nullableNum(value: unknown, column: string): number | null {
  if (value === null || value === undefined || Number.isNaN(value)) return null;
  if (typeof value !== "number") throw new Error(`${column} must be a number, not ${typeof value}`);
  return value;
}

/** The record as JSON text: a copy no caller can change afterwards. */
function json(value: unknown, column: string): string {
  const out = JSON.stringify(value) as string | undefined;
  if (out === undefined) throw constraint("NOT NULL", column);
  return out;
}
