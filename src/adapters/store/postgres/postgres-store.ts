import pg from "pg";
import { Kysely, PostgresDialect, sql } from "kysely";
import { FactoryError } from "../../../core/errors.ts";
import type { OwnedKind, OwnedRows, Store, StoreNode, StoreWrite } from "../../../core/ports/store.ts";
import type { SqlDatabase } from "../sql/sql-database.ts";
import { SqlStore } from "../sql/sql-store.ts";
import { GuardedPool } from "./guarded-pool.ts";
import { redactUrl } from "../../../core/redact-url.ts";
import { requireKnownOptions } from "../../../core/known-options.ts";
import { adoptNode, attachNode, checkFence, fenceLost, numberBatch, type NodeFence } from "./node-rows.ts";
import { writeBatch } from "../sql/sql-writes.ts";

/** What every connection of the store calls itself in `pg_stat_activity`, unless the URL names another. */
export const APPLICATION_NAME = "agent-factory";

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
 * Several nodes write one schema (`attachNode`): each owns its agent, crew and task rows, its
 * writes prove its fence, event and ledger seqs come from the database in commit order, and a
 * node takes a dead node's rows with `adoptNode` (see node-rows.ts).
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
  try {
    if (schema !== undefined) await createSchema(db, schema);
    const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
    const current = rows[0]?.schema ?? null;
    if (current === null) throw new FactoryError("STORE_UNAVAILABLE", `the PostgreSQL store ${redacted} has no schema to use: none in its search_path exists (pass \`schema\`)`, { details: { url: redacted } });
    const store = new PostgresStore(db, current);
    await store.migrate();
    return store;
  } catch (error) {
    await db.destroy().catch(() => {});
    throw error;
  }
}

/** The SQL store, shared by the nodes of a cluster once a node attaches. */
class PostgresStore extends SqlStore {
  /** The attached node and its fence; undefined until `attachNode` (then the store has one writer, numbering as SQLite's). */
  #node: NodeFence | undefined;

  constructor(db: Kysely<SqlDatabase>, schema: string) {
    super(db, { dialect: "postgres", migrationSchema: schema });
  }

  override async apply(writes: readonly StoreWrite[]): Promise<void> {
    const node = this.#node;
    if (node === undefined) return super.apply(writes);
    if (writes.length === 0) return;
    // Events and ledger entries go last: numbering them locks the cluster's shared counter rows
    // until commit, and every node's event-bearing commit waits on those rows, so they are held
    // only for the inserts that need the numbers.
    const numbered = writes.filter((w) => w.kind === "event" || w.kind === "ledger");
    const rest = numbered.length === 0 ? writes : writes.filter((w) => w.kind !== "event" && w.kind !== "ledger");
    await this.transaction(async (trx) => {
      // First, so the node's row is held until commit: no adopter takes its rows half-way.
      await checkFence(trx, node);
      if (rest.length > 0) await writeBatch(trx, rest, { nodeId: node.id });
      if (numbered.length > 0) await writeBatch(trx, await numberBatch(trx, numbered), { nodeId: node.id });
    });
  }

  async attachNode(node: StoreNode): Promise<OwnedRows> {
    const { fence, owned } = await this.transaction((trx) => attachNode(trx, node));
    this.#node = fence;
    return owned;
  }

  async fenceLost(): Promise<string | undefined> {
    const node = this.#node;
    if (node === undefined) return undefined;
    return (await fenceLost(this.db, node))?.message;
  }

  async ownerOf(kind: OwnedKind, id: string): Promise<string | null | undefined> {
    if (kind === "wallet") {
      // A wallet is owned with its agent or crew (a system wallet has neither: undefined).
      const row = await this.db
        .selectFrom("wallets")
        .leftJoin("agents", "agents.id", "wallets.owner_id")
        .leftJoin("crews", "crews.id", "wallets.owner_id")
        .select(["agents.node_id as agent_node", "crews.node_id as crew_node", "agents.id as agent_id", "crews.id as crew_id"])
        .where("wallets.address", "=", id)
        .executeTakeFirst();
      if (row === undefined || (row.agent_id === null && row.crew_id === null)) return undefined;
      return row.agent_node ?? row.crew_node ?? null;
    }
    const table = kind === "agent" ? "agents" : kind === "crew" ? "crews" : "tasks";
    const row = await this.db.selectFrom(table).select("node_id").where("id", "=", id).executeTakeFirst();
    return row === undefined ? undefined : row.node_id;
  }

  async adoptNode(dead: StoreNode): Promise<OwnedRows | undefined> {
    const node = this.#node;
    if (node === undefined) throw new FactoryError("NODE_FENCED", `adopting node '${dead.id}' needs an attached node (attachNode first)`);
    if (dead.id === node.id) throw new FactoryError("VALIDATION_FAILED", `node '${node.id}' cannot adopt itself`);
    return this.transaction(async (trx) => {
      await checkFence(trx, node);
      return adoptNode(trx, node.id, dead);
    });
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
