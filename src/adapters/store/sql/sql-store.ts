import { Migrator, sql, type Kysely } from "kysely";
import { upgradeAgent, type Agent } from "../../../core/agent.ts";
import type { Crew } from "../../../core/crew.ts";
import type { ListPosition } from "../../../core/list-position.ts";
import type { FactoryEvent } from "../../../core/events.ts";
import { fromMicro, toMicro, type LedgerEntry, type LedgerReportRow } from "../../../core/ledger.ts";
import type { AgentQuery, CrewQuery, EventQuery, LedgerQuery, LedgerReportQuery, OpenReservation, PruneQuery, Store, StoredBudget, StoreWrite, TaskQuery } from "../../../core/ports/store.ts";
import { FINAL_TASK_STATES } from "../../../core/task-states.ts";
import { lastWritePerRecord } from "../../../core/last-write-per-record.ts";
import type { ProfileRecord } from "../../../core/schemas/profile.ts";
import type { Task } from "../../../core/task.ts";
import type { Wallet } from "../../../core/wallet.ts";
import { FactoryError } from "../../../core/errors.ts";
import { migrationProvider } from "./migrations.ts";

export interface SqlDatabase {
  profiles: { name: string; version: number; created_at: string; data: string };
  agents: { id: string; state: string; role: string; profile: string; crew_id: string | null; spawned_at: string; data: string };
  crews: { id: string; state: string; name: string; created_at: string; data: string };
  tasks: { id: string; state: string; crew_id: string | null; created_at: string; idempotency_key: string | null; finished_at: string | null; data: string };
  wallets: { address: string; owner_id: string; data: string };
  events: { seq: number; type: string; at: string; agent_id: string | null; crew_id: string | null; task_id: string | null; data: string };
  crew_context: { crew_id: string; key: string; updated_at: string; value: string };
  ledger: {
    seq: number;
    id: string;
    kind: string;
    debit: string;
    credit: string;
    micro: number;
    crew_id: string | null;
    agent_id: string | null;
    task_id: string | null;
    reservation_id: string | null;
    model: string | null;
    tokens_in: number | null;
    tokens_out: number | null;
    at: string;
    data: string;
  };
  budgets: { key: string; credits_micro: number; period_ms: number | null; window_start: string };
}

/** The event type crew messages are kept as (retention's "messages"). */
const MESSAGE_EVENT = "crew.message";

/** Rows per multi-row insert: well under SQLite's and PostgreSQL's bound-parameter limits. */
const CHUNK = 200;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

const parse = <T>(row: { data: string }): T => JSON.parse(row.data) as T;

/** How much of an ISO `at` (`2026-01-31T09:15:00.000Z`) names its UTC hour, day or month. */
const PERIOD_CHARS = { hour: 13, day: 10, month: 7 } as const;

/**
 * The store over any Kysely dialect whose SQL accepts `insert … on conflict do update`
 * (SQLite, PostgreSQL). Adapters differ only in how they open the connection.
 */
export class SqlStore implements Store {
  readonly #db: Kysely<SqlDatabase>;

  constructor(db: Kysely<SqlDatabase>) {
    this.#db = db;
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({ db: this.#db, provider: migrationProvider });
    const { error } = await migrator.migrateToLatest();
    if (error !== undefined) {
      throw new FactoryError("STORE_UNAVAILABLE", `store migration failed: ${String(error)}`, { cause: error });
    }
  }

  async apply(writes: readonly StoreWrite[]): Promise<void> {
    if (writes.length === 0) return;
    const byKind = groupByKind(writes);
    await this.#transaction(async (trx) => {
      for (const part of chunks(byKind.profile)) {
        await trx
          .insertInto("profiles")
          .values(part.map((p) => ({ name: p.name, version: p.version, created_at: p.createdAt, data: JSON.stringify(p) })))
          .onConflict((oc) => oc.columns(["name", "version"]).doNothing())
          .execute();
      }
      for (const part of chunks(byKind.agent)) {
        await trx
          .insertInto("agents")
          .values(
            part.map((a) => ({
              id: a.id,
              state: a.state,
              role: a.role,
              profile: a.profile,
              crew_id: a.crewId,
              spawned_at: a.spawnedAt,
              data: JSON.stringify(a),
            })),
          )
          .onConflict((oc) =>
            oc.column("id").doUpdateSet((eb) => ({
              state: eb.ref("excluded.state"),
              crew_id: eb.ref("excluded.crew_id"),
              data: eb.ref("excluded.data"),
            })),
          )
          .execute();
      }
      for (const part of chunks(byKind.crew)) {
        await trx
          .insertInto("crews")
          .values(part.map((c) => ({ id: c.id, state: c.state, name: c.name, created_at: c.createdAt, data: JSON.stringify(c) })))
          .onConflict((oc) =>
            oc.column("id").doUpdateSet((eb) => ({ state: eb.ref("excluded.state"), data: eb.ref("excluded.data") })),
          )
          .execute();
      }
      for (const part of chunks(byKind.task)) {
        await trx
          .insertInto("tasks")
          .values(
            part.map((t) => ({
              id: t.id,
              state: t.state,
              crew_id: t.crewId,
              created_at: t.createdAt,
              idempotency_key: t.idempotencyKey ?? null,
              finished_at: t.finishedAt,
              data: JSON.stringify(t),
            })),
          )
          .onConflict((oc) =>
            oc.column("id").doUpdateSet((eb) => ({ state: eb.ref("excluded.state"), finished_at: eb.ref("excluded.finished_at"), data: eb.ref("excluded.data") })),
          )
          .execute();
      }
      for (const part of chunks(byKind.wallet)) {
        await trx
          .insertInto("wallets")
          .values(part.map((w) => ({ address: w.address, owner_id: w.ownerId, data: JSON.stringify(w) })))
          .onConflict((oc) => oc.column("address").doUpdateSet((eb) => ({ data: eb.ref("excluded.data") })))
          .execute();
      }
      for (const part of chunks(byKind.event)) {
        await trx
          .insertInto("events")
          .values(
            part.map((e) => ({
              seq: e.seq,
              type: e.type,
              at: e.at,
              agent_id: e.agentId ?? null,
              crew_id: e.crewId ?? null,
              task_id: e.taskId ?? null,
              data: JSON.stringify(e),
            })),
          )
          .onConflict((oc) => oc.column("seq").doNothing())
          .execute();
      }
      for (const part of chunks(byKind.ledger)) {
        await trx
          .insertInto("ledger")
          .values(
            part.map((e) => ({
              seq: e.seq,
              id: e.id,
              kind: e.kind,
              debit: e.debit,
              credit: e.credit,
              micro: toMicro(e.amount),
              crew_id: e.crewId,
              agent_id: e.agentId,
              task_id: e.taskId,
              reservation_id: e.reservationId,
              model: e.model,
              tokens_in: e.tokensIn,
              tokens_out: e.tokensOut,
              at: e.at,
              data: JSON.stringify(e),
            })),
          )
          // Append-only: a re-written entry (a retried batch) is the same entry.
          .onConflict((oc) => oc.column("seq").doNothing())
          .execute();
      }
      for (const write of byKind.context) {
        if (write.deleted) {
          await trx.deleteFrom("crew_context").where("crew_id", "=", write.crewId).where("key", "=", write.key).execute();
        } else {
          await trx
            .insertInto("crew_context")
            .values({ crew_id: write.crewId, key: write.key, updated_at: new Date().toISOString(), value: JSON.stringify(write.value) })
            .onConflict((oc) =>
              oc.columns(["crew_id", "key"]).doUpdateSet((eb) => ({ value: eb.ref("excluded.value"), updated_at: eb.ref("excluded.updated_at") })),
            )
            .execute();
        }
      }
    });
  }

  /**
   * `fn` in one transaction on one connection. Unlike Kysely's `transaction()`, a failed
   * rollback does not replace the error that caused it: SQLite rolls a transaction back by
   * itself on some errors ("database or disk is full"), and the ROLLBACK that follows then
   * fails with "no transaction is active", which hid what the store said.
   */
  async #transaction(fn: (trx: Kysely<SqlDatabase>) => Promise<void>): Promise<void> {
    await this.#db.connection().execute(async (conn) => {
      await sql`begin`.execute(conn);
      try {
        await fn(conn);
        await sql`commit`.execute(conn);
      } catch (error) {
        await sql`rollback`.execute(conn).catch(() => {}); // already rolled back by the database
        throw error;
      }
    });
  }

  async listProfiles(): Promise<ProfileRecord[]> {
    const rows = await this.#db.selectFrom("profiles").select("data").orderBy("name").orderBy("version").execute();
    return rows.map(parse<ProfileRecord>);
  }

  async getAgent(id: string): Promise<Agent | undefined> {
    const row = await this.#db.selectFrom("agents").select("data").where("id", "=", id).executeTakeFirst();
    return row === undefined ? undefined : upgradeAgent(parse<Agent>(row));
  }

  async listAgents(query: AgentQuery): Promise<Agent[]> {
    let q = this.#db.selectFrom("agents").select("data");
    if (query.states !== undefined) q = q.where("state", "in", [...query.states]);
    if (query.role !== undefined) q = q.where("role", "=", query.role);
    if (query.crewId !== undefined) q = q.where("crew_id", "=", query.crewId);
    if (query.after !== undefined) q = q.where(past("spawned_at", query.after, true));
    const rows = await q.orderBy("spawned_at", "desc").orderBy("id", "desc").limit(query.limit ?? 1_000_000).execute();
    return rows.map((row) => upgradeAgent(parse<Agent>(row)));
  }

  async getCrew(id: string): Promise<Crew | undefined> {
    const row = await this.#db.selectFrom("crews").select("data").where("id", "=", id).executeTakeFirst();
    return row === undefined ? undefined : parse<Crew>(row);
  }

  async listCrews(query: CrewQuery): Promise<Crew[]> {
    let q = this.#db.selectFrom("crews").select("data");
    if (query.states !== undefined) q = q.where("state", "in", [...query.states]);
    if (query.after !== undefined) q = q.where(past("created_at", query.after, true));
    const rows = await q.orderBy("created_at", "desc").orderBy("id", "desc").limit(query.limit ?? 1_000_000).execute();
    return rows.map(parse<Crew>);
  }

  async getTask(id: string): Promise<Task | undefined> {
    const row = await this.#db.selectFrom("tasks").select("data").where("id", "=", id).executeTakeFirst();
    return row === undefined ? undefined : parse<Task>(row);
  }

  async getTaskByIdempotencyKey(key: string): Promise<Task | undefined> {
    const row = await this.#db.selectFrom("tasks").select("data").where("idempotency_key", "=", key).executeTakeFirst();
    return row === undefined ? undefined : parse<Task>(row);
  }

  async listTasks(query: TaskQuery): Promise<Task[]> {
    let q = this.#db.selectFrom("tasks").select("data");
    if (query.states !== undefined) q = q.where("state", "in", [...query.states]);
    if (query.crewId !== undefined) q = q.where("crew_id", "=", query.crewId);
    const newest = query.newestFirst === true;
    if (query.after !== undefined) q = q.where(past("created_at", query.after, newest));
    const order = newest ? "desc" : "asc";
    const rows = await q.orderBy("created_at", order).orderBy("id", order).limit(query.limit ?? 1_000_000).execute();
    return rows.map(parse<Task>);
  }

  async getWallet(address: string): Promise<Wallet | undefined> {
    const row = await this.#db.selectFrom("wallets").select("data").where("address", "=", address).executeTakeFirst();
    return row === undefined ? undefined : parse<Wallet>(row);
  }

  async listEvents(query: EventQuery): Promise<FactoryEvent[]> {
    let q = this.#db.selectFrom("events").select("data").where("seq", ">", query.afterSeq ?? 0);
    if (query.crewId !== undefined) q = q.where("crew_id", "=", query.crewId);
    if (query.agentId !== undefined) q = q.where("agent_id", "=", query.agentId);
    if (query.taskId !== undefined) q = q.where("task_id", "=", query.taskId);
    const types = query.types ?? [];
    if (types.length > 0) {
      const exact = types.filter((t) => !t.endsWith(".*"));
      const families = types.filter((t) => t.endsWith(".*")).map((t) => `${t.slice(0, -1)}%`);
      q = q.where((eb) => eb.or([...(exact.length > 0 ? [eb("type", "in", exact)] : []), ...families.map((f) => eb("type", "like", f))]));
    }
    const rows = await q.orderBy("seq").limit(query.limit ?? 1000).execute();
    return rows.map(parse<FactoryEvent>);
  }

  async lastEventSeq(): Promise<number> {
    const row = await this.#db
      .selectFrom("events")
      .select((eb) => eb.fn.max("seq").as("seq"))
      .executeTakeFirst();
    return Number(row?.seq ?? 0);
  }

  async getContext(crewId: string): Promise<Record<string, unknown>> {
    const rows = await this.#db.selectFrom("crew_context").select(["key", "value"]).where("crew_id", "=", crewId).orderBy("key").execute();
    return Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value) as unknown]));
  }

  async listLedger(query: LedgerQuery): Promise<LedgerEntry[]> {
    let q = this.#db.selectFrom("ledger").select("data").where("seq", ">", query.afterSeq ?? 0);
    if (query.wallet !== undefined) {
      const wallet = query.wallet;
      q = q.where((eb) => eb.or([eb("debit", "=", wallet), eb("credit", "=", wallet)]));
    }
    if (query.crewId !== undefined) q = q.where("crew_id", "=", query.crewId);
    if (query.agentId !== undefined) q = q.where("agent_id", "=", query.agentId);
    if (query.kinds !== undefined && query.kinds.length > 0) q = q.where("kind", "in", [...query.kinds]);
    const rows = await q.orderBy("seq").limit(query.limit ?? 1000).execute();
    return rows.map(parse<LedgerEntry>);
  }

  async ledgerTotals(): Promise<{ balances: Map<string, number>; lastSeq: number }> {
    const credited = await this.#db.selectFrom("ledger").select(["credit as wallet", (eb) => eb.fn.sum<number>("micro").as("micro")]).groupBy("credit").execute();
    const debited = await this.#db.selectFrom("ledger").select(["debit as wallet", (eb) => eb.fn.sum<number>("micro").as("micro")]).groupBy("debit").execute();
    const balances = new Map<string, number>();
    for (const row of credited) balances.set(row.wallet, (balances.get(row.wallet) ?? 0) + Number(row.micro));
    for (const row of debited) balances.set(row.wallet, (balances.get(row.wallet) ?? 0) - Number(row.micro));
    const last = await this.#db.selectFrom("ledger").select((eb) => eb.fn.max("seq").as("seq")).executeTakeFirst();
    return { balances, lastSeq: Number(last?.seq ?? 0) };
  }

  async ledgerReport(query: LedgerReportQuery): Promise<LedgerReportRow[]> {
    // Literals, not parameters: PostgreSQL matches a selected expression to its GROUP BY text.
    const key =
      query.by === "agent"
        ? sql<string | null>`agent_id`
        : query.by === "crew"
          ? sql<string | null>`crew_id`
          : query.by === "model"
            ? sql<string | null>`model`
            : sql<string | null>`substr(at, 1, ${sql.lit(PERIOD_CHARS[query.by])})`;
    let q = this.#db
      .selectFrom("ledger")
      .select([
        key.as("key"),
        sql<number | string>`count(*)`.as("entries"),
        sql<number | string>`sum(micro)`.as("micro"),
        sql<number | string>`coalesce(sum(tokens_in), 0)`.as("tokens_in"),
        sql<number | string>`coalesce(sum(tokens_out), 0)`.as("tokens_out"),
      ])
      .where("kind", "=", query.kind ?? "usage");
    if (query.crewId !== undefined) q = q.where("crew_id", "=", query.crewId);
    if (query.agentId !== undefined) q = q.where("agent_id", "=", query.agentId);
    if (query.model !== undefined) q = q.where("model", "=", query.model);
    if (query.from !== undefined) q = q.where("at", ">=", query.from);
    if (query.to !== undefined) q = q.where("at", "<", query.to);
    q = q.groupBy(key);
    // Nulls last in both dialects (SQLite sorts them first, PostgreSQL last).
    const period = query.by === "hour" || query.by === "day" || query.by === "month";
    q = period ? q.orderBy(key) : q.orderBy(sql`sum(micro)`, "desc").orderBy(sql`${key} is null`).orderBy(key);
    const rows = await q.execute();
    // PostgreSQL returns bigint sums as text.
    return rows.map((r) => ({ key: r.key, entries: Number(r.entries), amount: fromMicro(Number(r.micro)), tokensIn: Number(r.tokens_in), tokensOut: Number(r.tokens_out) }));
  }

  async openReservations(): Promise<OpenReservation[]> {
    // One pass over the (reservation_id, kind, micro) index finds what each reservation still
    // holds; only the few still open are then read. Kinds are told apart in the sum and in code,
    // not in WHERE: a filter on kind leads SQLite to the (kind, at) index and every reservation.
    const held = sql<number | string>`sum(case when kind = 'reservation' then micro when kind in ('usage', 'release') then -micro else 0 end)`;
    const open = await this.#db
      .selectFrom("ledger")
      .select(["reservation_id", held.as("micro")])
      .where("reservation_id", "is not", null)
      .groupBy("reservation_id")
      .having(sql<boolean>`${held} > 0`)
      .execute();
    const micro = new Map(open.map((r) => [r.reservation_id as string, Number(r.micro)]));
    const out: Array<OpenReservation & { seq: number }> = [];
    for (const part of chunks([...micro.keys()])) {
      const rows = await this.#db
        .selectFrom("ledger")
        .select(["seq", "kind", "reservation_id", "debit", "crew_id", "agent_id", "task_id", "model"])
        .where("reservation_id", "in", part)
        .execute();
      for (const r of rows) {
        if (r.kind !== "reservation") continue;
        const id = r.reservation_id as string;
        out.push({ seq: Number(r.seq), reservationId: id, wallet: r.debit, micro: micro.get(id) ?? 0, crewId: r.crew_id, agentId: r.agent_id, taskId: r.task_id, model: r.model });
      }
    }
    return out.sort((a, b) => a.seq - b.seq).map(({ seq: _, ...r }) => r);
  }

  async putBudget(budget: StoredBudget): Promise<void> {
    const row = { key: budget.key, credits_micro: toMicro(budget.credits), period_ms: budget.periodMs, window_start: budget.windowStart };
    await this.#db
      .insertInto("budgets")
      .values(row)
      .onConflict((oc) => oc.column("key").doUpdateSet({ credits_micro: row.credits_micro, period_ms: row.period_ms, window_start: row.window_start }))
      .execute();
  }

  async deleteBudget(key: string): Promise<void> {
    await this.#db.deleteFrom("budgets").where("key", "=", key).execute();
  }

  async listBudgets(): Promise<StoredBudget[]> {
    const rows = await this.#db.selectFrom("budgets").selectAll().orderBy("key").execute();
    return rows.map((r) => ({ key: r.key, credits: fromMicro(Number(r.credits_micro)), periodMs: r.period_ms === null ? null : Number(r.period_ms), windowStart: r.window_start }));
  }

  async prune(query: PruneQuery): Promise<number> {
    return query.kind === "tasks" ? this.#pruneTasks(query) : this.#pruneEvents(query);
  }

  async #pruneTasks(query: PruneQuery): Promise<number> {
    // Only final states carry finished_at (a re-driven task clears it), so the index alone
    // finds candidates; the delete checks the state again.
    const base = () => this.#db.selectFrom("tasks").select("id").where("finished_at", "is not", null);
    const ids = new Set<string>();
    if (query.before !== undefined) {
      // A range of the finished_at index, so a round with nothing to delete reads nothing.
      const old = await base().where("finished_at", "<", query.before).orderBy("finished_at").orderBy("id").limit(query.limit).execute();
      for (const row of old) ids.add(row.id);
    }
    if (query.keep !== undefined && ids.size < query.limit) {
      // The newest finished task that must go (ties broken by id), and everything older.
      const edge = await this.#db
        .selectFrom("tasks")
        .select(["finished_at", "id"])
        .where("finished_at", "is not", null)
        .orderBy("finished_at", "desc")
        .orderBy("id", "desc")
        .limit(1)
        .offset(query.keep)
        .executeTakeFirst();
      if (edge !== undefined) {
        const at = edge.finished_at as string;
        const beyond = await base()
          .where((eb) => eb.or([eb("finished_at", "<", at), eb.and([eb("finished_at", "=", at), eb("id", "<=", edge.id)])]))
          .orderBy("finished_at")
          .orderBy("id")
          .limit(query.limit)
          .execute();
        for (const row of beyond) if (ids.size < query.limit) ids.add(row.id);
      }
    }
    if (ids.size === 0) return 0;
    const result = await this.#db.deleteFrom("tasks").where("id", "in", [...ids]).where("state", "in", [...FINAL_TASK_STATES]).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async #pruneEvents(query: PruneQuery): Promise<number> {
    const messages = query.kind === "messages";
    const base = () => this.#db.selectFrom("events").where("type", messages ? "=" : "<>", MESSAGE_EVENT);
    // Seq follows time, so what goes is always a prefix in seq order: delete up to a seq.
    let upTo = 0;
    if (query.before !== undefined) {
      // Only the oldest `limit` are read, so a round with nothing to delete stays cheap.
      const oldest = await base().select(["seq", "at"]).orderBy("seq").limit(query.limit).execute();
      for (const row of oldest) {
        if (row.at >= query.before) break;
        upTo = Number(row.seq);
      }
    }
    if (query.keep !== undefined) {
      const edge = await base().select("seq").orderBy("seq", "desc").limit(1).offset(query.keep).executeTakeFirst();
      if (edge !== undefined) upTo = Math.max(upTo, Number(edge.seq));
    }
    if (upTo === 0) return 0;
    const seqs = (await base().select("seq").where("seq", "<=", upTo).orderBy("seq").limit(query.limit).execute()).map((r) => r.seq);
    if (seqs.length === 0) return 0;
    await this.#db.deleteFrom("events").where("seq", "in", seqs).execute();
    return seqs.length;
  }

  /** Runs a dialect-specific maintenance statement, in turn with transactions (e.g. a WAL checkpoint). */
  async maintain(statement: string): Promise<void> {
    await sql.raw(statement).execute(this.#db);
  }

  async close(): Promise<void> {
    await this.#db.destroy();
  }
}

interface Grouped {
  profile: ProfileRecord[];
  agent: Agent[];
  crew: Crew[];
  task: Task[];
  wallet: Wallet[];
  event: FactoryEvent[];
  context: Extract<StoreWrite, { kind: "context" }>[];
  ledger: LedgerEntry[];
}

/** The batch's writes by kind: the last write of each record, in the order of its last appearance. */
function groupByKind(writes: readonly StoreWrite[]): Grouped {
  const out: Grouped = { profile: [], agent: [], crew: [], task: [], wallet: [], event: [], context: [], ledger: [] };
  for (const w of lastWritePerRecord(writes)) {
    if (w.kind === "context") out.context.push(w);
    else (out[w.kind] as unknown[]).push(w.value);
  }
  return out;
}

/** Rows past `after` in the order (`column`, id) runs: older ones when newest first, newer ones otherwise. */
function past(column: "created_at" | "spawned_at", after: ListPosition, newestFirst: boolean) {
  const op = sql.raw(newestFirst ? "<" : ">");
  return sql<boolean>`(${sql.ref(column)} ${op} ${after.at} or (${sql.ref(column)} = ${after.at} and id ${op} ${after.id}))`;
}
