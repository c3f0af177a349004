import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { SqliteDatabase, SqliteStatement } from "kysely";

/**
 * Presents Node's built-in `node:sqlite` as the slice of better-sqlite3 that Kysely's
 * SqliteDialect drives, so the embedded store needs no native addon. Prepared statements are
 * cached by SQL text because Kysely prepares on every execution.
 */
export class NodeSqliteDatabase implements SqliteDatabase {
  readonly #db: DatabaseSync;
  readonly #cache = new Map<string, SqliteStatement>();
  static readonly #CACHE_LIMIT = 512;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  prepare(sql: string): SqliteStatement {
    const cached = this.#cache.get(sql);
    if (cached !== undefined) return cached;
    const statement = wrap(this.#db.prepare(sql));
    if (this.#cache.size >= NodeSqliteDatabase.#CACHE_LIMIT) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(sql, statement);
    return statement;
  }

  close(): void {
    this.#cache.clear();
    if (this.#db.isOpen) this.#db.close();
  }
}

type SqlValue = null | number | bigint | string | Uint8Array;

function wrap(statement: StatementSync): SqliteStatement {
  const reader = statement.columns().length > 0;
  const params = (parameters: ReadonlyArray<unknown>): SqlValue[] => parameters.map(toSqlValue);
  return {
    reader,
    all: (parameters) => statement.all(...params(parameters)),
    run: (parameters) => statement.run(...params(parameters)),
    iterate: (parameters) => statement.iterate(...params(parameters)),
  };
}

/** node:sqlite binds only these types; booleans and undefined are mapped as better-sqlite3 users expect. */
function toSqlValue(value: unknown): SqlValue {
  if (value === undefined) return null;
  if (typeof value === "boolean") return value ? 1 : 0;
  return value as SqlValue;
}
