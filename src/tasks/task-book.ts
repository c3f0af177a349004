import { isFinalTaskState } from "../core/task-states.ts";
import type { Task } from "../core/task.ts";

/**
 * The tasks the factory holds in memory: those not yet final, the most recently finished ones
 * (so a result is read without the store), the idempotency keys of both, and who waits for
 * which task to end. State only; intake and the dispatcher decide what happens to tasks.
 */
export class TaskBook {
  /** Tasks not yet final. */
  readonly #live = new Map<string, Task>();
  /** Recently finished tasks, oldest first. */
  readonly #recent = new Map<string, Task>();
  /** Insertion order of #recent as a ring: evicting through a Map's keys() gets slower as deletes pile up. */
  readonly #recentRing: Array<string | undefined>;
  #recentNext = 0;
  readonly #waiters = new Map<string, Set<(task: Task) => void>>();
  /** Idempotency keys of the tasks held in memory; older ones are looked up in the store. */
  readonly #byIdempotencyKey = new Map<string, Task>();

  constructor(recentTaskLimit: number) {
    this.#recentRing = new Array<string | undefined>(Math.max(1, recentTaskLimit));
  }

  live(id: string): Task | undefined {
    return this.#live.get(id);
  }

  recent(id: string): Task | undefined {
    return this.#recent.get(id);
  }

  /** Live or recently finished. */
  find(id: string): Task | undefined {
    return this.#live.get(id) ?? this.#recent.get(id);
  }

  liveTasks(): IterableIterator<Task> {
    return this.#live.values();
  }

  byIdempotencyKey(key: string): Task | undefined {
    return this.#byIdempotencyKey.get(key);
  }

  /** Holds a task as live (submitted, restored or re-driven), claiming its idempotency key. */
  track(task: Task): void {
    this.#live.set(task.id, task);
    if (task.idempotencyKey !== null) this.#byIdempotencyKey.set(task.idempotencyKey, task);
  }

  /** Forgets a task that was never accepted: it leaves no trace and its key is free again. */
  untrack(task: Task): void {
    this.#live.delete(task.id);
    if (task.idempotencyKey !== null && this.#byIdempotencyKey.get(task.idempotencyKey) === task) this.#byIdempotencyKey.delete(task.idempotencyKey);
  }

  /** A finished task comes back to life (a re-drive): live again, no longer among the recent. */
  revive(task: Task): void {
    this.#recent.delete(task.id);
    this.track(task);
  }

  /** A task became final: it moves to the recent ring (evicting the oldest) and its waiters hear of it. */
  finished(task: Task): void {
    this.#live.delete(task.id);
    const slot = this.#recentNext;
    this.#recentNext = (slot + 1) % this.#recentRing.length;
    const oldest = this.#recentRing[slot];
    this.#recentRing[slot] = task.id;
    if (oldest !== undefined && oldest !== task.id) {
      const evicted = this.#recent.get(oldest);
      // A re-driven task left #recent and may be back under a newer slot: only evict what this slot holds.
      if (evicted !== undefined && isFinalTaskState(evicted.state)) {
        this.#recent.delete(oldest);
        if (evicted.idempotencyKey !== null && this.#byIdempotencyKey.get(evicted.idempotencyKey) === evicted) this.#byIdempotencyKey.delete(evicted.idempotencyKey);
      }
    }
    this.#recent.set(task.id, task);
    const waiters = this.#waiters.get(task.id);
    if (waiters !== undefined) {
      this.#waiters.delete(task.id);
      for (const waiter of waiters) waiter(task);
    }
  }

  /**
   * Resolves with a copy of the task once it is final, or as it is after `waitMs`. `fallback`
   * is the task as the caller last read it; `read` reads it again when it is no longer held.
   */
  waitFor(id: string, waitMs: number, fallback: Task, read: (id: string) => Promise<Task>): Promise<Task> {
    return new Promise<Task>((resolve) => {
      // It may have finished while the caller read it.
      const live = this.#live.get(id);
      if (live === undefined) {
        const finished = this.#recent.get(id);
        if (finished !== undefined) return resolve({ ...finished });
        void read(id).then(resolve, () => resolve(fallback));
        return;
      }
      if (isFinalTaskState(live.state)) return resolve({ ...live });
      let set = this.#waiters.get(id);
      if (set === undefined) {
        set = new Set();
        this.#waiters.set(id, set);
      }
      const waiter = (final: Task): void => {
        clearTimeout(timer);
        resolve({ ...final });
      };
      const timer = setTimeout(() => {
        set.delete(waiter);
        if (set.size === 0) this.#waiters.delete(id);
        resolve({ ...(this.#live.get(id) ?? this.#recent.get(id) ?? fallback) });
      }, waitMs);
      set.add(waiter);
    });
  }

  /** At shutdown: every waiter gets its task as it stands. */
  releaseWaiters(): void {
    for (const [id, waiters] of this.#waiters) {
      const task = this.#live.get(id);
      if (task !== undefined) for (const waiter of waiters) waiter(task);
    }
    this.#waiters.clear();
  }
}
