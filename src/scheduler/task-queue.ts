import type { Task } from "../core/task.ts";

/** Priorities are 0 (highest) to 9. */
const PRIORITIES = 10;

/**
 * Waiting tasks: one FIFO per priority. `take` hands out the first task, in priority then
 * arrival order, that a given agent accepts.
 */
export class TaskQueue {
  readonly #buckets: Task[][] = Array.from({ length: PRIORITIES }, () => []);
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(task: Task): void {
    (this.#buckets[task.priority] as Task[]).push(task);
    this.#size++;
  }

  take(accept: (task: Task) => boolean): Task | undefined {
    if (this.#size === 0) return undefined;
    for (const bucket of this.#buckets) {
      for (let i = 0; i < bucket.length; i++) {
        const task = bucket[i] as Task;
        if (accept(task)) {
          bucket.splice(i, 1);
          this.#size--;
          return task;
        }
      }
    }
    return undefined;
  }

  remove(taskId: string): Task | undefined {
    for (const bucket of this.#buckets) {
      const i = bucket.findIndex((t) => t.id === taskId);
      if (i >= 0) {
        this.#size--;
        return bucket.splice(i, 1)[0];
      }
    }
    return undefined;
  }

  *[Symbol.iterator](): IterableIterator<Task> {
    for (const bucket of this.#buckets) yield* bucket;
  }
}
