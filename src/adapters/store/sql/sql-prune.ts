import { MESSAGE_EVENT } from "../stored-forms.ts";
import type { Kysely } from "kysely";
import type { PruneQuery } from "../../../core/ports/store.ts";
import { FINAL_TASK_STATES } from "../../../core/task-states.ts";
import type { SqlDatabase } from "./sql-database.ts";

/** Deletes what retention asks (old finished tasks, events or crew messages), at most `limit` rows; returns how many went. */
export async function pruneTables(db: Kysely<SqlDatabase>, query: PruneQuery): Promise<number> {
  return query.kind === "tasks" ? pruneTasks(db, query) : pruneEvents(db, query);
}

async function pruneTasks(db: Kysely<SqlDatabase>, query: PruneQuery): Promise<number> {
  // Only final states carry finished_at (a re-driven task clears it), so the index alone
  // finds candidates; the delete checks the state again.
  const base = () => db.selectFrom("tasks").select("id").where("finished_at", "is not", null);
  const ids = new Set<string>();
  if (query.before !== undefined) {
    // A range of the finished_at index, so a round with nothing to delete reads nothing.
    const old = await base().where("finished_at", "<", query.before).orderBy("finished_at").orderBy("id").limit(query.limit).execute();
    for (const row of old) ids.add(row.id);
  }
  if (query.keep !== undefined && ids.size < query.limit) {
    // The newest finished task that must go (ties broken by id), and everything older.
    const edge = await db
      .selectFrom("tasks")
      .select(["finished_at", "id"])
      .where("finished_at", "is not", null)
      .orderBy("finished_at", "desc")
      .orderBy("id", "desc")
      .limit(1)
      .offset(query.keep)
      .executeTakeFirst();
    if (edge !== undefined) {
      const at = edge.finished_at as string;
      const beyond = await base()
        .where((eb) => eb.or([eb("finished_at", "<", at), eb.and([eb("finished_at", "=", at), eb("id", "<=", edge.id)])]))
        .orderBy("finished_at")
        .orderBy("id")
        .limit(query.limit)
        .execute();
      for (const row of beyond) if (ids.size < query.limit) ids.add(row.id);
    }
  }
  if (ids.size === 0) return 0;
  const result = await db.deleteFrom("tasks").where("id", "in", [...ids]).where("state", "in", [...FINAL_TASK_STATES]).executeTakeFirst();
  return Number(result.numDeletedRows);
}

async function pruneEvents(db: Kysely<SqlDatabase>, query: PruneQuery): Promise<number> {
  const messages = query.kind === "messages";
  const base = () => db.selectFrom("events").where("type", messages ? "=" : "<>", MESSAGE_EVENT);
  // Seq follows time, so what goes is always a prefix in seq order: delete up to a seq.
  let upTo = 0;
  if (query.before !== undefined) {
    // Only the oldest `limit` are read, so a round with nothing to delete stays cheap.
    const oldest = await base().select(["seq", "at"]).orderBy("seq").limit(query.limit).execute();
    for (const row of oldest) {
      if (row.at >= query.before) break;
      upTo = Number(row.seq);
    }
  }
  if (query.keep !== undefined) {
    const edge = await base().select("seq").orderBy("seq", "desc").limit(1).offset(query.keep).executeTakeFirst();
    if (edge !== undefined) upTo = Math.max(upTo, Number(edge.seq));
  }
  if (upTo === 0) return 0;
  const seqs = (await base().select("seq").where("seq", "<=", upTo).orderBy("seq").limit(query.limit).execute()).map((r) => r.seq);
  if (seqs.length === 0) return 0;
  await db.deleteFrom("events").where("seq", "in", seqs).execute();
  return seqs.length;
}
