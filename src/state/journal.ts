import { FactoryError, isFactoryError } from "../core/errors.ts";
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
  #droppedAfterClose = 0;
  #retryDelayMs = 0;
  #closed = false;
  /** The store refuses this node for good (NODE_FENCED): nothing more is written or kept. */
  #fenced: FactoryError | undefined;
  readonly #onFenced: (error: FactoryError) => void;

  /** `onFenced`: the store said NODE_FENCED — another node took this node's rows; its writes can never be stored. */
  constructor(store: Store, onError: (error: unknown) => void, onFenced: (error: FactoryError) => void = () => {}) {
    this.#store = store;
    this.#onError = onError;
    this.#onFenced = onFenced;
  }

  /** The refusal that fenced this node out, once the store has said so. */
  get fenced(): FactoryError | undefined {
    return this.#fenced;
  }

  put(write: StoreWrite): void {
    if (this.#fenced !== undefined) return; // said once, when it happened
    if (this.#closed) {
      // A handler that returns after shutdown: the store is gone, say so once.
      if (this.#droppedAfterClose++ === 0) this.#onError(new Error(`a ${write.kind} write arrived after the store was closed; it is not kept`));
      return;
    }
    this.#pending.push(write);
    this.#putSeq++;
    if (this.#pending.length >= MAX_BATCH && this.#flushing === undefined && this.#retryDelayMs === 0) void this.#flush();
    else this.#schedule();
  }

  /**
   * Reads the store once every write made so far is in it ("commit, then read"): how services
   * read what is not live in memory, so a reader never misses a write the factory has made.
   */
  async read<T>(read: () => Promise<T>): Promise<T> {
    await this.commit();
    return read();
  }

  /** Resolves when every write put so far is in the store. */
  commit(): Promise<void> {
    if (this.#fenced !== undefined) return Promise.reject(this.#fenced);
    if (this.#durableSeq >= this.#putSeq) return Promise.resolve();
    if (this.#closed) return Promise.reject(new FactoryError("SHUTTING_DOWN", "the store is closed"));
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ upTo: this.#putSeq, resolve, reject });
      this.#schedule();
    });
  }

  /**
   * Writes everything pending and waits for it (used at shutdown). While the store takes the
   * writes this goes on to the end; once it refuses, it retries with backoff for at most
   * `timeoutMs` and returns how many writes could not be stored.
   */
  async drain(timeoutMs = 10_000): Promise<number> {
    let deadline = Infinity;
    while (this.#pending.length > 0 || this.#flushing !== undefined) {
      if (this.#retryDelayMs > 0 && deadline === Infinity) deadline = Date.now() + timeoutMs;
      if (Date.now() > deadline) return this.#pending.length;
      if (this.#flushing !== undefined) await this.#flushing.catch(() => {});
      else {
        if (this.#retryDelayMs > 0) await new Promise((r) => setTimeout(r, Math.min(this.#retryDelayMs, Math.max(0, deadline - Date.now()))));
        await this.#flush();
      }
    }
    return 0;
  }

  /**
   * Takes back writes not yet in the store, so they never reach it: for a caller whose
   * `commit()` was refused and who told its own caller so (a refused submit leaves no trace).
   * Returns how many were taken back; a write in a batch the store is applying right now is
   * not among them. Durability accounting stays safe: a taken-back write counts as done, and
   * nobody waits on it but the caller that gave it up.
   */
  withdraw(match: (write: StoreWrite) => boolean): number {
    const before = this.#pending.length;
    this.#pending = this.#pending.filter((write) => !match(write));
    if (this.#pending.length === 0 && this.#flushing === undefined) this.#allDone();
    return before - this.#pending.length;
  }

  /** Resolves once no batch is being applied (whether it was stored or refused). */
  async idle(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing.catch(() => {});
  }

  /** True while a batch is being applied: a write in it can be neither withdrawn nor known durable yet. */
  get applying(): boolean {
    return this.#flushing !== undefined;
  }

  /** False while the store refuses writes (they are kept and retried). */
  get healthy(): boolean {
    return this.#retryDelayMs === 0;
  }

  close(): void {
    this.#closed = true;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(new FactoryError("SHUTTING_DOWN", "the store was closed before this write was stored"));
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
    if (this.#closed) return; // a flush scheduled before close(): the store is gone
    if (this.#flushing !== undefined) return; // the running flush reschedules what is left
    if (this.#pending.length === 0) {
      this.#allDone();
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
      if (isFactoryError(error) && error.code === "NODE_FENCED") {
        this.#fence(error, batch.length);
        return;
      }
      // Values are checked where they enter (json-value.ts), so a refusal is the store's, not
      // one write's: keep the batch ahead of newer writes, which supersede it, and retry with
      // backoff; waiting callers learn now that it is not durable yet.
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

  /** For good: what is pending can never be stored (another node owns those rows now), so it goes. */
  #fence(error: FactoryError, refused: number): void {
    this.#fenced = error;
    const lost = refused + this.#pending.length;
    this.#pending = [];
    this.#durableSeq = this.#putSeq;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(error);
    this.#onError(new FactoryError("NODE_FENCED", `${error.message} (${lost} write(s) not stored)`, { cause: error }));
    this.#onFenced(error);
  }

  /**
   * Nothing pending and nothing being applied: every write put is in the store or was
   * withdrawn, and no refusal stands (what the store refused was withdrawn).
   */
  #allDone(): void {
    this.#durableSeq = this.#putSeq;
    this.#retryDelayMs = 0;
    this.#settleWaiters();
  }

  #settleWaiters(): void {
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (w.upTo > this.#durableSeq) still.push(w);
      else w.resolve();
    }
    this.#waiters = still;
  }
}
