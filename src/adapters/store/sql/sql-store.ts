import { Migrator, sql, type Kysely } from "kysely";
import { upgradeAgent, type Agent } from "../../../core/agent.ts";
import type { Crew } from "../../../core/crew.ts";
import type { ListPosition } from "../../../core/list-position.ts";
import type { FactoryEvent } from "../../../core/events.ts";
import { fromMicro, toMicro, type LedgerEntry, type LedgerReportRow } from "../../../core/ledger.ts";
import type { OperatorRole, StoredOperatorKey } from "../../../core/operator-key.ts";
import type { AgentQuery, CrewQuery, EventQuery, LedgerQuery, LedgerReportQuery, OpenReservation, PruneQuery, Store, StoredBudget, StoredSigningKey, StoreWrite, TaskQuery } from "../../../core/ports/store.ts";
import type { ProfileRecord } from "../../../core/schemas/profile.ts";
import { upgradeTask, type Task } from "../../../core/task.ts";
import type { Wallet } from "../../../core/wallet.ts";
import { FactoryError } from "../../../core/errors.ts";
import { migrationProvider, type SqlDialectName } from "./migrations.ts";
import { rowLimit } from "./row-limit.ts";
import { parse, type SqlDatabase } from "./sql-database.ts";
import { ledgerReport, ledgerTotals, listLedger, openReservations } from "./sql-ledger-reads.ts";
import { pruneTables } from "./sql-prune.ts";
import { writeBatch } from "./sql-writes.ts";

/** What the SQL store must know of the database under it. */
export interface SqlStoreOptions {
  dialect: SqlDialectName;
  /**
   * The schema the migrator's own tables live in (PostgreSQL). Kysely looks for them among
   * every schema of the database unless told which, and would take another store's for ours.
   */
  migrationSchema?: string;
}

/**
 * The store over any Kysely dialect whose SQL accepts `insert … on conflict do update`
 * (SQLite, PostgreSQL). Adapters differ only in how they open the connection; the DDL's one
 * difference is in migrations.ts.
 */
export class SqlStore implements Store {
  readonly #db: Kysely<SqlDatabase>;
  readonly #options: SqlStoreOptions;
  /** For a dialect's own reads (the PostgreSQL store's owner lookups). */
  protected readonly db: Kysely<SqlDatabase>;

  constructor(db: Kysely<SqlDatabase>, options: SqlStoreOptions) {
    this.#db = db;
    this.db = db;
    this.#options = options;
  }

  async migrate(): Promise<void> {
    const { dialect, migrationSchema } = this.#options;
    // On PostgreSQL the migrator holds an advisory lock while it runs, and runs all pending
    // migrations in one transaction, so nodes starting at once migrate one after the other.
    const migrator = new Migrator({ db: this.#db, provider: migrationProvider(dialect), ...(migrationSchema === undefined ? {} : { migrationTableSchema: migrationSchema }) });
    const { error } = await migrator.migrateToLatest();
    if (error !== undefined) {
      if (error instanceof FactoryError) throw error; // the store is unreachable, and says so
      throw new FactoryError("STORE_UNAVAILABLE", `store migration failed: ${String(error)}`, { cause: error });
    }
  }

  async apply(writes: readonly StoreWrite[]): Promise<void> {
    if (writes.length === 0) return;
    await this.transaction((trx) => writeBatch(trx, writes));
  }


  /**
   * `fn` in one transaction on one connection. Unlike Kysely's `transaction()`, a failed
   * rollback does not replace the error that caused it: SQLite rolls a transaction back by
   * itself on some errors ("database or disk is full"), and the ROLLBACK that follows then
   * fails with "no transaction is active", which hid what the store said.
   */
  protected async transaction<T>(fn: (trx: Kysely<SqlDatabase>) => Promise<T>): Promise<T> {
    return this.#db.connection().execute(async (conn) => {
      await sql`begin`.execute(conn);
      try {
        const out = await fn(conn);
        await sql`commit`.execute(conn);
        return out;
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
    const rows = await q.orderBy("spawned_at", "desc").orderBy("id", "desc").limit(rowLimit(query.limit, 1_000_000)).execute();
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
    const rows = await q.orderBy("created_at", "desc").orderBy("id", "desc").limit(rowLimit(query.limit, 1_000_000)).execute();
    return rows.map(parse<Crew>);
  }

  async getTask(id: string): Promise<Task | undefined> {
    const row = await this.#db.selectFrom("tasks").select("data").where("id", "=", id).executeTakeFirst();
    return row === undefined ? undefined : upgradeTask(parse<Task>(row));
  }

  async getTaskByIdempotencyKey(key: string): Promise<Task | undefined> {
    const row = await this.#db.selectFrom("tasks").select("data").where("idempotency_key", "=", key).executeTakeFirst();
    return row === undefined ? undefined : upgradeTask(parse<Task>(row));
  }

  async listTasks(query: TaskQuery): Promise<Task[]> {
    let q = this.#db.selectFrom("tasks").select("data");
    if (query.states !== undefined) q = q.where("state", "in", [...query.states]);
    if (query.crewId !== undefined) q = q.where("crew_id", "=", query.crewId);
    const newest = query.newestFirst === true;
    if (query.after !== undefined) q = q.where(past("created_at", query.after, newest));
    const order = newest ? "desc" : "asc";
    const rows = await q.orderBy("created_at", order).orderBy("id", order).limit(rowLimit(query.limit, 1_000_000)).execute();
    return rows.map((row) => upgradeTask(parse<Task>(row)));
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
    const rows = await q.orderBy("seq").limit(rowLimit(query.limit, 1000)).execute();
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
    return listLedger(this.#db, query);
  }

  async ledgerTotals(): Promise<{ balances: Map<string, number>; lastSeq: number }> {
    return ledgerTotals(this.#db);
  }

  async ledgerReport(query: LedgerReportQuery): Promise<LedgerReportRow[]> {
    return ledgerReport(this.#db, query);
  }

  async openReservations(): Promise<OpenReservation[]> {
    return openReservations(this.#db);
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

  async listSigningKeys(): Promise<StoredSigningKey[]> {
    const rows = await this.#db.selectFrom("signing_keys").selectAll().orderBy("created_at", "desc").orderBy("kid", "desc").execute();
    return rows.map((r) => ({ kid: r.kid, createdAt: r.created_at, publicJwk: JSON.parse(r.public_jwk) as Record<string, unknown>, privateJwk: JSON.parse(r.private_jwk) as Record<string, unknown> }));
  }

  async putSigningKey(key: StoredSigningKey): Promise<void> {
    await this.#db
      .insertInto("signing_keys")
      .values({ kid: key.kid, created_at: key.createdAt, public_jwk: JSON.stringify(key.publicJwk), private_jwk: JSON.stringify(key.privateJwk) })
      .onConflict((oc) => oc.column("kid").doNothing())
      .execute();
  }

  async putOperatorKey(key: StoredOperatorKey): Promise<void> {
    const row = { id: key.id, name: key.name, role: key.role, crews: key.crews === null ? null : JSON.stringify(key.crews), secret_hash: key.secretHash, created_at: key.createdAt };
    await this.#db
      .insertInto("operator_keys")
      .values(row)
      .onConflict((oc) => oc.column("id").doUpdateSet({ name: row.name, role: row.role, crews: row.crews, secret_hash: row.secret_hash, created_at: row.created_at }))
      .execute();
  }

  async deleteOperatorKey(id: string): Promise<boolean> {
    const result = await this.#db.deleteFrom("operator_keys").where("id", "=", id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async listOperatorKeys(): Promise<StoredOperatorKey[]> {
    const rows = await this.#db.selectFrom("operator_keys").selectAll().orderBy("created_at").orderBy("id").execute();
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      role: r.role as OperatorRole,
      crews: r.crews === null ? null : (JSON.parse(r.crews) as string[]),
      createdAt: r.created_at,
      secretHash: r.secret_hash,
    }));
  }

  async prune(query: PruneQuery): Promise<number> {
    return pruneTables(this.#db, query);
  }

  /** Runs a dialect-specific maintenance statement, in turn with transactions (e.g. a WAL checkpoint). */
  async maintain(statement: string): Promise<void> {
    await sql.raw(statement).execute(this.#db);
  }

  async close(): Promise<void> {
    await this.#db.destroy();
  }
}

/** Rows past `after` in the order (`column`, id) runs: older ones when newest first, newer ones otherwise. */
function past(column: "created_at" | "spawned_at", after: ListPosition, newestFirst: boolean) {
  const op = sql.raw(newestFirst ? "<" : ">");
  return sql<boolean>`(${sql.ref(column)} ${op} ${after.at} or (${sql.ref(column)} = ${after.at} and id ${op} ${after.id}))`;
}
