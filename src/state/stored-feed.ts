import type { Journal } from "./journal.ts";

/** How long publishing waits before asking again when the store refuses the values' batch. */
const RETRY_MS = 500;

/**
 * Hands values on (to the bus) only once the journal has stored them, in the order they were
 * pushed: in a store several nodes share, what the store gives a value on commit (an event's or
 * ledger entry's seq) is in it by then, and no other node hears of something that was never
 * stored. Values pushed after the journal closed are dropped with it.
 */
export class StoredFeed<T> {
  readonly #journal: Journal;
  readonly #publish: (value: T) => void;
  #unpublished: T[] = [];
  #publishing = false;

  constructor(journal: Journal, publish: (value: T) => void) {
    this.#journal = journal;
    this.#publish = publish;
  }

  push(value: T): void {
    this.#unpublished.push(value);
    if (!this.#publishing) void this.#run();
  }

  async #run(): Promise<void> {
    this.#publishing = true;
    try {
      while (this.#unpublished.length > 0) {
        const round = this.#unpublished.length;
        try {
          await this.#journal.commit();
        } catch (error) {
          // Closed or fenced: nothing more will be stored. Refused for now: the journal retries; so do we.
          const code = (error as { code?: unknown }).code;
          if (code === "SHUTTING_DOWN" || code === "NODE_FENCED") return;
          await new Promise((resolve) => setTimeout(resolve, RETRY_MS).unref());
          continue;
        }
        for (const value of this.#unpublished.splice(0, round)) this.#publish(value);
      }
    } finally {
      this.#publishing = false;
    }
  }
}
