import type { Kysely } from "kysely";
import type { Agent } from "../../../core/agent.ts";
import type { Crew } from "../../../core/crew.ts";
import type { FactoryEvent } from "../../../core/events.ts";
import { toMicro, type LedgerEntry } from "../../../core/ledger.ts";
import { lastWritePerRecord } from "../../../core/last-write-per-record.ts";
import type { StoreWrite } from "../../../core/ports/store.ts";
import type { ProfileRecord } from "../../../core/schemas/profile.ts";
import type { Task } from "../../../core/task.ts";
import type { Wallet } from "../../../core/wallet.ts";
import { chunks } from "./chunks.ts";
import { seqTaken } from "./seq-taken.ts";
import type { SqlDatabase } from "./sql-database.ts";

/** Who writes a batch, when several nodes share the store. */
export interface BatchWriter {
  /**
   * The writing node: its agent, crew and task rows name it as their owner (`node_id`). A node
   * writes only rows it owns, so the writer is the owner. Null for a store with one writer.
   */
  nodeId: string | null;
}

/**
 * Writes a batch inside the caller's transaction: multi-row upserts table by table, each keeping
 * what its record never changes (an agent's role, a task's creation), and the crew context.
 */
export async function writeBatch(trx: Kysely<SqlDatabase>, writes: readonly StoreWrite[], writer: BatchWriter = { nodeId: null }): Promise<void> {
  const byKind = groupByKind(writes);
  const owner = writer.nodeId;
  for (const part of chunks(byKind.profile)) {
    await trx
      .insertInto("profiles")
      .values(part.map((p) => ({ name: p.name, version: p.version, created_at: p.createdAt, data: JSON.stringify(p) })))
      .onConflict((oc) => oc.columns(["name", "version"]).doNothing())
      .execute();
  }
  for (const part of chunks(byKind.agent)) {
    await trx
      .insertInto("agents")
      .values(
        part.map((a) => ({
          id: a.id,
          state: a.state,
          role: a.role,
          profile: a.profile,
          crew_id: a.crewId,
          spawned_at: a.spawnedAt,
          node_id: owner ?? (a.nodeId === "" ? null : a.nodeId),
          data: JSON.stringify(a),
        })),
      )
      .onConflict((oc) =>
        oc.column("id").doUpdateSet((eb) => ({
          state: eb.ref("excluded.state"),
          crew_id: eb.ref("excluded.crew_id"),
          node_id: eb.ref("excluded.node_id"),
          data: eb.ref("excluded.data"),
        })),
      )
      .execute();
  }
  for (const part of chunks(byKind.crew)) {
    await trx
      .insertInto("crews")
      .values(part.map((c) => ({ id: c.id, state: c.state, name: c.name, created_at: c.createdAt, node_id: owner, data: JSON.stringify(c) })))
      .onConflict((oc) =>
        oc.column("id").doUpdateSet((eb) => ({ state: eb.ref("excluded.state"), node_id: eb.ref("excluded.node_id"), data: eb.ref("excluded.data") })),
      )
      .execute();
  }
  for (const part of chunks(byKind.task)) {
    await trx
      .insertInto("tasks")
      .values(
        part.map((t) => ({
          id: t.id,
          state: t.state,
          crew_id: t.crewId,
          created_at: t.createdAt,
          idempotency_key: t.idempotencyKey ?? null,
          finished_at: t.finishedAt,
          // Set once, when the task is made: an update never changes it.
          trace_id: t.traceId ?? null,
          node_id: owner,
          data: JSON.stringify(t),
        })),
      )
      .onConflict((oc) =>
        oc.column("id").doUpdateSet((eb) => ({ state: eb.ref("excluded.state"), finished_at: eb.ref("excluded.finished_at"), node_id: eb.ref("excluded.node_id"), data: eb.ref("excluded.data") })),
      )
      .execute();
  }
  for (const part of chunks(byKind.wallet)) {
    await trx
      .insertInto("wallets")
      .values(part.map((w) => ({ address: w.address, owner_id: w.ownerId, data: JSON.stringify(w) })))
      .onConflict((oc) => oc.column("address").doUpdateSet((eb) => ({ data: eb.ref("excluded.data") })))
      .execute();
  }
  for (const part of chunks(byKind.event)) {
    const kept = await trx
      .insertInto("events")
      .values(
        part.map((e) => ({
          seq: e.seq,
          type: e.type,
          at: e.at,
          agent_id: e.agentId ?? null,
          crew_id: e.crewId ?? null,
          task_id: e.taskId ?? null,
          data: JSON.stringify(e),
        })),
      )
      .onConflict((oc) => oc.column("seq").doNothing())
      .executeTakeFirst();
    if (Number(kept.numInsertedOrUpdatedRows) < part.length) await sameAsStored(trx, "events", part, (e) => JSON.stringify(e), (data) => data);
  }
  for (const part of chunks(byKind.ledger)) {
    const kept = await trx
      .insertInto("ledger")
      .values(
        part.map((e) => ({
          seq: e.seq,
          id: e.id,
          kind: e.kind,
          debit: e.debit,
          credit: e.credit,
          micro: toMicro(e.amount),
          crew_id: e.crewId,
          agent_id: e.agentId,
          task_id: e.taskId,
          reservation_id: e.reservationId,
          model: e.model,
          tokens_in: e.tokensIn,
          tokens_out: e.tokensOut,
          at: e.at,
          data: JSON.stringify(e),
        })),
      )
      // Append-only: a re-written entry (a retried batch) is the same entry.
      .onConflict((oc) => oc.column("seq").doNothing())
      .executeTakeFirst();
    if (Number(kept.numInsertedOrUpdatedRows) < part.length) await sameAsStored(trx, "ledger", part, (e) => e.id, (data) => (JSON.parse(data) as LedgerEntry).id);
  }
  for (const write of byKind.context) {
    if (write.deleted) {
      await trx.deleteFrom("crew_context").where("crew_id", "=", write.crewId).where("key", "=", write.key).execute();
    } else {
      await trx
        .insertInto("crew_context")
        .values({ crew_id: write.crewId, key: write.key, updated_at: new Date().toISOString(), value: JSON.stringify(write.value) })
        .onConflict((oc) =>
          oc.columns(["crew_id", "key"]).doUpdateSet((eb) => ({ value: eb.ref("excluded.value"), updated_at: eb.ref("excluded.updated_at") })),
        )
        .execute();
    }
  }
}

/**
 * Called when an insert skipped rows (their seq was taken): checks that each stored row under
 * the batch's seqs is the batch's own, written before (a batch retried after a commit whose
 * answer was lost). A seq held by a different event or entry means two writers numbered alike
 * (two nodes counting from the same last seq): the batch is refused rather than one of them
 * silently dropped. Rows this insert just wrote are the batch's own too, so they pass.
 */
async function sameAsStored<T extends { seq: number }>(
  trx: Kysely<SqlDatabase>,
  table: "events" | "ledger",
  part: readonly T[],
  identity: (value: T) => string,
  storedIdentity: (data: string) => string,
): Promise<void> {
  const rows = await trx
    .selectFrom(table)
    .select(["seq", "data"])
    .where("seq", "in", part.map((v) => v.seq))
    .execute();
  const stored = new Map(rows.map((row) => [Number(row.seq), storedIdentity(row.data)]));
  for (const value of part) {
    const theirs = stored.get(value.seq);
    if (theirs !== identity(value)) throw seqTaken(table, value.seq, theirs);
  }
}

interface Grouped {
  profile: ProfileRecord[];
  agent: Agent[];
  crew: Crew[];
  task: Task[];
  wallet: Wallet[];
  event: FactoryEvent[];
  context: Extract<StoreWrite, { kind: "context" }>[];
  ledger: LedgerEntry[];
}

/**
 * The batch's writes by kind: the last write of each record, sorted by its key. Sorted so that
 * concurrent batches lock the rows they share in one order, table after table, key after key,
 * and so never deadlock on each other. Today one factory writes a schema (the schema lock); the
 * order is kept for when several nodes write one again, and costs a sort of ~100 keys a batch.
 */
function groupByKind(writes: readonly StoreWrite[]): Grouped {
  const out: Grouped = { profile: [], agent: [], crew: [], task: [], wallet: [], event: [], context: [], ledger: [] };
  for (const w of lastWritePerRecord(writes)) {
    if (w.kind === "context") out.context.push(w);
    else (out[w.kind] as unknown[]).push(w.value);
  }
  out.profile.sort((a, b) => byText(a.name, b.name) || a.version - b.version);
  for (const rows of [out.agent, out.crew, out.task]) rows.sort((a, b) => byText(a.id, b.id));
  out.wallet.sort((a, b) => byText(a.address, b.address));
  out.event.sort((a, b) => a.seq - b.seq);
  out.ledger.sort((a, b) => a.seq - b.seq);
  out.context.sort((a, b) => byText(a.crewId, b.crewId) || byText(a.key, b.key));
  return out;
}

/** Code-unit order: any total order serves, as long as every writer uses the same one. */
const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
