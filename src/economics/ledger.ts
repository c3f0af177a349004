import { randomUUID } from "node:crypto";
import { FactoryError } from "../core/errors.ts";
import { fromMicro, RESERVE_WALLET, PROVIDERS_WALLET, SYSTEM_WALLET, SYSTEM_WALLETS, toMicro, type LedgerEntry, type LedgerKind } from "../core/ledger.ts";
import type { OpenReservation } from "../core/ports/store.ts";
import type { Journal } from "../state/journal.ts";
import { Hook } from "../core/hook.ts";

/** The bus channel a node of a cluster publishes its stored ledger entries on, for the others' balances. */
export const LEDGER_CHANNEL = "factory:ledger";

/** What goes on LEDGER_CHANNEL: an entry and the node that posted it. */
export interface PostedEntry {
  nodeId: string;
  entry: LedgerEntry;
}

/** What an entry says besides who pays whom how much. */
export interface EntryDetails {
  crewId?: string | null;
  agentId?: string | null;
  taskId?: string | null;
  model?: string | null;
  tokensIn?: number | null;
  tokensOut?: number | null;
  memo?: string | null;
  reservationId?: string | null;
}

/** Credits held for a model call, until it is settled. */
export interface Reservation {
  readonly id: string;
  readonly wallet: string;
  readonly micro: number;
  readonly details: EntryDetails;
}

/** Largest single amount, in credits: far above any real cost, far below where floats lose cents. */
const MAX_AMOUNT = 1_000_000_000;

/**
 * The double-entry ledger (DESIGN.md `economics/`). Entries are appended, never changed; every
 * balance is the sum of its entries, kept in memory as integer micro-credits (loaded from the
 * store's sums at start) and written through the journal. A wallet other than the system's can
 * never go below zero: a move it cannot pay for is refused before anything is written.
 */
export class Ledger {
  readonly #journal: Journal;
  readonly #balances = new Map<string, number>();
  readonly #open = new Map<string, Reservation>();
  #seq = 0;
  /** Every entry this ledger posts, as it is posted (the cluster's feed listens). */
  readonly posted = new Hook<[LedgerEntry]>();

  constructor(journal: Journal) {
    this.#journal = journal;
  }

  /** At start: balances and the last seq from the store; other nodes' entries heard before it are applied now, those after lastSeq. */
  load(totals: { balances: ReadonlyMap<string, number>; lastSeq: number }): void {
    for (const [wallet, micro] of totals.balances) this.#balances.set(wallet, micro);
    this.#seq = Math.max(this.#seq, totals.lastSeq);
    this.#syncedThrough = Math.max(this.#syncedThrough, totals.lastSeq);
    const heard = this.#heardEarly ?? [];
    this.#heardEarly = undefined;
    for (const entry of heard) this.applyRemote(entry);
  }

  /** Other nodes' entries up to this seq are in the balances (read from the store). */
  #syncedThrough = 0;
  /** Per wallet, when its balance was read again later (a dead node's wallets taken over). */
  readonly #walletSyncedThrough = new Map<string, number>();
  /** Other nodes' entries heard before the balances were loaded, applied once they are. */
  #heardEarly: LedgerEntry[] | undefined = [];

  /**
   * Takes over the wallets of a node that died (its agents and crews are now this node's): their
   * balances as the store sums them (the dead node wrote its last entries before it died), and
   * the credits its unsettled calls held in the reserve, which go back to their wallets.
   */
  adoptWallets(totals: { balances: ReadonlyMap<string, number>; lastSeq: number }, wallets: Iterable<string>, orphans: readonly OpenReservation[], memo: string): LedgerEntry[] {
    // Read again from the store: an entry the dead node stored but never announced counts too.
    // Its holds in the reserve were announced (this node's reserve counts them) or, if not, the
    // reserve is the cluster's and holds more than any one node's calls.
    for (const wallet of wallets) {
      this.#balances.set(wallet, totals.balances.get(wallet) ?? 0);
      this.#walletSyncedThrough.set(wallet, totals.lastSeq);
    }
    return this.releaseOrphans(orphans, memo);
  }

  /** In credits. */
  balance(address: string): number {
    return fromMicro(this.#balances.get(address) ?? 0);
  }

  balanceMicro(address: string): number {
    return this.#balances.get(address) ?? 0;
  }

  /** Reservations not yet settled. */
  get openReservations(): number {
    return this.#open.size;
  }

  /** Appends one entry: `amount` credits leave `debit` and enter `credit`. */
  post(kind: LedgerKind, debit: string, credit: string, amount: number, details: EntryDetails = {}): LedgerEntry {
    if (typeof amount !== "number" || !Number.isFinite(amount) || amount <= 0 || amount > MAX_AMOUNT) {
      throw new FactoryError("VALIDATION_FAILED", `amount: must be more than 0 and at most ${MAX_AMOUNT} credits, got ${String(amount)}`, { field: "amount" });
    }
    return this.#postMicro(kind, debit, credit, toMicro(amount), details);
  }

  #postMicro(kind: LedgerKind, debit: string, credit: string, micro: number, details: EntryDetails): LedgerEntry {
    if (micro < 1) throw new FactoryError("VALIDATION_FAILED", "amount: must be at least 0.000001 credits", { field: "amount" });
    if (debit === credit) throw new FactoryError("VALIDATION_FAILED", "credit: a wallet cannot pay itself", { field: "credit" });
    const available = this.balanceMicro(debit);
    // The outside issues credits; everyone else spends what they have.
    if (debit !== SYSTEM_WALLET && available < micro) {
      throw new FactoryError("INSUFFICIENT_CREDITS", `wallet ${debit} holds ${fromMicro(available)} credits, less than ${fromMicro(micro)}`, {
        details: { wallet: debit, balance: fromMicro(available), amount: fromMicro(micro) },
      });
    }
    const entry: LedgerEntry = {
      id: `le_${randomUUID().replaceAll("-", "")}`,
      seq: ++this.#seq,
      at: new Date().toISOString(),
      kind,
      debit,
      credit,
      amount: fromMicro(micro),
      crewId: details.crewId ?? null,
      agentId: details.agentId ?? null,
      taskId: details.taskId ?? null,
      reservationId: details.reservationId ?? null,
      model: details.model ?? null,
      tokensIn: details.tokensIn ?? null,
      tokensOut: details.tokensOut ?? null,
      memo: details.memo ?? null,
    };
    this.#balances.set(debit, available - micro);
    this.#balances.set(credit, this.balanceMicro(credit) + micro);
    this.#journal.put({ kind: "ledger", value: entry });
    this.posted.emit(entry);
    return entry;
  }

  /**
   * An entry another node of the cluster stored: the balances this node sees follow it. A wallet
   * is debited only by the node that owns it (requests that debit another node's wallet are passed
   * to that node), so what arrives here for a wallet of this node only ever credits it.
   */
  applyRemote(entry: LedgerEntry): void {
    if (this.#heardEarly !== undefined) {
      this.#heardEarly.push(entry);
      return;
    }
    // Already in a balance read from the store: not counted twice.
    if (entry.seq <= this.#syncedThrough) return;
    const micro = toMicro(entry.amount);
    if (entry.seq > (this.#walletSyncedThrough.get(entry.debit) ?? 0)) this.#balances.set(entry.debit, this.balanceMicro(entry.debit) - micro);
    if (entry.seq > (this.#walletSyncedThrough.get(entry.credit) ?? 0)) this.#balances.set(entry.credit, this.balanceMicro(entry.credit) + micro);
  }

  /** Credits from outside into a wallet. */
  grant(to: string, amount: number, details: EntryDetails = {}): LedgerEntry {
    if (SYSTEM_WALLETS.has(to)) throw new FactoryError("VALIDATION_FAILED", "wallet: credits cannot be granted to a system wallet", { field: "wallet" });
    return this.post("grant", SYSTEM_WALLET, to, amount, details);
  }

  /**
   * Holds `micro` of `wallet`'s credits for a call about to be made. Synchronous, so two
   * concurrent callers can never both spend the same credits.
   */
  reserve(wallet: string, micro: number, details: EntryDetails = {}): Reservation {
    const id = `rsv_${randomUUID().replaceAll("-", "")}`;
    const held = Math.max(1, Math.ceil(micro));
    this.#postMicro("reservation", wallet, RESERVE_WALLET, held, { ...details, reservationId: id });
    const reservation: Reservation = { id, wallet, micro: held, details };
    this.#open.set(id, reservation);
    return reservation;
  }

  /**
   * Settles a reservation with what the call really cost (at most what was held): the cost goes
   * to the providers, the rest back to the wallet. Returns the credits charged.
   */
  settle(reservationId: string, costMicro: number, usage: EntryDetails = {}): number {
    const reservation = this.#open.get(reservationId);
    if (reservation === undefined) throw new FactoryError("NOT_FOUND", `no open reservation '${reservationId}'`);
    this.#open.delete(reservationId);
    const charged = Math.min(reservation.micro, Math.max(0, Math.round(costMicro)));
    if (charged > 0) this.#postMicro("usage", RESERVE_WALLET, PROVIDERS_WALLET, charged, { ...reservation.details, ...usage, reservationId });
    // Tokens belong to the usage entry only: a report of releases must not count them twice.
    if (reservation.micro - charged > 0) {
      this.#postMicro("release", RESERVE_WALLET, reservation.wallet, reservation.micro - charged, { ...reservation.details, tokensIn: null, tokensOut: null, reservationId });
    }
    return fromMicro(charged);
  }

  /**
   * At start, before any call is made: what reservations left open by a factory that stopped
   * mid-call still hold goes back to their wallets (the calls' outcomes were lost, so nothing is
   * charged). Reservations open in this process are left alone. Returns the release entries.
   */
  releaseOrphans(orphans: readonly OpenReservation[], memo = "released at start: the call's outcome was lost when the factory stopped"): LedgerEntry[] {
    const entries: LedgerEntry[] = [];
    for (const orphan of orphans) {
      if (this.#open.has(orphan.reservationId) || orphan.micro < 1) continue;
      entries.push(
        this.#postMicro("release", RESERVE_WALLET, orphan.wallet, orphan.micro, {
          crewId: orphan.crewId,
          agentId: orphan.agentId,
          taskId: orphan.taskId,
          model: orphan.model,
          reservationId: orphan.reservationId,
          memo,
        }),
      );
    }
    return entries;
  }
}
