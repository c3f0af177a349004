import { chmodSync, mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Kysely, SqliteDialect } from "kysely";
import type { Store } from "../../../core/ports/store.ts";
import type { SqlDatabase } from "../sql/sql-database.ts";
import { SqlStore } from "../sql/sql-store.ts";
import { NodeSqliteDatabase } from "./node-sqlite-database.ts";
import { openSqliteFile, releaseSqliteFile } from "./open-sqlite-file.ts";

export interface SqliteStoreOptions {
  /** Path of the database file, or `:memory:`. */
  filename: string;
  /** How often the WAL is checkpointed into the database file; default 1 s. */
  checkpointIntervalMs?: number;
  /** Opens a 0-byte database file as a new empty store instead of refusing it; default false. */
  allowEmpty?: boolean;
}

/**
 * The embedded store: one SQLite file in WAL mode. `synchronous=NORMAL` keeps every committed
 * transaction across a process crash (WAL), trading only the last commits on power loss. A file
 * is opened by one process at a time and only when it is sound (see open-sqlite-file.ts): a
 * second opener gets `STORE_LOCKED`, a damaged file `STORE_DAMAGED`.
 */
export async function createSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const file = options.filename !== ":memory:";
  if (file) privateFolder(dirname(options.filename));
  const raw = file ? openSqliteFile(options.filename, { allowEmpty: options.allowEmpty ?? false }) : new DatabaseSync(options.filename);
  // Checkpoints are ours (below) rather than SQLite's automatic ones, which run inside whichever
  // commit crosses the threshold and turn that caller's 0.2 ms into several ms.
  raw.exec("pragma journal_mode = wal; pragma synchronous = normal; pragma wal_autocheckpoint = 0;");
  const db = new Kysely<SqlDatabase>({ dialect: new SqliteDialect({ database: new NodeSqliteDatabase(raw) }) });
  const store = new SqliteStore(db, options.checkpointIntervalMs ?? 1_000, file ? options.filename : undefined);
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

/** The SQL store plus a periodic passive WAL checkpoint, so the WAL file stays small. */
class SqliteStore extends SqlStore {
  readonly #timer: NodeJS.Timeout;
  readonly #filename: string | undefined;
  #checkpointing = false;

  constructor(db: Kysely<SqlDatabase>, intervalMs: number, filename: string | undefined) {
    super(db, { dialect: "sqlite" });
    this.#filename = filename;
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
    if (this.#filename !== undefined) releaseSqliteFile(this.#filename);
  }
}

/**
 * The store's folder, readable by its owner only (0700): it holds every task's input and result,
 * and agents run as another user (65534) on the host. A folder this process owns is tightened
 * if it was looser; one it does not own is left as it is.
 */
export function privateFolder(dir: string): void {
  // The kernel's own file systems hold no data folder; and a recursive mkdir under /proc loops
  // for ever in Node (each level answers ENOENT), so the start would hang instead of failing.
  if (/^\/(proc|sys|dev)(\/|$)/.test(resolve(dir))) {
    throw Object.assign(new Error(`${dir} is under /proc, /sys or /dev: the kernel's file systems, not a disk's`), { code: "EINVAL" });
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = statSync(dir);
  if (stat.uid === process.getuid?.() && (stat.mode & 0o077) !== 0) chmodSync(dir, stat.mode & 0o700);
}
