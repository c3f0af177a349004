import { setImmediate as nextTurn } from "node:timers/promises";
import { z } from "zod";
import type { PruneKind, Store } from "../core/ports/store.ts";
import { parseWith } from "../core/schemas/parse.ts";

const DAY_MS = 86_400_000;

/** How long and how many rows of one kind are kept; `null` sets no limit on that axis. */
export interface RetentionRule {
  /** Rows older than this go (finished tasks: counted from when they finished); `null` keeps any age. */
  maxAgeMs?: number | null;
  /** Only the newest this many stay; `null` keeps any number. */
  maxCount?: number | null;
}

/**
 * What the store keeps of finished work. Unfinished tasks and ledger entries are never deleted,
 * nor agents, crews, wallets, profiles or crew context. See docs/storage.md.
 */
export interface RetentionOptions {
  /** Finished tasks (SUCCEEDED, FAILED, CANCELLED, DEAD); default 7 days and at most 100,000. */
  tasks?: RetentionRule;
  /** Events other than crew messages; default 7 days and at most 1,000,000. */
  events?: RetentionRule;
  /** Crew messages (published and broadcast); default 7 days and at most 100,000. */
  messages?: RetentionRule;
  /** How often old rows are looked for; default 60 s. */
  intervalMs?: number;
  /** Rows deleted per store call, between which other work runs; default 200. */
  batchSize?: number;
}

/** The defaults, documented in docs/storage.md: a week of history, with counts that bound the disk a busy factory uses. */
export const DEFAULT_RETENTION = {
  tasks: { maxAgeMs: 7 * DAY_MS, maxCount: 100_000 },
  events: { maxAgeMs: 7 * DAY_MS, maxCount: 1_000_000 },
  messages: { maxAgeMs: 7 * DAY_MS, maxCount: 100_000 },
  intervalMs: 60_000,
  batchSize: 200,
} as const;

const Rule = z.strictObject({
  maxAgeMs: z.number().int().min(0).nullable().optional(),
  maxCount: z.number().int().min(0).nullable().optional(),
});

const RetentionOptionsSchema = z.strictObject({
  tasks: Rule.optional(),
  events: Rule.optional(),
  messages: Rule.optional(),
  intervalMs: z.number().int().min(10).optional(),
  batchSize: z.number().int().min(1).max(10_000).optional(),
});

/** Retention with every default filled in. */
export interface RetentionSettings {
  rules: Record<PruneKind, { maxAgeMs: number | null; maxCount: number | null }>;
  intervalMs: number;
  batchSize: number;
}

/** Validates retention options (VALIDATION_FAILED naming the field) and fills in the defaults. */
export function retentionSettings(options: RetentionOptions = {}): RetentionSettings {
  const parsed = parseWith(RetentionOptionsSchema, options, "retention");
  const rule = (kind: PruneKind) => ({
    maxAgeMs: parsed[kind]?.maxAgeMs === undefined ? DEFAULT_RETENTION[kind].maxAgeMs : parsed[kind].maxAgeMs,
    maxCount: parsed[kind]?.maxCount === undefined ? DEFAULT_RETENTION[kind].maxCount : parsed[kind].maxCount,
  });
  return {
    rules: { tasks: rule("tasks"), events: rule("events"), messages: rule("messages") },
    intervalMs: parsed.intervalMs ?? DEFAULT_RETENTION.intervalMs,
    batchSize: parsed.batchSize ?? DEFAULT_RETENTION.batchSize,
  };
}

export interface RetentionDeps {
  store: Store;
  settings: RetentionSettings;
  /** Told what each round deleted, when it deleted anything. */
  onPruned(deleted: Record<PruneKind, number>): void;
  onError(message: string, error: unknown): void;
}

const KINDS: readonly PruneKind[] = ["tasks", "events", "messages"];

/**
 * Deletes what retention no longer keeps, in the background: every `intervalMs`, each kind in
 * batches of `batchSize` rows, yielding to other work between batches (a SQLite delete holds
 * the event loop while it runs), until a batch comes back short.
 */
export class Retention {
  readonly #deps: RetentionDeps;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #stopped = false;

  constructor(deps: RetentionDeps) {
    this.#deps = deps;
  }

  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    const { rules } = this.#deps.settings;
    if (KINDS.every((k) => rules[k].maxAgeMs === null && rules[k].maxCount === null)) return; // keeps everything
    this.#timer = setInterval(() => {
      if (this.#round !== undefined) return; // the last round is still deleting
      this.#round = this.runOnce()
        .then((deleted) => {
          if (KINDS.some((k) => deleted[k] > 0)) this.#deps.onPruned(deleted);
        })
        .catch((error: unknown) => this.#deps.onError("retention could not delete old rows; it tries again next round", error))
        .finally(() => {
          this.#round = undefined;
        });
    }, this.#deps.settings.intervalMs);
    this.#timer.unref();
  }

  /** Stops the rounds and waits for the one under way (before the store closes). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#round;
  }

  /** One round: deletes everything outside the limits now; says how many rows of each kind went. */
  async runOnce(): Promise<Record<PruneKind, number>> {
    const { rules, batchSize } = this.#deps.settings;
    const deleted: Record<PruneKind, number> = { tasks: 0, events: 0, messages: 0 };
    for (const kind of KINDS) {
      const { maxAgeMs, maxCount } = rules[kind];
      if (maxAgeMs === null && maxCount === null) continue;
      const before = maxAgeMs === null ? undefined : new Date(Date.now() - maxAgeMs).toISOString();
      for (;;) {
        if (this.#stopped) return deleted;
        const n = await this.#deps.store.prune({ kind, limit: batchSize, ...(before === undefined ? {} : { before }), ...(maxCount === null ? {} : { keep: maxCount }) });
        deleted[kind] += n;
        if (n < batchSize) break;
        await nextTurn();
      }
    }
    return deleted;
  }
}
