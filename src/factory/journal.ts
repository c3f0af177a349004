import { FactoryError } from "../core/errors.ts";
import type { Store, StoreWrite } from "../core/ports/store.ts";

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Write-behind to the store with group commit. Writes made in the same turn of the event loop
 * go to the store as one transaction; `commit()` resolves once everything written before it is
 * durable, so a caller that must not lose a write (an accepted task) awaits it, and the hot
 * path (agent state changes) does not.
 */
export class Journal {
  readonly #store: Store;
  readonly #onError: (error: unknown) => void;
  #pending: StoreWrite[] = [];
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
    this.#schedule();
  }

  /** Resolves when every write put so far is in the store. */
  commit(): Promise<void> {
    if (this.#pending.length === 0 && this.#flushing === undefined) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
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
    if (this.#flushing !== undefined) {
      await this.#flushing.catch(() => {});
      if (this.#pending.length > 0 || this.#waiters.length > 0) this.#schedule();
      return;
    }
    if (this.#pending.length === 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w.resolve();
      return;
    }
    const batch = this.#pending;
    const waiters = this.#waiters;
    this.#pending = [];
    this.#waiters = [];
    this.#flushing = this.#store.apply(batch);
    try {
      await this.#flushing;
      this.#retryDelayMs = 0;
      for (const w of waiters) w.resolve();
    } catch (error) {
      // Keep the batch (ahead of newer writes, which supersede it) and retry with backoff;
      // callers waiting on durability learn now that it is not there yet.
      this.#pending = batch.concat(this.#pending);
      this.#retryDelayMs = Math.min(5_000, Math.max(50, this.#retryDelayMs * 2));
      this.#onError(error);
      const failure = new FactoryError("STORE_UNAVAILABLE", `the store rejected a write: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
      for (const w of waiters) w.reject(failure);
    } finally {
      this.#flushing = undefined;
    }
    if (this.#pending.length > 0 || this.#waiters.length > 0) this.#schedule();
  }
}
