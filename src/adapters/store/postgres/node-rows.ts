import { sql, type Kysely } from "kysely";
import { upgradeAgent, type Agent } from "../../../core/agent.ts";
import type { Crew } from "../../../core/crew.ts";
import { FactoryError } from "../../../core/errors.ts";
import type { OwnedRows, StoreNode, StoreWrite } from "../../../core/ports/store.ts";
import { upgradeTask, type Task } from "../../../core/task.ts";
import { parse, type SqlDatabase } from "../sql/sql-database.ts";

/** The attached node and the fence it was given: every write proves the fence still stands. */
export interface NodeFence {
  id: string;
  fence: number;
}

const UNFINISHED_TASKS = ["QUEUED", "ASSIGNED", "RUNNING"];

/**
 * Registers a life of a node (moving its fence on, so an earlier life still writing is refused),
 * gives it the rows no node owns yet, and reads what it owns. One transaction.
 */
export async function attachNode(trx: Kysely<SqlDatabase>, node: StoreNode): Promise<{ fence: NodeFence; owned: OwnedRows }> {
  const now = new Date().toISOString();
  const row = await trx
    .insertInto("nodes")
    .values({ id: node.id, fence: 1, started_at: node.startedAt, adopted_by: null, updated_at: now })
    .onConflict((oc) =>
      oc.column("id").doUpdateSet((eb) => ({
        fence: sql<number>`${eb.ref("nodes.fence")} + 1`,
        started_at: eb.ref("excluded.started_at"),
        adopted_by: null,
        updated_at: eb.ref("excluded.updated_at"),
      })),
    )
    .returning("fence")
    .executeTakeFirstOrThrow();
  // Rows written before the store was shared (one factory, no owner): the first node takes them.
  for (const table of ["agents", "crews", "tasks"] as const) await trx.updateTable(table).set({ node_id: node.id }).where("node_id", "is", null).execute();
  const owned = await ownedBy(trx, node.id);
  return { fence: { id: node.id, fence: Number(row.fence) }, owned };
}

/**
 * Takes the rows of a dead node for `adopter` (answering its unfinished ones), and fences the dead node out. Only the
 * first adopter of that life of the node gets them (the `nodes` row is the arbiter, locked by the
 * update): a later one, or a life that never attached, gets undefined. A write of the dead node
 * still in flight holds its `nodes` row `for share`, so it commits before this update or fails
 * its fence check after it: never half on each side.
 */
export async function adoptNode(trx: Kysely<SqlDatabase>, adopter: string, dead: StoreNode): Promise<OwnedRows | undefined> {
  const taken = await trx
    .updateTable("nodes")
    .set((eb) => ({ fence: sql<number>`${eb.ref("fence")} + 1`, adopted_by: adopter, updated_at: new Date().toISOString() }))
    .where("id", "=", dead.id)
    // That life, or a later one the node joined again as after a lapse (same process, same
    // attach); not a life that attached after it (a restart, which now owns the rows).
    .where("started_at", "<=", dead.startedAt)
    .where("adopted_by", "is", null)
    .returning("id")
    .executeTakeFirst();
  if (taken === undefined) {
    // Taken already. By this node, on a try whose answer was lost (a dropped connection after the
    // commit)? Then it gets what it owns, and keeps what it does not run yet.
    const row = await trx.selectFrom("nodes").select(["adopted_by", "started_at"]).where("id", "=", dead.id).executeTakeFirst();
    return row?.adopted_by === adopter && row.started_at <= dead.startedAt ? ownedBy(trx, adopter) : undefined;
  }
  const [crews, agents, tasks] = [
    await trx.updateTable("crews").set({ node_id: adopter }).where("node_id", "=", dead.id).where("state", "!=", "DISBANDED").returning("data").execute(),
    await trx.updateTable("agents").set({ node_id: adopter }).where("node_id", "=", dead.id).where("state", "!=", "TERMINATED").returning(["data", "state"]).execute(),
    await trx.updateTable("tasks").set({ node_id: adopter }).where("node_id", "=", dead.id).where("state", "in", UNFINISHED_TASKS).returning("data").execute(),
  ];
  // And the rest of its rows, so that what its ended agents and crews still have (a wallet's
  // credits, a dead-lettered task to re-drive) is a live node's to answer for.
  for (const table of ["agents", "crews", "tasks"] as const) await trx.updateTable(table).set({ node_id: adopter }).where("node_id", "=", dead.id).execute();
  const byCreation = <T extends { createdAt: string; id: string }>(a: T, b: T): number => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1);
  const bySpawn = (a: Agent, b: Agent): number => (a.spawnedAt > b.spawnedAt ? -1 : a.spawnedAt < b.spawnedAt ? 1 : a.id > b.id ? -1 : 1);
  return {
    crews: crews.map(parse<Crew>).sort((a, b) => byCreation(b, a)),
    // Sleepers change owner but stay asleep in the store.
    agents: agents
      .filter((row) => row.state !== "HIBERNATING")
      .map((row) => upgradeAgent(parse<Agent>(row)))
      .sort(bySpawn),
    tasks: tasks.map((row) => upgradeTask(parse<Task>(row))).sort(byCreation),
  };
}

/** What `node` owns and is unfinished, in the orders the store's lists use. */
async function ownedBy(trx: Kysely<SqlDatabase>, node: string): Promise<OwnedRows> {
  const [crews, agents, tasks] = await Promise.all([
    trx.selectFrom("crews").select("data").where("node_id", "=", node).where("state", "!=", "DISBANDED").orderBy("created_at", "desc").orderBy("id", "desc").execute(),
    trx
      .selectFrom("agents")
      .select("data")
      .where("node_id", "=", node)
      .where("state", "not in", ["TERMINATED", "HIBERNATING"])
      .orderBy("spawned_at", "desc")
      .orderBy("id", "desc")
      .execute(),
    trx.selectFrom("tasks").select("data").where("node_id", "=", node).where("state", "in", UNFINISHED_TASKS).orderBy("created_at").orderBy("id").execute(),
  ]);
  return {
    crews: crews.map(parse<Crew>),
    agents: agents.map((row) => upgradeAgent(parse<Agent>(row))),
    tasks: tasks.map((row) => upgradeTask(parse<Task>(row))),
  };
}

/**
 * Numbers the batch's events and ledger entries from the store's counters, in put order, inside
 * the writing transaction: the counters' rows stay locked until commit, so seqs follow commit
 * order across nodes and a reader paging by seq never skips a row committed later under a lower
 * one. The seqs are written into the events and entries themselves (the factory shows them once
 * committed). Entries already stored by an earlier try of this batch whose commit answer was
 * lost are left out (an entry's id is unique); an event has no id, so such a retry can store an
 * event twice.
 */
export async function numberBatch(trx: Kysely<SqlDatabase>, writes: readonly StoreWrite[]): Promise<StoreWrite[]> {
  const events: Array<{ seq: number }> = [];
  const entries: Array<{ id: string; seq: number }> = [];
  for (const w of writes) {
    if (w.kind === "event") events.push(w.value);
    else if (w.kind === "ledger") entries.push(w.value);
  }
  let out: readonly StoreWrite[] = writes;
  if (entries.length > 0) {
    const stored = await trx
      .selectFrom("ledger")
      .select("id")
      .where("id", "in", entries.map((e) => e.id))
      .execute();
    if (stored.length > 0) {
      const done = new Set(stored.map((r) => r.id));
      out = writes.filter((w) => w.kind !== "ledger" || !done.has(w.value.id));
      entries.splice(0, entries.length, ...entries.filter((e) => !done.has(e.id)));
    }
  }
  await assign(trx, "events", events);
  await assign(trx, "ledger", entries);
  return [...out];
}

async function assign(trx: Kysely<SqlDatabase>, counter: "events" | "ledger", values: Array<{ seq: number }>): Promise<void> {
  if (values.length === 0) return;
  const row = await trx
    .updateTable("counters")
    .set((eb) => ({ value: sql<number>`${eb.ref("value")} + ${values.length}` }))
    .where("name", "=", counter)
    .returning("value")
    .executeTakeFirstOrThrow();
  let seq = Number(row.value) - values.length;
  for (const value of values) value.seq = ++seq;
}

/** Refuses the transaction unless the node's fence still stands; holds its row until commit, so no adopter moves it meanwhile. */
export async function checkFence(trx: Kysely<SqlDatabase>, node: NodeFence): Promise<void> {
  const row = await trx.selectFrom("nodes").select(["fence", "adopted_by"]).where("id", "=", node.id).forShare().executeTakeFirst();
  const lost = fenceLostOf(node, row);
  if (lost !== undefined) throw lost;
}

/** Undefined while the node's fence stands, else NODE_FENCED saying who took it; no lock (a look, not a write). */
export async function fenceLost(db: Kysely<SqlDatabase>, node: NodeFence): Promise<FactoryError | undefined> {
  return fenceLostOf(node, await db.selectFrom("nodes").select(["fence", "adopted_by"]).where("id", "=", node.id).executeTakeFirst());
}

function fenceLostOf(node: NodeFence, row: { fence: number; adopted_by: string | null } | undefined): FactoryError | undefined {
  if (row !== undefined && Number(row.fence) === node.fence) return undefined;
  const by = row?.adopted_by ?? null;
  return new FactoryError(
    "NODE_FENCED",
    by !== null
      ? `node '${node.id}' may no longer write: node '${by}' took over its agents and tasks after its lease ran out; restart it to join again`
      : `node '${node.id}' may no longer write: another process started under its id since; restart it to join again`,
    { details: { node: node.id, adoptedBy: by } },
  );
}
