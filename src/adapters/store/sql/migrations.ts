import { sql, type Kysely, type Migration, type MigrationProvider } from "kysely";

/**
 * Plain SQL that both SQLite and PostgreSQL accept. Records are stored whole as JSON text in
 * `data`; the columns beside it exist only to be indexed and filtered on.
 */
const MIGRATIONS: Record<string, readonly string[]> = {
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
};

export const migrationProvider: MigrationProvider = {
  async getMigrations(): Promise<Record<string, Migration>> {
    const out: Record<string, Migration> = {};
    for (const [name, statements] of Object.entries(MIGRATIONS)) {
      out[name] = {
        async up(db: Kysely<unknown>): Promise<void> {
          for (const statement of statements) await sql.raw(statement).execute(db);
        },
      };
    }
    return out;
  },
};
