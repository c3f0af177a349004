import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Kysely, SqliteDialect } from "kysely";
import type { Store } from "../../../core/ports/store.ts";
import { SqlStore, type SqlDatabase } from "../sql/sql-store.ts";
import { NodeSqliteDatabase } from "./node-sqlite-database.ts";

export interface SqliteStoreOptions {
  /** Path of the database file, or `:memory:`. */
  filename: string;
}

/**
 * The embedded store: one SQLite file in WAL mode. `synchronous=NORMAL` keeps every committed
 * transaction across a process crash (WAL), trading only the last commits on power loss.
 */
export async function createSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  if (options.filename !== ":memory:") mkdirSync(dirname(options.filename), { recursive: true });
  const raw = new DatabaseSync(options.filename);
  raw.exec("pragma journal_mode = wal; pragma synchronous = normal; pragma busy_timeout = 5000;");
  const db = new Kysely<SqlDatabase>({ dialect: new SqliteDialect({ database: new NodeSqliteDatabase(raw) }) });
  const store = new SqlStore(db);
  await store.migrate();
  return store;
}
