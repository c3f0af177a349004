/**
 * A notification one service gives and others listen to: the giver is built first and knows
 * nothing of its listeners, which `createFactory` adds once they exist. This is how services
 * talk upward without closures into a facade or thunks to parts not yet built.
 * Listeners run in the order they were added, synchronously, as a direct call would: one that
 * throws throws to the giver (the listeners here do not throw on purpose).
 */
export class Hook<A extends unknown[]> {
  readonly #listeners: Array<(...args: A) => void> = [];

  /** Adds a listener; the returned function removes it. */
  add(listener: (...args: A) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const at = this.#listeners.indexOf(listener);
      if (at >= 0) this.#listeners.splice(at, 1);
    };
  }

  /** Calls every listener with `args` (bound, so it can be handed on as a plain function). */
  readonly emit = (...args: A): void => {
    for (const listener of this.#listeners) listener(...args);
  };
}
