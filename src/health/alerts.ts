import type { FactoryEventInput } from "../core/events.ts";

/** When an alert fires. */
export interface AlertThresholds {
  /** Tasks queued for one profile's pool at or above this fire `alert.queue_depth` (0: off). */
  queueDepth: number;
  /** The share of tasks that ended FAILED or DEAD over the last `windowMs`, at or above this, fires `alert.error_rate` (0: off) … */
  errorRate: number;
  /** … once at least this many tasks ended in the window. */
  errorRateMinTasks: number;
  windowMs: number;
  /** A budget with at most this share of its credits left fires `alert.budget_low` (0: off). */
  budgetFraction: number;
  /** How often the thresholds are checked. */
  checkMs: number;
}

export const DEFAULT_ALERTS: AlertThresholds = { queueDepth: 1_000, errorRate: 0.5, errorRateMinTasks: 20, windowMs: 60_000, budgetFraction: 0.1, checkMs: 5_000 };

export interface AlertsDeps {
  thresholds: AlertThresholds;
  emit(event: FactoryEventInput): void;
  /** Queued tasks per profile. */
  queueDepths(): Array<{ profile: string; queued: number }>;
  /** Each budget: its key, limit and what is left. */
  budgets(): Array<{ key: string; credits: number; remaining: number }>;
  now?: () => number;
}

type AlertType = "alert.queue_depth" | "alert.error_rate" | "alert.budget_low" | "alert.node_lost";

/**
 * Thresholds as data: a check every `checkMs` raises an `alert.*` event when a threshold is
 * crossed (`data.state: "firing"`, the value and the threshold) and another when it is back under
 * (`"resolved"`) — once each, not at every check, so the event stream shows changes, not noise.
 * A lost node fires at once (`alert.node_lost`, from the cluster's membership).
 */
export class Alerts {
  readonly #deps: AlertsDeps;
  readonly #now: () => number;
  /** What is firing now, by alert type and subject. */
  readonly #firing = new Set<string>();
  /** Finished tasks in the window: when, and whether they failed. */
  #finished: Array<{ at: number; failed: boolean }> = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(deps: AlertsDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  start(): void {
    if (this.#timer !== undefined || this.#deps.thresholds.checkMs <= 0) return;
    this.#timer = setInterval(() => this.check(), this.#deps.thresholds.checkMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Alerts firing now: `type subject`. */
  firing(): string[] {
    return [...this.#firing];
  }

  /** A task of this node ended. */
  taskFinished(state: string): void {
    this.#finished.push({ at: this.#now(), failed: state === "FAILED" || state === "DEAD" });
    if (this.#finished.length > 100_000) this.#finished = this.#finished.slice(-50_000);
  }

  /** Another node of the cluster stopped renewing its lease. */
  nodeLost(node: string, lastSeenAt: string | null): void {
    this.#deps.emit({ type: "alert.node_lost", data: { state: "firing", subject: node, node, lastSeenAt } });
  }

  /** Checks every threshold once (the timer's work; tests call it directly). */
  check(): void {
    const t = this.#deps.thresholds;
    if (t.queueDepth > 0) {
      const seen = new Set<string>();
      for (const { profile, queued } of this.#deps.queueDepths()) {
        seen.add(profile);
        this.#set("alert.queue_depth", profile, queued >= t.queueDepth, { profile, value: queued, threshold: t.queueDepth });
      }
      for (const key of this.#firing) {
        const [type, subject] = split(key);
        if (type === "alert.queue_depth" && !seen.has(subject)) this.#set(type, subject, false, { profile: subject, value: 0, threshold: t.queueDepth });
      }
    }
    if (t.errorRate > 0) {
      const since = this.#now() - t.windowMs;
      this.#finished = this.#finished.filter((f) => f.at >= since);
      const failed = this.#finished.filter((f) => f.failed).length;
      const total = this.#finished.length;
      const rate = total === 0 ? 0 : failed / total;
      this.#set("alert.error_rate", "tasks", total >= t.errorRateMinTasks && rate >= t.errorRate, { value: round(rate), threshold: t.errorRate, failed, finished: total, windowMs: t.windowMs });
    }
    if (t.budgetFraction > 0) {
      for (const b of this.#deps.budgets()) {
        if (!(b.credits > 0)) continue;
        const left = b.remaining / b.credits;
        this.#set("alert.budget_low", b.key, left <= t.budgetFraction, { key: b.key, value: round(left), threshold: t.budgetFraction, remaining: b.remaining, credits: b.credits });
      }
    }
  }

  #set(type: AlertType, subject: string, on: boolean, data: Record<string, unknown>): void {
    const key = `${type} ${subject}`;
    if (on === this.#firing.has(key)) return;
    if (on) this.#firing.add(key);
    else this.#firing.delete(key);
    this.#deps.emit({ type, data: { state: on ? "firing" : "resolved", subject, ...data } });
  }
}

function split(key: string): [AlertType, string] {
  const space = key.indexOf(" ");
  return [key.slice(0, space) as AlertType, key.slice(space + 1)];
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
