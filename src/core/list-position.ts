/**
 * A place in a newest-first listing (tasks, agents, crews): the time and id of the last item a
 * page held. Ids break ties between records of the same millisecond, so every record has one
 * place and a listing resumed from a position neither repeats nor skips one.
 */
export interface ListPosition {
  /** The record's creation time (an agent's `spawnedAt`), as `Date.toISOString()` writes it. */
  at: string;
  id: string;
}

/** Sort order for newest first: later `at` first, then the larger id. */
export function newestFirst(a: ListPosition, b: ListPosition): number {
  if (a.at !== b.at) return a.at < b.at ? 1 : -1;
  return a.id === b.id ? 0 : a.id < b.id ? 1 : -1;
}

/** Whether `item` comes after `position` in newest-first order (is older, or as old with a smaller id). */
export function isPast(item: ListPosition, position: ListPosition): boolean {
  return newestFirst(item, position) > 0;
}
