import type { FactoryEvent } from "../../core/events.ts";
import type { EventQuery, FactoryClient } from "../../client/index.ts";
import { ClientError } from "../client.ts";
import { delay } from "./delay.ts";

/** Records the factory's `task.state` and `agent.state` events, resuming after a cut, without duplicates. */
export class EventRecorder {
  readonly events: FactoryEvent[] = [];
  reconnects = 0;
  #lastSeq: number;
  readonly #client: FactoryClient;
  readonly #stop = new AbortController();
  readonly #onEvent: (event: FactoryEvent) => void;
  #following: Promise<void> | undefined;

  constructor(client: FactoryClient, afterSeq: number, onEvent: (event: FactoryEvent) => void) {
    this.#client = client;
    this.#lastSeq = afterSeq;
    this.#onEvent = onEvent;
  }

  #query(): EventQuery {
    return { types: ["task.state", "agent.state"], after: this.#lastSeq };
  }

  #take = (event: FactoryEvent): void => {
    if (event.seq <= this.#lastSeq) return;
    this.#lastSeq = event.seq;
    this.events.push(event);
    this.#onEvent(event);
  };

  /** Resolves once the stream is open (or failed to open: the error rejects). */
  async start(): Promise<void> {
    let opened!: () => void;
    let failed!: (error: unknown) => void;
    const ready = new Promise<void>((resolve, reject) => {
      opened = resolve;
      failed = reject;
    });
    let first = true;
    this.#following = (async () => {
      while (!this.#stop.signal.aborted) {
        try {
          await this.#client.events(this.#query(), this.#take, this.#stop.signal, () => {
            if (first) opened();
            first = false;
          });
        } catch (error) {
          if (first) {
            failed(error);
            return;
          }
        }
        if (this.#stop.signal.aborted) return;
        if (first) {
          failed(new ClientError("BAD_RESPONSE", "the event stream /v1/events closed before it was ready", 0));
          return;
        }
        // The stream ended (overflow, a cut): resume after the last event seen.
        this.reconnects++;
        await delay(200, this.#stop.signal);
      }
    })();
    await ready;
  }

  /** Replays what the store holds after the last event seen (catching up), then stops following. */
  async stop(): Promise<void> {
    const catchUp = new AbortController();
    const timeout = setTimeout(() => catchUp.abort(), 10_000);
    try {
      await this.#client.events(this.#query(), this.#take, catchUp.signal, () => {
        // Let anything emitted while the replay ran come in over the live streams, then stop.
        setTimeout(() => catchUp.abort(), 300).unref();
      });
    } catch {
      // The live stream may still have everything; the report says how many events it saw.
    } finally {
      clearTimeout(timeout);
      this.#stop.abort();
      await this.#following;
    }
  }
}
