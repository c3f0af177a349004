import { FactoryError } from "../core/errors.ts";
import type { Store, StoreWrite } from "../core/ports/store.ts";

interface Waiter {
  /** Durable once every write up to this sequence number is in the store. */
  upTo: number;
  resolve(): void;
  reject(error: unknown): void;
}

/** Writes per store transaction: bounds how long one synchronous SQLite commit holds the event loop. */
const MAX_BATCH = 2_000;

/**
 * Write-behind to the store with group commit. Writes made in the same turn of the event loop
 * go to the store together (at most MAX_BATCH per transaction); `commit()` resolves once
 * everything written before it is durable, so a caller that must not lose a write (an accepted
 * task) awaits it, and the hot path (agent state changes) does not. A caller that writes a lot
 * without yielding triggers a flush itself, so pending writes stay bounded.
 */
export class Journal {
  readonly #store: Store;
  readonly #onError: (error: unknown) => void;
  #pending: StoreWrite[] = [];
  /** Sequence number of the last write put, and of the last one known durable. */
  #putSeq = 0;
  #durableSeq = 0;
  #waiters: Waiter[] = [];
  #scheduled = false;
  #flushing: Promise<void> | undefined;
  #retryDelayMs = 0;
  #closed = false;

  constructor(store: Store, onError: (error: unknown) => void) {
    this.#store = store;
    this.#onError = onError;
  }

  put(write: StoreWrite): void {
    this.#pending.push(write);
    this.#putSeq++;
    if (this.#pending.length >= MAX_BATCH && this.#flushing === undefined && this.#retryDelayMs === 0) void this.#flush();
    else this.#schedule();
  }

  /** Resolves when every write put so far is in the store. */
  commit(): Promise<void> {
    if (this.#durableSeq >= this.#putSeq) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ upTo: this.#putSeq, resolve, reject });
      this.#schedule();
    });
  }

  /** Writes everything pending now and waits for it; used at shutdown. */
  async drain(): Promise<void> {
    while (this.#pending.length > 0 || this.#flushing !== undefined) {
      if (this.#flushing !== undefined) await this.#flushing.catch(() => {});
      else await this.#flush();
    }
  }

  close(): void {
    this.#closed = true;
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    const run = (): void => {
      this.#scheduled = false;
      void this.#flush();
    };
    if (this.#retryDelayMs > 0) setTimeout(run, this.#retryDelayMs).unref();
    else setImmediate(run);
  }

  async #flush(): Promise<void> {
    if (this.#flushing !== undefined) return; // the running flush reschedules what is left
    if (this.#pending.length === 0) {
      this.#settleWaiters();
      return;
    }
    const batch = this.#pending.splice(0, MAX_BATCH);
    const lastSeq = this.#putSeq - this.#pending.length;
    this.#flushing = this.#store.apply(batch);
    try {
      await this.#flushing;
      this.#retryDelayMs = 0;
      this.#durableSeq = lastSeq;
      this.#settleWaiters();
    } catch (error) {
      // Keep the batch (ahead of newer writes, which supersede it) and retry with backoff;
      // callers waiting on durability learn now that it is not there yet.
      this.#pending = batch.concat(this.#pending);
      this.#retryDelayMs = Math.min(5_000, Math.max(50, this.#retryDelayMs * 2));
      this.#onError(error);
      const failure = new FactoryError("STORE_UNAVAILABLE", `the store rejected a write: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w.reject(failure);
    } finally {
      this.#flushing = undefined;
    }
    if (this.#pending.length > 0 || this.#waiters.length > 0) this.#schedule();
  }

  #settleWaiters(): void {
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (w.upTo <= this.#durableSeq) w.resolve();
      else still.push(w);
    }
    this.#waiters = still;
  }
}
