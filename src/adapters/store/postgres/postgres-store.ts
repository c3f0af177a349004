import pg from "pg";
import { Kysely, PostgresDialect, sql } from "kysely";
import { FactoryError } from "../../../core/errors.ts";
import type { PruneQuery, Store, StoredBudget, StoreWrite } from "../../../core/ports/store.ts";
import type { SqlDatabase } from "../sql/sql-database.ts";
import { SqlStore } from "../sql/sql-store.ts";
import { GuardedPool } from "./guarded-pool.ts";
import { redactUrl } from "../../../core/redact-url.ts";
import { requireKnownOptions } from "../../../core/known-options.ts";
import { APPLICATION_NAME, SchemaLock } from "./schema-lock.ts";

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (or `postgresql://`); the database must exist. */
  url: string;
  /**
   * The schema the store's tables live in, created if missing: lower-case letters, digits and
   * `_`. Several factories (clusters, test runs) share one database in schemas of their own.
   * Default: the URL's `schema` parameter (`postgres://…/db?schema=prod`, taken out of the URL
   * before it reaches PostgreSQL), else the connection's current schema (normally `public`).
   */
  schema?: string;
  /** Most connections this store holds open; default 10. */
  poolSize?: number;
  /** How long opening a connection may take before the store counts as unavailable; default 5 s. */
  connectTimeoutMs?: number;
  /**
   * How long one statement may go unanswered before the store counts as unavailable; default
   * 30 s. A PostgreSQL cut off without a reset (a network partition) would otherwise hold the
   * journal's batch until TCP gives up, many minutes later; the connection is then discarded.
   */
  queryTimeoutMs?: number;
}

/** PostgreSQL's type ids for `bigint` and `numeric` (what `sum` and `count` return). */
const INT8_OID = 20;
const NUMERIC_OID = 1700;

/** How a column's text is read: `bigint` and `numeric` as numbers, the rest as `pg` does. */
function parserOf(oid: number, format?: "text" | "binary"): (text: string) => unknown {
  if (oid === INT8_OID || oid === NUMERIC_OID) return Number;
  return pg.types.getTypeParser(oid, format) as (text: string) => unknown;
}

/** A schema name that needs no quoting anywhere (PostgreSQL folds unquoted names to lower case). */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The scale-out store: the SQL store on PostgreSQL through `pg` (pure JavaScript). Every
 * `apply` is one transaction on one connection, so a batch's tasks, ledger entries and the rest
 * are stored together or not at all. Every connection opens with `search_path` set to the
 * schema (the `options` startup parameter, no extra round trip), so the SQL store's unqualified
 * table names resolve there. Reaching PostgreSQL fails with `STORE_UNAVAILABLE`, naming the
 * URL with its password hidden, at creation and on any later call.
 *
 * One schema has one writing factory (see schema-lock.ts): the store takes the schema's
 * advisory lock before it migrates, and a second store on the schema fails with `STORE_LOCKED`.
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const { url, schema } = validate(options);
  const redacted = redactUrl(url);
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const queryTimeoutMs = options.queryTimeoutMs ?? 30_000;
  const pool = new pg.Pool({
    connectionString: url,
    // Recognisable in pg_stat_activity (a URL's own application_name wins).
    application_name: APPLICATION_NAME,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: connectTimeoutMs,
    query_timeout: queryTimeoutMs,
    // A peer that vanishes without closing (a network cut) is noticed instead of waited on.
    keepAlive: true,
    // pg's 0 would mean the OS default: two hours on Linux.
    keepAliveInitialDelayMillis: 5_000,
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
    // Counts, sums and `bigint` columns (seqs, micro-credits) as numbers, as SQLite returns them;
    // every such value the store keeps is far below 2^53.
    types: { getTypeParser: parserOf as typeof pg.types.getTypeParser },
  });
  const db = new Kysely<SqlDatabase>({ dialect: new PostgresDialect({ pool: new GuardedPool(pool, redacted) }) });
  let lock: SchemaLock | undefined;
  try {
    if (schema !== undefined) await createSchema(db, schema);
    const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
    const current = rows[0]?.schema ?? null;
    if (current === null) throw new FactoryError("STORE_UNAVAILABLE", `the PostgreSQL store ${redacted} has no schema to use: none in its search_path exists (pass \`schema\`)`, { details: { url: redacted } });
    // Before migrating: a refused second factory changes nothing in the schema.
    lock = await SchemaLock.take({ url, redacted, schema: current, connectTimeoutMs, queryTimeoutMs });
    const store = new PostgresStore(db, current, lock);
    await store.migrate();
    return store;
  } catch (error) {
    await db.destroy().catch(() => {});
    await lock?.release();
    throw error;
  }
}

/** The SQL store that writes only while it holds its schema's lock, and lets it go on close. */
class PostgresStore extends SqlStore {
  readonly #lock: SchemaLock;

  constructor(db: Kysely<SqlDatabase>, schema: string, lock: SchemaLock) {
    super(db, { dialect: "postgres", migrationSchema: schema });
    this.#lock = lock;
  }

  override async apply(writes: readonly StoreWrite[]): Promise<void> {
    if (writes.length === 0) return;
    // Lost with its connection: taken again, or the write is refused (STORE_LOCKED / STORE_UNAVAILABLE).
    await this.#lock.ensure();
    await super.apply(writes);
  }

  override async putBudget(budget: StoredBudget): Promise<void> {
    await this.#lock.ensure();
    await super.putBudget(budget);
  }

  override async deleteBudget(key: string): Promise<void> {
    await this.#lock.ensure();
    await super.deleteBudget(key);
  }

  override async prune(query: PruneQuery): Promise<number> {
    await this.#lock.ensure();
    return super.prune(query);
  }

  override async close(): Promise<void> {
    // The pool first, so nothing is written after the lock is let go.
    try {
      await super.close();
    } finally {
      await this.#lock.release();
    }
  }
}

/** Creates the schema if missing; when two nodes start at once, the one that loses the race finds it made. */
async function createSchema(db: Kysely<SqlDatabase>, schema: string): Promise<void> {
  // Looked up first: `create schema if not exists` needs the CREATE right on the database even
  // when the schema exists, which a role given only its schema does not have.
  const { rows } = await sql<{ found: number }>`select 1 as found from pg_namespace where nspname = ${schema}`.execute(db);
  if (rows.length > 0) return;
  try {
    await sql.raw(`create schema if not exists ${schema}`).execute(db);
  } catch (error) {
    // `if not exists` checks before it inserts: a concurrent creator makes ours fail on the catalog's unique index.
    const code = (error as { code?: unknown }).code;
    if (code !== "23505" && code !== "42P06") throw error;
  }
}

function validate(options: PostgresStoreOptions): { url: string; schema: string | undefined } {
  // A misspelt `schemaa` would otherwise put the tables in `public`.
  requireKnownOptions(options, ["url", "schema", "poolSize", "connectTimeoutMs", "queryTimeoutMs"], "PostgreSQL store");
  let { url, schema } = options;
  if (typeof url !== "string" || !/^postgres(ql)?:\/\//.test(url)) {
    throw new FactoryError("VALIDATION_FAILED", `url must be a PostgreSQL URL (postgres://user:password@host:port/database), not ${typeof url === "string" ? redactUrl(url) : typeof url}`, { field: "url" });
  }
  // One string names everything for `serve --postgres URL`: a `schema` parameter is ours, not PostgreSQL's.
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  const fromUrl = parsed?.searchParams.get("schema") ?? undefined;
  if (parsed?.searchParams.has("options") === true) {
    // pg lets the URL's `options` replace the store's own (`-c search_path=<schema>`): the tables would land elsewhere.
    throw new FactoryError("VALIDATION_FAILED", `url: an 'options' parameter would replace the store's search_path; set those settings on the role or database instead (${redactUrl(url)})`, { field: "url" });
  }
  if (parsed !== undefined && fromUrl !== undefined) {
    parsed.searchParams.delete("schema");
    url = parsed.toString();
    schema ??= fromUrl;
  }
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new FactoryError("VALIDATION_FAILED", `schema must be 1 to 63 lower-case letters, digits or _, starting with a letter or _, not ${JSON.stringify(schema)}`, { field: "schema" });
  }
  for (const field of ["poolSize", "connectTimeoutMs", "queryTimeoutMs"] as const) {
    const value = options[field];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) throw new FactoryError("VALIDATION_FAILED", `${field} must be a positive integer, not ${String(value)}`, { field });
  }
  return { url, schema };
}
