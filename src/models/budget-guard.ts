import { FactoryError } from "../core/errors.ts";
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

/** A model call to size and hold credits for: what it may cost for each output length. */
export interface CallSizing {
  /** The most output tokens the call asks for (the profile's or the server's `maxOutputTokens`). */
  maxOutputTokens: number;
  /** Output tokens this model's answers usually need (observed; undefined: not known yet), asked each time the call is sized — it learns while the call waits. */
  usualOutputTokens?(): number | undefined;
  /** "usual": refuse rather than cap below the usual length (or the maximum, when that is not known); "any": cap down to 1 token. */
  truncate?: "usual" | "any";
  /** Micro-credits the call costs at most with a cap of `outputTokens` (its input included); never decreasing. */
  costMicro(outputTokens: number): number;
}

/** A hold for a call, and the output cap it was sized for (what the provider must be told). */
export interface SizedHold {
  hold: Hold;
  maxOutputTokens: number;
}

/** What a payer can hold now under every limit of a scope, what it could once open holds settle, and the tightest budget. */
interface Room {
  free: number;
  potential: number;
  binding: string;
}

/** A call waiting for other calls' holds to settle. */
interface Waiter {
  /** Payer and scope as one key: waiters of a group share their room. */
  group: string;
  payer: string;
  scope: BudgetScope;
  sizing: CallSizing;
  details: EntryDetails;
  resolve(outcome: SizedHold | FactoryError): void;
}

interface Tracked {
  limitMicro: number;
  periodMs: number | null;
  windowStart: number;
  spentMicro: number;
  reservedMicro: number;
}

/**
 * The budget guard (DESIGN.md `models/`): **reserve, then settle**. Before a model call the most
 * it can cost is reserved — from the paying wallet through the ledger, and against every limit
 * that applies (global, the crew's, the agent's) — in one synchronous step, so concurrent calls
 * cannot together spend more than a budget holds. After the call the real cost (at most what was
 * held) is settled and the rest released.
 *
 * `reserveCall` sizes the hold to the budget instead of refusing what does not fit whole: the
 * call's output cap is lowered to what the credits left can pay (its usual length when that is
 * known), and while other calls' holds could make room it waits — briefly, first come first
 * served — for them to settle. Only a call that cannot pay for a single output token, or still
 * cannot when its wait is over, is refused with BUDGET_EXCEEDED.
 */
export class BudgetGuard {
  readonly #ledger: Ledger;
  readonly #limits = new Map<string, Tracked>();
  readonly #now: () => number;
  /** Micro-credits each wallet has held in open reservations (what settling could give back). */
  readonly #heldBy = new Map<string, number>();
  /** Calls waiting for room, oldest first. */
  readonly #waiting: Waiter[] = [];

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
    // A raised limit may let waiting calls through, a lowered one refuse them now.
    this.#serve();
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
    const removed = this.#limits.delete(key);
    if (removed) this.#serve();
    return removed;
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
    const room = this.#room(payer, keys);
    if (micro > room.free) throw this.#refusal(payer, scope, room, micro, null);
    return this.#hold(payer, scope, keys, micro, details);
  }

  /**
   * Holds credits for a model call sized to the budget: all of `maxOutputTokens` when it fits;
   * otherwise, after waiting up to `waitMs` while settling holds could make room, the call's usual
   * length or as many output tokens as the credits left can pay. Throws BUDGET_EXCEEDED (not
   * retryable) when not one output token can be paid for; the caller's `signal` ends the wait.
   */
  async reserveCall(payer: string, scope: BudgetScope, sizing: CallSizing, options: { waitMs: number; signal?: AbortSignal; details?: EntryDetails }): Promise<SizedHold> {
    options.signal?.throwIfAborted();
    const details = options.details ?? {};
    // A waiting call is sized again at every settlement: its costs are worked out once.
    sizing = memoizedCosts(sizing);
    const first = this.#size(payer, scope, sizing, options.waitMs <= 0);
    if (typeof first === "number") return { hold: this.#hold(payer, scope, this.#keysFor(scope), sizing.costMicro(first), details), maxOutputTokens: first };
    if (first instanceof FactoryError) throw first;
    // Wait in line: settlements hand freed credits to the oldest waiter they fit (#serve). Whoever
    // ends the wait — a settlement, the timer, the caller's signal — takes the waiter out of the
    // line in the same step, so a hold is never taken for a call that stopped waiting.
    const outcome = await new Promise<SizedHold | FactoryError | "expired" | "aborted">((resolve) => {
      const signal = options.signal;
      const leave = (why: "expired" | "aborted"): void => {
        const at = this.#waiting.indexOf(waiter);
        if (at < 0) return;
        this.#waiting.splice(at, 1);
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        resolve(why);
      };
      const onAbort = (): void => leave("aborted");
      const waiter: Waiter = {
        group: `${payer}\u0000${scope.crewId ?? ""}\u0000${scope.agentId ?? ""}`,
        payer,
        scope,
        sizing,
        details,
        resolve: (served) => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          resolve(served);
        },
      };
      const timer = setTimeout(() => leave("expired"), options.waitMs);
      this.#waiting.push(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    if (outcome instanceof FactoryError) throw outcome;
    if (outcome !== "expired" && outcome !== "aborted") return outcome;
    options.signal?.throwIfAborted();
    // The wait is over: what fits now, or the refusal.
    const last = this.#size(payer, scope, sizing, true);
    if (typeof last === "number") return { hold: this.#hold(payer, scope, this.#keysFor(scope), sizing.costMicro(last), details), maxOutputTokens: last };
    // A final sizing never answers "wait": it fits or it is refused.
    if (last === "wait") throw new FactoryError("INTERNAL", "a final budget sizing answered 'wait'");
    throw last;
  }

  /** The call cost `cost` credits (capped at what was reserved); returns what was charged. */
  settle(hold: Hold, cost: number, usage: EntryDetails = {}): number {
    const charged = this.#ledger.settle(hold.reservation.id, toMicro(Math.max(0, cost)), usage);
    const wallet = hold.reservation.wallet;
    const held = (this.#heldBy.get(wallet) ?? 0) - hold.reservation.micro;
    if (held > 0) this.#heldBy.set(wallet, held);
    else this.#heldBy.delete(wallet);
    for (const key of hold.keys) {
      const tracked = this.#limits.get(key);
      if (tracked === undefined) continue;
      tracked.reservedMicro = Math.max(0, tracked.reservedMicro - hold.reservation.micro);
      tracked.spentMicro += toMicro(charged);
    }
    this.#serve();
    return charged;
  }

  /**
   * Spend another node of the cluster made under limits this node also keeps (a global budget,
   * a crew's or agent's that moved): counted as spent here too, as it arrives.
   */
  addSpent(scope: BudgetScope, micro: number): void {
    if (micro <= 0) return;
    for (const key of this.#keysFor(scope)) {
      const tracked = this.#limits.get(key) as Tracked;
      this.#roll(tracked);
      tracked.spentMicro += micro;
    }
  }

  /** The call was not made: everything held goes back. */
  release(hold: Hold): void {
    this.settle(hold, 0);
  }

  /** Calls waiting for room now (for tests and stats). */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Credits just came back: the waiting calls that now fit take them, oldest first; those that
   * no settlement could help any more (nothing they could wait for is still held) are refused now.
   */
  #serve(): void {
    // Waiters of one payer and scope share their room: worked out once per pass, again only
    // after a hold is taken (a pass over a long line is then a few comparisons per waiter).
    const rooms = new Map<string, Room>();
    for (let i = 0; i < this.#waiting.length; ) {
      const w = this.#waiting[i] as Waiter;
      let room = rooms.get(w.group);
      if (room === undefined) rooms.set(w.group, (room = this.#room(w.payer, this.#keysFor(w.scope))));
      const size = this.#size(w.payer, w.scope, w.sizing, false, room);
      if (size === "wait") {
        i++;
        continue;
      }
      this.#waiting.splice(i, 1);
      if (typeof size !== "number") {
        w.resolve(size);
        continue;
      }
      w.resolve({ hold: this.#hold(w.payer, w.scope, this.#keysFor(w.scope), w.sizing.costMicro(size), w.details), maxOutputTokens: size });
      rooms.clear();
    }
  }

  /**
   * The output cap a call can be held for now; "wait" when settling holds could give it a better
   * one (never when `final`); the refusal when nothing can be paid for.
   */
  #size(payer: string, scope: BudgetScope, sizing: CallSizing, final: boolean, room: Room = this.#room(payer, this.#keysFor(scope))): number | "wait" | FactoryError {
    const asked = Math.max(1, sizing.maxOutputTokens);
    if (sizing.costMicro(asked) <= room.free) return asked;
    if (!final && sizing.costMicro(asked) <= room.potential) return "wait";
    // Below the maximum, ask for what this model's answers usually take: that leaves room for
    // other calls of a burst instead of one call holding everything it could ever write.
    const usual = Math.min(asked, sizing.usualOutputTokens?.() ?? asked);
    if (sizing.costMicro(usual) <= room.free) return usual;
    if (!final && sizing.costMicro(usual) <= room.potential) return "wait";
    const least = sizing.truncate === "usual" ? usual : 1;
    if (sizing.costMicro(least) <= room.free) return largestFitting(sizing, usual, room.free);
    if (!final && sizing.costMicro(least) <= room.potential) return "wait";
    return this.#refusal(payer, scope, room, sizing.costMicro(least), least === asked ? null : least);
  }

  /** What `payer` can hold now under every limit in `keys` (`free`), and could once every open hold settled (`potential`). */
  #room(payer: string, keys: readonly string[]): Room {
    let free = this.#ledger.balanceMicro(payer);
    let potential = free + (this.#heldBy.get(payer) ?? 0);
    let binding = `wallet:${payer}`;
    for (const key of keys) {
      const tracked = this.#limits.get(key) as Tracked;
      this.#roll(tracked);
      const left = Math.max(0, tracked.limitMicro - tracked.spentMicro - tracked.reservedMicro);
      if (left < free) {
        free = left;
        binding = key;
      }
      potential = Math.min(potential, Math.max(0, tracked.limitMicro - tracked.spentMicro));
    }
    return { free, potential, binding };
  }

  /** BUDGET_EXCEEDED naming the tightest budget; `least`: the smallest output cap that was acceptable (null: the whole maximum). */
  #refusal(payer: string, scope: BudgetScope, room: { free: number; binding: string }, micro: number, least: number | null): FactoryError {
    const capped = least === 1 ? "even 1 output token" : `${least} output tokens`;
    const what = least === null ? `a call that may cost up to ${fromMicro(micro)} credits` : `a call of ${capped} (${fromMicro(micro)} credits)`;
    if (room.binding.startsWith("wallet:")) {
      return new FactoryError(
        "BUDGET_EXCEEDED",
        `wallet ${payer} cannot cover ${what}: it holds ${fromMicro(room.free)} credits. Give it credits: agent-factory ledger grant ${payer} <credits> (POST /v1/ledger/grants {"wallet": "${payer}", "amount": <credits>})` +
          // An agent in no crew pays from its own wallet, which starts with 0 credits.
          (scope.crewId === null && scope.agentId !== null ? `, or run agent ${scope.agentId} in a crew with a budget (a crew manifest's budget: credits; agent-factory crew assemble -f MANIFEST)` : ""),
        { nonRetryable: true, details: { budget: room.binding, wallet: payer, balance: fromMicro(room.free), estimate: fromMicro(micro) } },
      );
    }
    const cost = least === null ? `the call may cost up to ${fromMicro(micro)}` : `a call of ${capped} costs ${fromMicro(micro)}`;
    return new FactoryError("BUDGET_EXCEEDED", `the ${room.binding} budget has ${fromMicro(room.free)} credits left, ${cost}`, {
      nonRetryable: true,
      details: { budget: room.binding, remaining: fromMicro(room.free), estimate: fromMicro(micro) },
    });
  }

  /** Takes the hold: the wallet's credits into the reserve, and `micro` against every limit. */
  #hold(payer: string, scope: BudgetScope, keys: readonly string[], micro: number, details: EntryDetails): Hold {
    const reservation = this.#ledger.reserve(payer, Math.max(1, micro), { ...details, crewId: scope.crewId, agentId: scope.agentId });
    for (const key of keys) (this.#limits.get(key) as Tracked).reservedMicro += reservation.micro;
    this.#heldBy.set(payer, (this.#heldBy.get(payer) ?? 0) + reservation.micro);
    return { reservation, keys };
  }

  #roll(tracked: Tracked): void {
    if (tracked.periodMs === null) return;
    const now = this.#now();
    if (now - tracked.windowStart < tracked.periodMs) return;
    tracked.windowStart = now - ((now - tracked.windowStart) % tracked.periodMs);
    tracked.spentMicro = 0;
  }
}

/** The largest output cap up to `asked` whose cost fits in `free` micro-credits (0: none); costs only grow with the cap. */
function largestFitting(sizing: CallSizing, asked: number, free: number): number {
  let lo = 0;
  let hi = asked;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (sizing.costMicro(mid) <= free) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The crew or agent a budget key names (`crew:<id>`, `agent:<id>`); empty for `global`. */
export function budgetScopeOf(key: string): { crewId?: string; agentId?: string } {
  if (key.startsWith("crew:")) return { crewId: key.slice(5) };
  if (key.startsWith("agent:")) return { agentId: key.slice(6) };
  return {};
}

/** The same sizing with each output size's cost worked out once. */
function memoizedCosts(sizing: CallSizing): CallSizing {
  const costs = new Map<number, number>();
  return {
    ...sizing,
    costMicro: (tokens) => {
      let micro = costs.get(tokens);
      if (micro === undefined) costs.set(tokens, (micro = sizing.costMicro(tokens)));
      return micro;
    },
  };
}
