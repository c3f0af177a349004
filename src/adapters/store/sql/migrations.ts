import { sql, type Kysely, type Migration, type MigrationProvider } from "kysely";

/** A step that plain SQL cannot do portably (reading the JSON in `data`), through Kysely. */
type Step = (db: Kysely<unknown>) => Promise<void>;

/** The SQL dialects the store runs on. */
export type SqlDialectName = "sqlite" | "postgres";

/**
 * Plain SQL that both SQLite and PostgreSQL accept. Records are stored whole as JSON text in
 * `data`; the columns beside it exist only to be indexed, filtered and summed on. Where the
 * dialects differ, `forDialect` below says how, once for every statement.
 */
const MIGRATIONS: Record<string, ReadonlyArray<string | Step>> = {
  "0001_init": [
    `create table profiles (name text not null, version integer not null, created_at text not null, data text not null, primary key (name, version))`,
    `create table agents (id text primary key, state text not null, role text not null, profile text not null, crew_id text, spawned_at text not null, data text not null)`,
    `create index agents_state on agents (state)`,
    `create index agents_crew on agents (crew_id)`,
    `create table crews (id text primary key, state text not null, name text not null, created_at text not null, data text not null)`,
    `create index crews_state on crews (state)`,
    `create table tasks (id text primary key, state text not null, crew_id text, created_at text not null, data text not null)`,
    `create index tasks_state on tasks (state, created_at)`,
    `create table wallets (address text primary key, owner_id text not null, data text not null)`,
    `create table events (seq bigint primary key, type text not null, at text not null, agent_id text, crew_id text, task_id text, data text not null)`,
    `create index events_crew on events (crew_id, type, seq)`,
    `create table crew_context (crew_id text not null, key text not null, updated_at text not null, value text not null, primary key (crew_id, key))`,
  ],
  // Idempotency keys are unique among tasks that have one.
  "0002_task_idempotency": [
    `alter table tasks add column idempotency_key text`,
    `create unique index tasks_idempotency_key on tasks (idempotency_key) where idempotency_key is not null`,
  ],
  // The double-entry ledger: amounts in integer micro-credits, so sums are exact.
  "0003_ledger": [
    `create table ledger (seq bigint primary key, id text not null unique, kind text not null, debit text not null, credit text not null, micro bigint not null, crew_id text, agent_id text, at text not null, data text not null)`,
    `create index ledger_debit on ledger (debit, seq)`,
    `create index ledger_credit on ledger (credit, seq)`,
    `create index ledger_crew on ledger (crew_id, seq)`,
    `create index ledger_agent on ledger (agent_id, seq)`,
  ],
  // Reports group and sum by model and tokens, and settlements are found by reservation, in SQL.
  "0004_ledger_usage": [
    `alter table ledger add column task_id text`,
    `alter table ledger add column reservation_id text`,
    `alter table ledger add column model text`,
    `alter table ledger add column tokens_in bigint`,
    `alter table ledger add column tokens_out bigint`,
    backfillLedgerUsage,
    `create index ledger_kind_at on ledger (kind, at)`,
    // Covering: what a reservation still holds is summed from the index alone.
    `create index ledger_reservation on ledger (reservation_id, kind, micro) where reservation_id is not null`,
  ],
  // Budget limits (what they spent is summed from the ledger at start).
  "0005_budgets": [`create table budgets (key text primary key, credits_micro bigint not null, period_ms bigint, window_start text not null)`],
  // Lists are paged newest first from a (time, id) position.
  "0006_list_pages": [
    `create index tasks_created on tasks (created_at, id)`,
    `create index agents_spawned on agents (spawned_at, id)`,
    `create index crews_created on crews (created_at, id)`,
  ],
  // Retention finds finished tasks by when they finished, and crew messages among events, by index.
  "0007_retention": [
    `alter table tasks add column finished_at text`,
    backfillTaskFinishedAt,
    // With id, so "the newest N finished" is read from the index alone, ties included.
    `create index tasks_finished on tasks (finished_at, id) where finished_at is not null`,
    `create index events_type on events (type, seq)`,
  ],
  // Several nodes write one PostgreSQL schema: each agent, crew and task row names the node that
  // owns it (a dead node's rows move to the node that adopts them); a node's fence is bumped by
  // whoever takes its rows, so a writer that outlived its lease is refused; event and ledger seqs
  // are counted in the database, inside the writing transaction, so they follow commit order.
  // SQLite has one writer and leaves the new tables empty.
  "0008_cluster": [
    `alter table agents add column node_id text`,
    `alter table crews add column node_id text`,
    `alter table tasks add column node_id text`,
    `create index agents_node on agents (node_id, state)`,
    `create index crews_node on crews (node_id, state)`,
    `create index tasks_node on tasks (node_id, state)`,
    `create table nodes (id text primary key, fence bigint not null, started_at text not null, adopted_by text, updated_at text not null)`,
    `create table counters (name text primary key, value bigint not null)`,
    `insert into counters (name, value) select 'events', coalesce(max(seq), 0) from events`,
    `insert into counters (name, value) select 'ledger', coalesce(max(seq), 0) from ledger`,
  ],
  // Operator keys: the secret only as its sha256; `crews` is a JSON array of crew ids, or null
  // for a key limited to none. Every node reads them here, so a revoked key is gone for all.
  "0009_operator_keys": [
    `create table operator_keys (id text primary key, name text not null, role text not null, crews text, secret_hash text not null, created_at text not null)`,
  ],
  // The keys agents' tokens are signed with: shared by the nodes of a cluster, rotated by age.
  "0010_signing_keys": [`create table signing_keys (kid text primary key, created_at text not null, public_jwk text not null, private_jwk text not null)`],
  // A task's OpenTelemetry trace id, so the task a trace shows can be found from the trace
  // (`select id from tasks where trace_id = …`). Older tasks have none (null: not traced).
  "0011_task_trace": [`alter table tasks add column trace_id text`, `create index tasks_trace on tasks (trace_id) where trace_id is not null`],
};

/** Tasks written before 0007 carry `finishedAt` only in `data`. */
async function backfillTaskFinishedAt(db: Kysely<unknown>): Promise<void> {
  const PAGE = 1000;
  for (let after = ""; ; ) {
    const { rows } = await sql<{ id: string; data: string }>`select id, data from tasks where id > ${after} order by id limit ${PAGE}`.execute(db);
    for (const row of rows) {
      const finishedAt = (JSON.parse(row.data) as { finishedAt?: string | null }).finishedAt ?? null;
      if (finishedAt !== null) await sql`update tasks set finished_at = ${finishedAt} where id = ${row.id}`.execute(db);
    }
    if (rows.length < PAGE) return;
    after = rows[rows.length - 1]?.id as string;
  }
}

/** Entries written before 0004 carry these fields only in `data`; SQLite and PostgreSQL read JSON differently, so it is read here. */
async function backfillLedgerUsage(db: Kysely<unknown>): Promise<void> {
  const PAGE = 1000;
  for (let after = 0; ; ) {
    const { rows } = await sql<{ seq: number | string; data: string }>`select seq, data from ledger where seq > ${after} order by seq limit ${PAGE}`.execute(db);
    for (const row of rows) {
      const e = JSON.parse(row.data) as { taskId?: string | null; reservationId?: string | null; model?: string | null; tokensIn?: number | null; tokensOut?: number | null };
      if (e.taskId == null && e.reservationId == null && e.model == null && e.tokensIn == null && e.tokensOut == null) continue;
      await sql`update ledger set task_id = ${e.taskId ?? null}, reservation_id = ${e.reservationId ?? null}, model = ${e.model ?? null}, tokens_in = ${e.tokensIn ?? null}, tokens_out = ${e.tokensOut ?? null} where seq = ${row.seq}`.execute(db);
    }
    if (rows.length < PAGE) return;
    after = Number(rows[rows.length - 1]?.seq);
  }
}

/** The migrations as `dialect` runs them (the same list; see `forDialect`). */
export function migrationProvider(dialect: SqlDialectName): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      const out: Record<string, Migration> = {};
      for (const [name, statements] of Object.entries(MIGRATIONS)) {
        out[name] = {
          async up(db: Kysely<unknown>): Promise<void> {
            for (const step of statements) {
              if (typeof step === "string") await sql.raw(forDialect(step, dialect)).execute(db);
              else await step(db);
            }
          },
        };
      }
      return out;
    },
  };
}

/** A text column's type in a `create table` or `alter table … add column`. */
const TEXT_COLUMN = /\btext\b/g;

/**
 * The one difference between the dialects' DDL: text order. The store lists and pages by text
 * (ISO timestamps, ids, keys) and expects byte order, which is SQLite's default (BINARY) but
 * not PostgreSQL's, whose columns take the database's locale (en_US.UTF-8 sorts `a-b` after
 * `ab`, and case-insensitively first). So on PostgreSQL every text column is created with
 * `collate "C"` (byte order, and indexes that serve `like 'prefix%'`).
 */
function forDialect(statement: string, dialect: SqlDialectName): string {
  if (dialect === "sqlite" || !/^(create|alter) table /.test(statement)) return statement;
  return statement.replace(TEXT_COLUMN, 'text collate "C"');
}
