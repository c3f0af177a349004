/**
 * A query's `limit` as both dialects read it the same way. A negative limit means "all rows" (as
 * SQLite reads `LIMIT -1`, and the memory store copies); PostgreSQL refuses a negative LIMIT, so
 * it becomes the largest safe integer, which both accept.
 */
export function rowLimit(limit: number | undefined, fallback: number): number {
  const n = limit ?? fallback;
  return n < 0 ? Number.MAX_SAFE_INTEGER : n;
}
