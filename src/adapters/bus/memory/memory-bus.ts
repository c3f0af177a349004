import type { Bus, Unsubscribe } from "../../../core/ports/bus.ts";

/**
 * The in-process bus: synchronous fan-out to the handlers of a channel. A throwing handler
 * is reported and skipped so one bad subscriber cannot starve the others.
 */
export class MemoryBus implements Bus {
  readonly #channels = new Map<string, Set<(message: unknown) => void>>();
  readonly #onHandlerError: (error: unknown, channel: string) => void;
  #closed = false;

  constructor(options: { onHandlerError?: (error: unknown, channel: string) => void } = {}) {
    this.#onHandlerError = options.onHandlerError ?? ((error, channel) => console.error(`bus handler on ${channel} failed:`, error));
  }

  publish(channel: string, message: unknown): void {
    const handlers = this.#channels.get(channel);
    if (handlers === undefined) return;
    // A Set tolerates handlers unsubscribing while it is iterated; no copy per message.
    for (const handler of handlers) {
      try {
        handler(message);
      } catch (error) {
        this.#onHandlerError(error, channel);
      }
    }
  }

  subscribe(channel: string, handler: (message: unknown) => void): Unsubscribe {
    // The port's promise: after close a subscription is harmless and hears nothing.
    if (this.#closed) return () => {};
    let handlers = this.#channels.get(channel);
    if (handlers === undefined) {
      handlers = new Set();
      this.#channels.set(channel, handlers);
    }
    // Wrap so the same function may subscribe twice and unsubscribe each independently.
    const entry = (message: unknown): void => handler(message);
    handlers.add(entry);
    return () => {
      const set = this.#channels.get(channel);
      if (set === undefined) return;
      set.delete(entry);
      if (set.size === 0) this.#channels.delete(channel);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#channels.clear();
  }
}
