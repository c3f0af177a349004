import { FactoryError } from "../core/errors.ts";
import type { Store, StoreWrite } from "../core/ports/store.ts";

interface Waiter {
  /** Durable once every write up to this sequence number is in the store. */
  upTo: number;
  resolve(): void;
  reject(error: unknown): void;
}

/** Errors that come from the data, not from the store: the same write would fail again. */
function isPoison(error: unknown): boolean {
  return error instanceof RangeError || error instanceof TypeError;
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

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
  #flushing: Promise<StoreWrite[]> | undefined;
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

  /**
   * Writes everything pending and waits for it (used at shutdown), retrying a refusing store
   * with backoff until `timeoutMs`; returns how many writes could not be stored.
   */
  async drain(timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.#pending.length > 0 || this.#flushing !== undefined) {
      if (Date.now() > deadline) return this.#pending.length;
      if (this.#flushing !== undefined) await this.#flushing.catch(() => {});
      else {
        if (this.#retryDelayMs > 0) await new Promise((r) => setTimeout(r, Math.min(this.#retryDelayMs, Math.max(0, deadline - Date.now()))));
        await this.#flush();
      }
    }
    return 0;
  }

  /** False while the store refuses writes (they are kept and retried). */
  get healthy(): boolean {
    return this.#retryDelayMs === 0;
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
    this.#flushing = this.#applyIsolating(batch);
    try {
      const dropped = await this.#flushing;
      this.#retryDelayMs = 0;
      this.#durableSeq = lastSeq;
      this.#settleWaiters(dropped);
    } catch (error) {
      // The store itself refused (not one bad write): keep the batch ahead of newer writes,
      // which supersede it, and retry with backoff; waiting callers learn now that it is not
      // durable yet.
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

  /**
   * Applies a batch; if it fails, applies its writes one by one so that a single write the
   * store cannot take (it would fail every time) is dropped and reported instead of blocking
   * every write after it. Throws only when the store takes none of them (it is down).
   */
  async #applyIsolating(batch: StoreWrite[]): Promise<StoreWrite[]> {
    try {
      await this.#store.apply(batch);
      return [];
    } catch (batchError) {
      const dropped: StoreWrite[] = [];
      let applied = 0;
      let lastError: unknown = batchError;
      for (const write of batch) {
        try {
          await this.#store.apply([write]);
          applied++;
        } catch (error) {
          dropped.push(write);
          lastError = error;
        }
      }
      if (applied === 0 && batch.length > 1) throw lastError;
      if (applied === 0 && dropped.length === 1 && !isPoison(lastError)) throw lastError;
      for (const write of dropped) this.#onError(new Error(`dropped a ${write.kind} write the store cannot take: ${describe(lastError)}`));
      return dropped;
    }
  }

  #settleWaiters(dropped: readonly StoreWrite[] = []): void {
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    const failure =
      dropped.length === 0 ? undefined : new FactoryError("STORE_UNAVAILABLE", `the store could not take ${dropped.length} write(s); they were dropped`);
    for (const w of this.#waiters) {
      if (w.upTo > this.#durableSeq) still.push(w);
      else if (failure !== undefined) w.reject(failure);
      else w.resolve();
    }
    this.#waiters = still;
  }
}
