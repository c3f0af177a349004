import type { ListPosition } from "../../../core/list-position.ts";

// How the SQL store's database (SQLite) treats values, for the memory store to do the same:
// which writes it refuses and in what words, how it orders text and numbers, what LIMIT means.

/** A column value as SQL holds it: text, a number, or null. */
export type Cell = string | number | null;

/** Orders text as SQL's binary collation does for these keys, and numbers by value; null first. */
export function compare(a: Cell, b: Cell): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

/** Whether the row at (`at`, `id`) lies past `after` in the listing's order. */
export function past(at: string, id: string, after: ListPosition, newestFirst: boolean): boolean {
  const c = compare(at, after.at) || compare(id, after.id);
  return newestFirst ? c < 0 : c > 0;
}

/** The first `limit` items; a negative limit means all of them, as SQLite reads `LIMIT -1`. */
export function take<T>(items: readonly T[], limit: number): T[] {
  return limit < 0 ? [...items] : items.slice(0, limit);
}

/** Inserts in seq order; writes almost always come in increasing seq, so this is an append. */
export function insertBySeq<T extends { seq: number }>(rows: T[], row: T): void {
  let i = rows.length;
  while (i > 0 && (rows[i - 1] as T).seq > row.seq) i--;
  rows.splice(i, 0, row);
}

/** The row with this seq in rows sorted by seq (binary search), if any. */
export function bySeq<T extends { seq: number }>(rows: readonly T[], seq: number): T | undefined {
  let lo = 0;
  let hi = rows.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const row = rows[mid] as T;
    if (row.seq === seq) return row;
    if (row.seq < seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/** The SQL store's wording for a refused write (SQLite's), so callers read the same message from either. */
export function constraint(kind: "NOT NULL" | "UNIQUE", column: string): Error {
  return new Error(`${kind} constraint failed: ${column}`);
}

export function text(value: unknown, column: string): string {
  const v = nullableText(value, column);
  if (v === null) throw constraint("NOT NULL", column);
  return v;
}

export function nullableText(value: unknown, column: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "string") throw new Error(`${column} must be text, not ${typeof value}`);
  return value;
}

export function num(value: unknown, column: string): number {
  const v = nullableNum(value, column);
  if (v === null) throw constraint("NOT NULL", column);
  return v;
}

/** SQLite keeps NaN as NULL. */
export function nullableNum(value: unknown, column: string): number | null {
  if (value === null || value === undefined || Number.isNaN(value)) return null;
  if (typeof value !== "number") throw new Error(`${column} must be a number, not ${typeof value}`);
  return value;
}

/** The record as JSON text: a copy no caller can change afterwards. */
export function json(value: unknown, column: string): string {
  const out = JSON.stringify(value) as string | undefined;
  if (out === undefined) throw constraint("NOT NULL", column);
  return out;
}
