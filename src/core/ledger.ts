/**
 * The ledger's vocabulary (DESIGN.md "Wallet / ledger"): append-only, double-entry. Every entry
 * moves `amount` credits from the `debit` wallet (the one the amount leaves) to the `credit`
 * wallet (the one it enters); a wallet's balance is the sum of what entered it minus what left.
 * System wallets stand for the outside (credits granted, money paid to model providers) and for
 * credits held while a model call is under way, so the sum of every balance is always zero.
 */
export const LEDGER_KINDS = [
  /** Credits granted from outside (a crew's budget on assembly, an operator's grant). */
  "grant",
  /** Held for a model call before it is made: wallet → the reserve. */
  "reservation",
  /** What a model call cost: the reserve → the provider. */
  "usage",
  /** What was held and not spent: the reserve → the wallet. */
  "release",
  /** Value attributed to an agent when its task succeeds: crew → agent. */
  "attribution",
  /** Any other move between wallets. */
  "transfer",
] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

/** Where granted credits come from. */
export const SYSTEM_WALLET = "0x371_SYSTEM_00000000000000000000000000000000";
/** Where credits wait while a model call is under way. */
export const RESERVE_WALLET = "0x371_RESERVE_00000000000000000000000000000000";
/** Where spent credits go (the model providers). */
export const PROVIDERS_WALLET = "0x371_PROVIDERS_00000000000000000000000000000000";

export const SYSTEM_WALLETS: ReadonlySet<string> = new Set([SYSTEM_WALLET, RESERVE_WALLET, PROVIDERS_WALLET]);

export interface LedgerEntry {
  id: string;
  /** Order of posting (per factory). */
  seq: number;
  at: string;
  kind: LedgerKind;
  /** The wallet the amount leaves. */
  debit: string;
  /** The wallet the amount enters. */
  credit: string;
  /** Credits, > 0, to 6 decimal places (amounts are kept as integer micro-credits). */
  amount: number;
  crewId: string | null;
  agentId: string | null;
  taskId: string | null;
  /** A reservation and the usage/release entries that settle it share this id. */
  reservationId: string | null;
  /** Model usage: which model, tokens in and out. */
  model: string | null;
  tokensIn: number | null;
  tokensOut: number | null;
  memo: string | null;
}

/**
 * What a ledger report groups by: who (an agent, a crew), which model, or a UTC period (an
 * entry's `at` cut to the hour, day or month).
 */
export const LEDGER_REPORT_KEYS = ["agent", "crew", "model", "hour", "day", "month"] as const;
export type LedgerReportKey = (typeof LEDGER_REPORT_KEYS)[number];

/** One group of a ledger report. */
export interface LedgerReportRow {
  /** The agent, crew or model (null: entries without one), or the period ("2026-01-31T09", "2026-01-31", "2026-01"). */
  key: string | null;
  entries: number;
  /** Credits, summed exactly in micro-credits. */
  amount: number;
  tokensIn: number;
  tokensOut: number;
}

/** A ledger report: its rows and their total. */
export interface LedgerReport {
  by: LedgerReportKey;
  kind: LedgerKind;
  /** The range asked for, as UTC ISO instants (from inclusive, to exclusive); null when open. */
  from: string | null;
  to: string | null;
  rows: LedgerReportRow[];
  total: { entries: number; amount: number; tokensIn: number; tokensOut: number };
}

/** Credits → integer micro-credits: sums of many small costs stay exact. */
export const toMicro = (credits: number): number => Math.round(credits * 1_000_000);
export const fromMicro = (micro: number): number => micro / 1_000_000;
