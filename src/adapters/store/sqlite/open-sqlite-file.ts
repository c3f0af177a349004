import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { FactoryError } from "../../../core/errors.ts";

export interface OpenSqliteFileOptions {
  /** Opens a 0-byte file as a new, empty database instead of refusing it; default false. */
  allowEmpty?: boolean;
}

/** SQLite's result codes that say who is at fault (sqlite.org/rescode.html). */
const SQLITE_BUSY = 5;
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

/** The most problems `quick_check` lists in the refusal. */
const PROBLEMS_SHOWN = 3;

/**
 * Opens the embedded store's file for this process alone, after checking that it is a sound
 * database. The lock is SQLite's own: `locking_mode=EXCLUSIVE` makes the connection keep the
 * POSIX lock on the file from its first write until it closes, and the kernel drops that lock
 * when the process dies (even by `kill -9`), so a dead holder never leaves a stale lock and
 * two openers can never both win. The lock names no process, so the holder writes its pid
 * beside the file (`<file>.pid`) for the refusal message only; the lock, not that file,
 * decides. Nothing here opens the database file through `fs`: closing any descriptor of a file
 * drops every POSIX lock this process holds on it.
 */
export function openSqliteFile(filename: string, options: OpenSqliteFileOptions = {}): DatabaseSync {
  // A 0-byte file where a database was is a lost database, not a new one (SQLite would quietly
  // start it empty). A missing file is a fresh data dir, which just works.
  const size = statSync(filename, { throwIfNoEntry: false })?.size;
  if (size === 0 && options.allowEmpty !== true) {
    throw new FactoryError(
      "STORE_DAMAGED",
      `the store ${filename} is an empty file (0 bytes): the database that was there is gone. Restore it from a backup, or start a new empty store by deleting the file or passing --allow-empty-store (allowEmptyStore: true)`,
      { details: { file: filename, problem: "empty" } },
    );
  }
  const db = new DatabaseSync(filename);
  try {
    // Exclusive before the first WAL access, so SQLite keeps the WAL index in this process's
    // memory (no -shm file other processes could map). No busy timeout: a holder never lets go.
    db.exec("pragma locking_mode = exclusive; pragma busy_timeout = 0;");
    db.exec("pragma journal_mode = wal;");
    // The first write takes the exclusive lock, and it is kept until close.
    db.exec("begin immediate; commit;");
    const problems = db
      .prepare("pragma quick_check")
      .all()
      // A row may hold several lines, headed by "*** in database main ***".
      .flatMap((row) => String(Object.values(row)[0]).split("\n"))
      .filter((line) => line !== "ok" && line.trim() !== "" && !line.startsWith("*** in database"));
    if (problems.length > 0) {
      const shown = problems.slice(0, PROBLEMS_SHOWN).join("; ") + (problems.length > PROBLEMS_SHOWN ? ` (and ${problems.length - PROBLEMS_SHOWN} more)` : "");
      throw damaged(filename, `fails SQLite's integrity check: ${shown}`, "corrupt");
    }
  } catch (error) {
    db.close();
    throw translate(filename, error);
  }
  writeFileSync(pidFile(filename), `${process.pid}\n`);
  return db;
}

/** Removes the pid file if it still names this process (called after the database is closed). */
export function releaseSqliteFile(filename: string): void {
  try {
    if (readFileSync(pidFile(filename), "utf8").trim() === String(process.pid)) rmSync(pidFile(filename), { force: true });
  } catch {
    // Already gone, or never written.
  }
}

const pidFile = (filename: string): string => `${filename}.pid`;

function translate(filename: string, error: unknown): unknown {
  if (error instanceof FactoryError) return error;
  const code = (error as { errcode?: number }).errcode;
  const said = error instanceof Error ? error.message : String(error);
  if (code === SQLITE_BUSY) {
    const holder = readHolder(filename);
    if (holder === undefined || !running(holder)) {
      // The pid file is stale or missing (written a moment after the lock is taken, or left by a
      // crash): the lock is held, but not by a factory it can name.
      return new FactoryError(
        "STORE_LOCKED",
        `the store ${filename} is locked by another process, and ${pidFile(filename)} names no running factory${holder === undefined ? "" : ` (pid ${holder} has exited)`}: a factory still starting, or another program (such as sqlite3) has it open. Stop it, or give this factory another data dir`,
        { cause: error, details: { file: filename, pid: null } },
      );
    }
    return new FactoryError(
      "STORE_LOCKED",
      `the store ${filename} is in use by another factory (pid ${holder}, per ${pidFile(filename)}): one data dir serves one factory at a time. Stop that one, or give this one another data dir`,
      { cause: error, details: { file: filename, pid: holder } },
    );
  }
  if (code === SQLITE_NOTADB) return damaged(filename, `is not a SQLite database (its header is wrong: ${said})`, "header", error);
  if (code === SQLITE_CORRUPT || (code !== undefined && (code & 0xff) === SQLITE_CORRUPT)) return damaged(filename, `is corrupt: ${said}`, "corrupt", error);
  return new FactoryError("STORE_UNAVAILABLE", `the store ${filename} could not be opened: ${said}`, { cause: error, details: { file: filename } });
}

function damaged(filename: string, what: string, problem: "header" | "corrupt", cause?: unknown): FactoryError {
  return new FactoryError(
    "STORE_DAMAGED",
    `the store ${filename} ${what}. The factory will not start on a damaged store; see docs/storage.md ("A damaged store") to recover`,
    { details: { file: filename, problem }, ...(cause === undefined ? {} : { cause }) },
  );
}

/** Whether a process with this pid exists (EPERM: it does, under another user). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readHolder(filename: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(pidFile(filename), "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
