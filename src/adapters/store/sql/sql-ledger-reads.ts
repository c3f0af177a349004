import { PERIOD_CHARS } from "../stored-forms.ts";
import { sql, type Kysely } from "kysely";
import { fromMicro, type LedgerEntry, type LedgerReportRow } from "../../../core/ledger.ts";
import type { LedgerQuery, LedgerReportQuery, OpenReservation } from "../../../core/ports/store.ts";
import { chunks } from "./chunks.ts";
import { rowLimit } from "./row-limit.ts";
import { parse, type SqlDatabase } from "./sql-database.ts";

// The ledger's reads: its entries, wallet balances, reports and the reservations still open.

/** Ledger entries after a seq, by wallet, crew, agent or kind, in seq order. */
export async function listLedger(db: Kysely<SqlDatabase>, query: LedgerQuery): Promise<LedgerEntry[]> {
  let q = db.selectFrom("ledger").select("data").where("seq", ">", query.afterSeq ?? 0);
  if (query.wallet !== undefined) {
    const wallet = query.wallet;
    q = q.where((eb) => eb.or([eb("debit", "=", wallet), eb("credit", "=", wallet)]));
  }
  if (query.crewId !== undefined) q = q.where("crew_id", "=", query.crewId);
  if (query.agentId !== undefined) q = q.where("agent_id", "=", query.agentId);
  if (query.kinds !== undefined && query.kinds.length > 0) q = q.where("kind", "in", [...query.kinds]);
  const rows = await q.orderBy("seq").limit(rowLimit(query.limit, 1000)).execute();
  return rows.map(parse<LedgerEntry>);
}

/** Every wallet's balance in micro-credits (credits in minus debits out), and the last seq summed. */
export async function ledgerTotals(db: Kysely<SqlDatabase>): Promise<{ balances: Map<string, number>; lastSeq: number }> {
  // The last seq first, and only entries up to it summed: the sums are exactly "every entry up
  // to lastSeq", even while other nodes commit (their seqs follow commit order), so a node that
  // applies later entries by seq counts none twice and misses none.
  const last = await db.selectFrom("ledger").select((eb) => eb.fn.max("seq").as("seq")).executeTakeFirst();
  const lastSeq = Number(last?.seq ?? 0);
  const credited = await db.selectFrom("ledger").select(["credit as wallet", (eb) => eb.fn.sum<number>("micro").as("micro")]).where("seq", "<=", lastSeq).groupBy("credit").execute();
  const debited = await db.selectFrom("ledger").select(["debit as wallet", (eb) => eb.fn.sum<number>("micro").as("micro")]).where("seq", "<=", lastSeq).groupBy("debit").execute();
  const balances = new Map<string, number>();
  for (const row of credited) balances.set(row.wallet, (balances.get(row.wallet) ?? 0) + Number(row.micro));
  for (const row of debited) balances.set(row.wallet, (balances.get(row.wallet) ?? 0) - Number(row.micro));
  return { balances, lastSeq };
}

/** Entries of one kind summed by agent, crew, model or period, largest amounts (or earliest periods) first. */
export async function ledgerReport(db: Kysely<SqlDatabase>, query: LedgerReportQuery): Promise<LedgerReportRow[]> {
  // Literals, not parameters: PostgreSQL matches a selected expression to its GROUP BY text.
  const key =
    query.by === "agent"
      ? sql<string | null>`agent_id`
      : query.by === "crew"
        ? sql<string | null>`crew_id`
        : query.by === "model"
          ? sql<string | null>`model`
          : sql<string | null>`substr(at, 1, ${sql.lit(PERIOD_CHARS[query.by])})`;
  let q = db
    .selectFrom("ledger")
    .select([
      key.as("key"),
      sql<number | string>`count(*)`.as("entries"),
      sql<number | string>`sum(micro)`.as("micro"),
      sql<number | string>`coalesce(sum(tokens_in), 0)`.as("tokens_in"),
      sql<number | string>`coalesce(sum(tokens_out), 0)`.as("tokens_out"),
    ])
    .where("kind", "=", query.kind ?? "usage");
  if (query.crewId !== undefined) q = q.where("crew_id", "=", query.crewId);
  if (query.agentId !== undefined) q = q.where("agent_id", "=", query.agentId);
  if (query.model !== undefined) q = q.where("model", "=", query.model);
  if (query.from !== undefined) q = q.where("at", ">=", query.from);
  if (query.to !== undefined) q = q.where("at", "<", query.to);
  q = q.groupBy(key);
  // Nulls last in both dialects (SQLite sorts them first, PostgreSQL last).
  const period = query.by === "hour" || query.by === "day" || query.by === "month";
  q = period ? q.orderBy(key) : q.orderBy(sql`sum(micro)`, "desc").orderBy(sql`${key} is null`).orderBy(key);
  const rows = await q.execute();
  // PostgreSQL returns bigint sums as text.
  return rows.map((r) => ({ key: r.key, entries: Number(r.entries), amount: fromMicro(Number(r.micro)), tokensIn: Number(r.tokens_in), tokensOut: Number(r.tokens_out) }));
}

/** Reservations that still hold something (reserved minus used and released), in seq order. */
export async function openReservations(db: Kysely<SqlDatabase>): Promise<OpenReservation[]> {
  // One pass over the (reservation_id, kind, micro) index finds what each reservation still
  // holds; only the few still open are then read. Kinds are told apart in the sum and in code,
  // not in WHERE: a filter on kind leads SQLite to the (kind, at) index and every reservation.
  const held = sql<number | string>`sum(case when kind = 'reservation' then micro when kind in ('usage', 'release') then -micro else 0 end)`;
  const open = await db
    .selectFrom("ledger")
    .select(["reservation_id", held.as("micro")])
    .where("reservation_id", "is not", null)
    .groupBy("reservation_id")
    .having(sql<boolean>`${held} > 0`)
    .execute();
  const micro = new Map(open.map((r) => [r.reservation_id as string, Number(r.micro)]));
  const out: Array<OpenReservation & { seq: number }> = [];
  for (const part of chunks([...micro.keys()])) {
    const rows = await db
      .selectFrom("ledger")
      .select(["seq", "kind", "reservation_id", "debit", "crew_id", "agent_id", "task_id", "model"])
      .where("reservation_id", "in", part)
      .execute();
    for (const r of rows) {
      if (r.kind !== "reservation") continue;
      const id = r.reservation_id as string;
      out.push({ seq: Number(r.seq), reservationId: id, wallet: r.debit, micro: micro.get(id) ?? 0, crewId: r.crew_id, agentId: r.agent_id, taskId: r.task_id, model: r.model });
    }
  }
  return out.sort((a, b) => a.seq - b.seq).map(({ seq: _, ...r }) => r);
}
