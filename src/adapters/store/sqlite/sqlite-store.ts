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
  /** How often the WAL is checkpointed into the database file; default 1 s. */
  checkpointIntervalMs?: number;
}

/**
 * The embedded store: one SQLite file in WAL mode. `synchronous=NORMAL` keeps every committed
 * transaction across a process crash (WAL), trading only the last commits on power loss.
 */
export async function createSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  if (options.filename !== ":memory:") mkdirSync(dirname(options.filename), { recursive: true });
  const raw = new DatabaseSync(options.filename);
  // Checkpoints are ours (below) rather than SQLite's automatic ones, which run inside whichever
  // commit crosses the threshold and turn that caller's 0.2 ms into several ms.
  raw.exec("pragma journal_mode = wal; pragma synchronous = normal; pragma busy_timeout = 5000; pragma wal_autocheckpoint = 0;");
  const db = new Kysely<SqlDatabase>({ dialect: new SqliteDialect({ database: new NodeSqliteDatabase(raw) }) });
  const store = new SqliteStore(db, options.checkpointIntervalMs ?? 1_000);
  await store.migrate();
  return store;
}

/** The SQL store plus a periodic passive WAL checkpoint, so the WAL file stays small. */
class SqliteStore extends SqlStore {
  readonly #timer: NodeJS.Timeout;
  #checkpointing = false;

  constructor(db: Kysely<SqlDatabase>, intervalMs: number) {
    super(db);
    this.#timer = setInterval(() => {
      if (this.#checkpointing) return;
      this.#checkpointing = true;
      this.maintain("pragma wal_checkpoint(PASSIVE)")
        .catch(() => {}) // a closed or busy database: the next round tries again
        .finally(() => {
          this.#checkpointing = false;
        });
    }, intervalMs);
    this.#timer.unref();
  }

  override async close(): Promise<void> {
    clearInterval(this.#timer);
    await super.close();
  }
}
