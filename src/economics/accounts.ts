import { FactoryError } from "../core/errors.ts";
import { fromMicro, SYSTEM_WALLETS, toMicro, type LedgerEntry, type LedgerReport } from "../core/ledger.ts";
import type { LedgerQuery, Store } from "../core/ports/store.ts";
import { parseWith } from "../core/schemas/parse.ts";
import { LedgerReportQuerySchema, type LedgerReportQueryInput } from "../core/schemas/ledger-report.ts";
import { walletFromRecord, type Wallet } from "../core/wallet.ts";
import type { Journal } from "../state/journal.ts";
import type { Ledger } from "./ledger.ts";

export interface AccountsDeps {
  ledger: Ledger;
  journal: Journal;
  store: Store;
}

/** Wallets as operators see them: balances, grants, transfers, the ledger's entries and reports. */
export class Accounts {
  readonly #deps: AccountsDeps;

  constructor(deps: AccountsDeps) {
    this.#deps = deps;
  }

  /** A wallet, with its balance as the ledger sums it. */
  async getWallet(address: string): Promise<Wallet> {
    const { ledger, journal, store } = this.#deps;
    if (SYSTEM_WALLETS.has(address)) {
      return { address, ownerKind: "system", ownerId: "system", balance: ledger.balance(address), achievementTokens: 0, createdAt: "1970-01-01T00:00:00.000Z" };
    }
    const wallet = await journal.read(() => store.getWallet(address));
    if (wallet === undefined) throw new FactoryError("NOT_FOUND", `no wallet with address '${address}'`, { field: "wallet" });
    return { ...walletFromRecord(wallet), balance: ledger.balance(address) };
  }

  /** Ledger entries in order (read from the store). */
  listLedger(query: LedgerQuery = {}): Promise<LedgerEntry[]> {
    return this.#deps.journal.read(() => this.#deps.store.listLedger({ ...query, limit: query.limit ?? 1000 }));
  }

  /**
   * Sums of one kind of entry (usage by default) per agent, crew, model or UTC hour, day or
   * month, and their total; `from` is inclusive, `to` exclusive.
   */
  async report(query: LedgerReportQueryInput): Promise<LedgerReport> {
    const q = parseWith(LedgerReportQuerySchema, query, "report query");
    // Stored `at`s are UTC ISO strings: bounds in the same form compare as text.
    const from = q.from === undefined ? null : new Date(q.from).toISOString();
    const to = q.to === undefined ? null : new Date(q.to).toISOString();
    if (from !== null && to !== null && to < from) throw new FactoryError("VALIDATION_FAILED", `invalid report query: to: must not be before from (${from})`, { field: "to" });
    const kind = q.kind ?? "usage";
    const rows = await this.#deps.journal.read(() =>
      this.#deps.store.ledgerReport({
        by: q.by,
        kind,
        ...(q.crewId === undefined ? {} : { crewId: q.crewId }),
        ...(q.agentId === undefined ? {} : { agentId: q.agentId }),
        ...(q.model === undefined ? {} : { model: q.model }),
        ...(from === null ? {} : { from }),
        ...(to === null ? {} : { to }),
      }),
    );
    let micro = 0;
    const total = { entries: 0, amount: 0, tokensIn: 0, tokensOut: 0 };
    for (const row of rows) {
      total.entries += row.entries;
      micro += toMicro(row.amount);
      total.tokensIn += row.tokensIn;
      total.tokensOut += row.tokensOut;
    }
    total.amount = fromMicro(micro);
    return { by: q.by, kind, from, to, rows, total };
  }

  /** An operator grants credits from outside to an agent's or crew's wallet. */
  async grant(wallet: string, amount: number, memo?: string): Promise<LedgerEntry> {
    const target = await this.getWallet(wallet);
    const entry = this.#deps.ledger.grant(target.address, amount, {
      ...(target.ownerKind === "crew" ? { crewId: target.ownerId } : target.ownerKind === "agent" ? { agentId: target.ownerId } : {}),
      memo: memo ?? "granted by an operator",
    });
    await this.#deps.journal.commit();
    return entry;
  }

  /** Moves credits between two wallets (the payer must hold them). */
  async transfer(from: string, to: string, amount: number, memo?: string): Promise<LedgerEntry> {
    const [payer, payee] = await Promise.all([this.getWallet(from), this.getWallet(to)]);
    if (payer.ownerKind === "system" || payee.ownerKind === "system") {
      throw new FactoryError("VALIDATION_FAILED", "from: transfers are between agent and crew wallets; grants come from the system", { field: payer.ownerKind === "system" ? "from" : "to" });
    }
    const entry = this.#deps.ledger.post("transfer", payer.address, payee.address, amount, {
      crewId: payer.ownerKind === "crew" ? payer.ownerId : payee.ownerKind === "crew" ? payee.ownerId : null,
      memo: memo ?? null,
    });
    await this.#deps.journal.commit();
    return entry;
  }
}
