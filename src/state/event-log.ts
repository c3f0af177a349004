import type { FactoryEvent, FactoryEventInput } from "../core/events.ts";
import type { Bus } from "../core/ports/bus.ts";
import type { Journal } from "./journal.ts";
import { StoredFeed } from "./stored-feed.ts";
import { Hook } from "../core/hook.ts";

/** The bus channel every factory event is published on. */
export const EVENTS_CHANNEL = "factory:events";

/**
 * Numbers events, keeps them (through the journal) and publishes them on the bus.
 *
 * With one writer the log numbers events itself and publishes at once. In a store several nodes
 * share, the store numbers them as it commits (`numberedByStore`), so an event is published only
 * once it is stored, under its final seq, in the order it was emitted: a subscriber on any node
 * sees the seq that `GET /v1/events?afterSeq=` pages by.
 */
export class EventLog {
  readonly #journal: Journal;
  readonly #bus: Bus;
  readonly #nodeId: string | undefined;
  #seq: number;
  /** Set once the store numbers events: they are published from it once stored. */
  #feed: StoredFeed<FactoryEvent> | undefined;
  #lastPublished = 0;
  /** Each event this node emits, at once (metrics, alerts and logs follow it; other nodes' events come over the bus). */
  readonly emitted = new Hook<[event: FactoryEvent]>();

  /** `nodeId` stamps every event, so that a subscriber on a shared bus can tell this node's from another's. */
  constructor(journal: Journal, bus: Bus, nodeId?: string) {
    this.#journal = journal;
    this.#bus = bus;
    this.#nodeId = nodeId;
    this.#seq = 0;
  }

  /** Continues numbering after the last stored event (at start-up). */
  resumeAfter(lastSeq: number): void {
    this.#seq = Math.max(this.#seq, lastSeq);
    this.#lastPublished = Math.max(this.#lastPublished, lastSeq);
  }

  /** From now on the store gives seqs (a store several nodes share); events are published once stored. */
  numberedByStore(): void {
    this.#feed ??= new StoredFeed(this.#journal, (event) => {
      this.#lastPublished = Math.max(this.#lastPublished, event.seq);
      this.#bus.publish(EVENTS_CHANNEL, event);
    });
  }

  /** The seq of the last event emitted (store numbering: of the last one stored and published). */
  get lastSeq(): number {
    return this.#feed === undefined ? this.#seq : this.#lastPublished;
  }

  emit(input: FactoryEventInput): FactoryEvent {
    const event: FactoryEvent = { seq: ++this.#seq, at: new Date().toISOString(), ...(this.#nodeId === undefined ? {} : { nodeId: this.#nodeId }), ...input };
    this.#journal.put({ kind: "event", value: event });
    if (this.#feed === undefined) this.#bus.publish(EVENTS_CHANNEL, event);
    else this.#feed.push(event);
    this.emitted.emit(event);
    return event;
  }
}
