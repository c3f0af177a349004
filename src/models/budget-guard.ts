import { FactoryError, isFactoryError } from "../core/errors.ts";
import { fromMicro, toMicro } from "../core/ledger.ts";
import type { EntryDetails, Ledger, Reservation } from "../economics/ledger.ts";

/** A spending limit: at most `credits` per period (or ever, without one). */
export interface BudgetLimit {
  /** `global`, `crew:<id>` or `agent:<id>`. */
  key: string;
  credits: number;
  periodMs: number | null;
}

/** A limit as it stands now. */
export interface BudgetView extends BudgetLimit {
  spent: number;
  reserved: number;
  remaining: number;
  /** When the current period ends (null without a period). */
  resetsAt: string | null;
}

/** Who a call is for, which decides the limits that apply. */
export interface BudgetScope {
  crewId: string | null;
  agentId: string | null;
}

/** Credits held for one call under every limit that applies to it. */
export interface Hold {
  readonly reservation: Reservation;
  readonly keys: readonly string[];
}

interface Tracked {
  limitMicro: number;
  periodMs: number | null;
  windowStart: number;
  spentMicro: number;
  reservedMicro: number;
}

/**
 * The budget guard (DESIGN.md `models/`): **reserve, then settle**. Before a model call its
 * estimated cost is reserved — from the paying wallet through the ledger, and against every limit
 * that applies (global, the crew's, the agent's) — in one synchronous step, so concurrent calls
 * cannot together spend more than a budget holds: a call that does not fit is refused with
 * BUDGET_EXCEEDED before it is made. After the call the real cost (at most the estimate) is
 * settled and the rest released.
 */
export class BudgetGuard {
  readonly #ledger: Ledger;
  readonly #limits = new Map<string, Tracked>();
  readonly #now: () => number;

  constructor(ledger: Ledger, now: () => number = Date.now) {
    this.#ledger = ledger;
    this.#now = now;
  }

  /**
   * Sets (or changes) a limit; a changed limit keeps what its window has spent. `restore` is
   * for a restart: the window's start and what the ledger says was spent in it since.
   */
  setLimit(limit: BudgetLimit, restore?: { windowStart: number; spent: number }): BudgetView {
    if (!Number.isFinite(limit.credits) || limit.credits < 0) throw new FactoryError("VALIDATION_FAILED", "credits: must be a number of at least 0", { field: "credits" });
    const existing = this.#limits.get(limit.key);
    this.#limits.set(limit.key, {
      limitMicro: toMicro(limit.credits),
      periodMs: limit.periodMs,
      windowStart: restore?.windowStart ?? existing?.windowStart ?? this.#now(),
      spentMicro: restore === undefined ? (existing?.spentMicro ?? 0) : toMicro(restore.spent),
      reservedMicro: existing?.reservedMicro ?? 0,
    });
    return this.view(limit.key) as BudgetView;
  }

  /** Every limit, as it stands now. */
  list(): BudgetView[] {
    return [...this.#limits.keys()].sort().map((key) => this.view(key) as BudgetView);
  }

  /** When the limit's current window started (ms), for storing it. */
  windowStart(key: string): number | undefined {
    const tracked = this.#limits.get(key);
    if (tracked === undefined) return undefined;
    this.#roll(tracked);
    return tracked.windowStart;
  }

  removeLimit(key: string): boolean {
    return this.#limits.delete(key);
  }

  view(key: string): BudgetView | undefined {
    const tracked = this.#limits.get(key);
    if (tracked === undefined) return undefined;
    this.#roll(tracked);
    return {
      key,
      credits: fromMicro(tracked.limitMicro),
      periodMs: tracked.periodMs,
      spent: fromMicro(tracked.spentMicro),
      reserved: fromMicro(tracked.reservedMicro),
      remaining: fromMicro(Math.max(0, tracked.limitMicro - tracked.spentMicro - tracked.reservedMicro)),
      resetsAt: tracked.periodMs === null ? null : new Date(tracked.windowStart + tracked.periodMs).toISOString(),
    };
  }

  /** What is left of the tightest limit that applies to a call for `scope` (0–1); null when none does. */
  remainingFraction(scope: BudgetScope): number | null {
    let fraction: number | null = null;
    for (const key of this.#keysFor(scope)) {
      const view = this.view(key) as BudgetView;
      if (view.credits > 0) fraction = Math.min(fraction ?? 1, view.remaining / view.credits);
    }
    return fraction;
  }

  /** The limits set that apply to a call for `scope`: global, its crew's, its agent's. */
  #keysFor(scope: BudgetScope): string[] {
    return ["global", ...(scope.crewId === null ? [] : [`crew:${scope.crewId}`]), ...(scope.agentId === null ? [] : [`agent:${scope.agentId}`])].filter((k) => this.#limits.has(k));
  }

  /** Reserves `estimate` credits of `payer` for a call; throws BUDGET_EXCEEDED (not retryable) if it does not fit. */
  reserve(payer: string, scope: BudgetScope, estimate: number, details: EntryDetails = {}): Hold {
    const micro = Math.max(1, toMicro(estimate));
    const keys = this.#keysFor(scope);
    for (const key of keys) {
      const tracked = this.#limits.get(key) as Tracked;
      this.#roll(tracked);
      const left = tracked.limitMicro - tracked.spentMicro - tracked.reservedMicro;
      if (micro > left) {
        throw new FactoryError("BUDGET_EXCEEDED", `the ${key} budget has ${fromMicro(Math.max(0, left))} credits left, the call may cost up to ${fromMicro(micro)}`, {
          nonRetryable: true,
          details: { budget: key, remaining: fromMicro(Math.max(0, left)), estimate: fromMicro(micro) },
        });
      }
    }
    let reservation: Reservation;
    try {
      reservation = this.#ledger.reserve(payer, micro, { ...details, crewId: scope.crewId, agentId: scope.agentId });
    } catch (error) {
      if (isFactoryError(error) && error.code === "INSUFFICIENT_CREDITS") {
        throw new FactoryError("BUDGET_EXCEEDED", `wallet ${payer} cannot cover a call that may cost up to ${fromMicro(micro)} credits: ${error.message}`, {
          nonRetryable: true,
          details: { budget: `wallet:${payer}`, ...error.details, estimate: fromMicro(micro) },
        });
      }
      throw error;
    }
    for (const key of keys) (this.#limits.get(key) as Tracked).reservedMicro += micro;
    return { reservation, keys };
  }

  /** The call cost `cost` credits (capped at what was reserved); returns what was charged. */
  settle(hold: Hold, cost: number, usage: EntryDetails = {}): number {
    const charged = this.#ledger.settle(hold.reservation.id, toMicro(Math.max(0, cost)), usage);
    for (const key of hold.keys) {
      const tracked = this.#limits.get(key);
      if (tracked === undefined) continue;
      tracked.reservedMicro = Math.max(0, tracked.reservedMicro - hold.reservation.micro);
      tracked.spentMicro += toMicro(charged);
    }
    return charged;
  }

  /** The call was not made: everything held goes back. */
  release(hold: Hold): void {
    this.settle(hold, 0);
  }

  #roll(tracked: Tracked): void {
    if (tracked.periodMs === null) return;
    const now = this.#now();
    if (now - tracked.windowStart < tracked.periodMs) return;
    tracked.windowStart = now - ((now - tracked.windowStart) % tracked.periodMs);
    tracked.spentMicro = 0;
  }
}

/** The crew or agent a budget key names (`crew:<id>`, `agent:<id>`); empty for `global`. */
export function budgetScopeOf(key: string): { crewId?: string; agentId?: string } {
  if (key.startsWith("crew:")) return { crewId: key.slice(5) };
  if (key.startsWith("agent:")) return { agentId: key.slice(6) };
  return {};
}
