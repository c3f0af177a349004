import { PERIOD_CHARS } from "../stored-forms.ts";
import { fromMicro, type LedgerEntry, type LedgerReportRow } from "../../../core/ledger.ts";
import type { LedgerQuery, LedgerReportQuery, OpenReservation } from "../../../core/ports/store.ts";
import { parse, type LedgerRow } from "./memory-tables.ts";
import { compare } from "./sqlite-semantics.ts";

// The ledger's reads, over its rows in seq order, as the SQL store's queries answer them.

/** Ledger entries after a seq, by wallet, crew, agent or kind, in seq order. */
export function listLedger(ledger: readonly LedgerRow[], query: LedgerQuery): LedgerEntry[] {
  const afterSeq = query.afterSeq ?? 0;
  const kinds = query.kinds !== undefined && query.kinds.length > 0 ? new Set(query.kinds) : undefined;
  const limit = query.limit ?? 1000;
  const out: LedgerEntry[] = [];
  for (const r of ledger) {
    if (limit >= 0 && out.length >= limit) break;
    if (r.seq <= afterSeq) continue;
    if (query.wallet !== undefined && r.debit !== query.wallet && r.credit !== query.wallet) continue;
    if (query.crewId !== undefined && r.crewId !== query.crewId) continue;
    if (query.agentId !== undefined && r.agentId !== query.agentId) continue;
    if (kinds !== undefined && !kinds.has(r.kind)) continue;
    out.push(parse<LedgerEntry>(r));
  }
  return out;
}

/** Every wallet's balance in micro-credits (credits in minus debits out), and the last seq summed. */
export function ledgerTotals(ledger: readonly LedgerRow[]): { balances: Map<string, number>; lastSeq: number } {
  const balances = new Map<string, number>();
  for (const r of ledger) balances.set(r.credit, (balances.get(r.credit) ?? 0) + r.micro);
  for (const r of ledger) balances.set(r.debit, (balances.get(r.debit) ?? 0) - r.micro);
  return { balances, lastSeq: ledger.at(-1)?.seq ?? 0 };
}

/** Entries of one kind summed by agent, crew, model or period, ordered as the SQL store orders them. */
export function ledgerReport(ledger: readonly LedgerRow[], query: LedgerReportQuery): LedgerReportRow[] {
  const kind = query.kind ?? "usage";
  const by = query.by;
  const keyOf = (r: LedgerRow): string | null =>
    by === "agent" ? r.agentId : by === "crew" ? r.crewId : by === "model" ? r.model : r.at.slice(0, PERIOD_CHARS[by]);
  const groups = new Map<string | null, { key: string | null; entries: number; micro: number; tokensIn: number; tokensOut: number }>();
  for (const r of ledger) {
    if (r.kind !== kind) continue;
    if (query.crewId !== undefined && r.crewId !== query.crewId) continue;
    if (query.agentId !== undefined && r.agentId !== query.agentId) continue;
    if (query.model !== undefined && r.model !== query.model) continue;
    if (query.from !== undefined && r.at < query.from) continue;
    if (query.to !== undefined && r.at >= query.to) continue;
    const key = keyOf(r);
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { key, entries: 0, micro: 0, tokensIn: 0, tokensOut: 0 }));
    g.entries += 1;
    g.micro += r.micro;
    g.tokensIn += r.tokensIn ?? 0;
    g.tokensOut += r.tokensOut ?? 0;
  }
  const rows = [...groups.values()];
  const period = by === "hour" || by === "day" || by === "month";
  // Amounts largest first, null keys last, then by key; periods by key (never null: `at` is required).
  rows.sort(period ? (a, b) => compare(a.key, b.key) : (a, b) => b.micro - a.micro || Number(a.key === null) - Number(b.key === null) || compare(a.key, b.key));
  return rows.map((g) => ({ key: g.key, entries: g.entries, amount: fromMicro(g.micro), tokensIn: g.tokensIn, tokensOut: g.tokensOut }));
}

/** Reservations that still hold something (reserved minus used and released), in seq order. */
export function openReservations(ledger: readonly LedgerRow[]): OpenReservation[] {
  const held = new Map<string, number>();
  for (const r of ledger) {
    if (r.reservationId === null) continue;
    const delta = r.kind === "reservation" ? r.micro : r.kind === "usage" || r.kind === "release" ? -r.micro : 0;
    held.set(r.reservationId, (held.get(r.reservationId) ?? 0) + delta);
  }
  const out: OpenReservation[] = [];
  for (const r of ledger) {
    if (r.kind !== "reservation" || r.reservationId === null) continue;
    const micro = held.get(r.reservationId) ?? 0;
    if (micro <= 0) continue;
    out.push({ reservationId: r.reservationId, wallet: r.debit, micro, crewId: r.crewId, agentId: r.agentId, taskId: r.taskId, model: r.model });
  }
  return out;
}
