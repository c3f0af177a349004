import { MESSAGE_EVENT } from "../stored-forms.ts";
import type { PruneQuery } from "../../../core/ports/store.ts";
import { FINAL_TASK_STATES } from "../../../core/task-states.ts";
import type { MemoryTables, TaskRow } from "./memory-tables.ts";
import { compare, take } from "./sqlite-semantics.ts";

const FINAL: ReadonlySet<string> = new Set(FINAL_TASK_STATES);

/** Deletes what retention asks of the tables (old finished tasks, events or crew messages), as the SQL store's prune does; returns how many rows went. */
export function pruneTables(tables: MemoryTables, query: PruneQuery): number {
  return query.kind === "tasks" ? pruneTasks(tables, query) : pruneEvents(tables, query);
}

function pruneTasks(tables: MemoryTables, query: PruneQuery): number {
  // Candidates are the tasks with a finish time, oldest first (ties by id); only those in a
  // final state are deleted, as the SQL store checks the state again in its DELETE.
  const finished = [...tables.tasks.values()]
    .filter((r): r is TaskRow & { finishedAt: string } => r.finishedAt !== null)
    .sort((a, b) => compare(a.finishedAt, b.finishedAt) || compare(a.id, b.id));
  const ids = new Set<string>();
  if (query.before !== undefined) {
    const before = query.before;
    for (const r of take(finished.filter((r) => r.finishedAt < before), query.limit)) ids.add(r.id);
  }
  if (query.keep !== undefined && ids.size < query.limit) {
    // The newest finished task that must go (ties broken by id), and everything older.
    const edgeIndex = finished.length - 1 - Math.max(0, query.keep);
    if (edgeIndex >= 0) {
      for (const r of take(finished.slice(0, edgeIndex + 1), query.limit)) if (ids.size < query.limit) ids.add(r.id);
    }
  }
  let deleted = 0;
  for (const id of ids) {
    const row = tables.tasks.get(id);
    if (row === undefined || !FINAL.has(row.state)) continue;
    tables.tasks.delete(id);
    if (row.idempotencyKey !== null && tables.taskKeys.get(row.idempotencyKey) === id) tables.taskKeys.delete(row.idempotencyKey);
    deleted += 1;
  }
  return deleted;
}

function pruneEvents(tables: MemoryTables, query: PruneQuery): number {
  const messages = query.kind === "messages";
  const kind = tables.events.filter((r) => (r.type === MESSAGE_EVENT) === messages);
  // Seq follows time, so what goes is always a prefix in seq order: delete up to a seq.
  let upTo = 0;
  if (query.before !== undefined) {
    for (const r of take(kind, query.limit)) {
      if (r.at >= query.before) break;
      upTo = r.seq;
    }
  }
  if (query.keep !== undefined) {
    const edge = kind[kind.length - 1 - Math.max(0, query.keep)];
    if (edge !== undefined) upTo = Math.max(upTo, edge.seq);
  }
  if (upTo === 0) return 0;
  const gone = new Set(take(kind.filter((r) => r.seq <= upTo), query.limit).map((r) => r.seq));
  if (gone.size === 0) return 0;
  tables.events = tables.events.filter((r) => !gone.has(r.seq));
  return gone.size;
}
