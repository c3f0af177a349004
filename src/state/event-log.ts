import type { FactoryEvent, FactoryEventInput } from "../core/events.ts";
import type { Bus } from "../core/ports/bus.ts";
import type { Journal } from "./journal.ts";

/** The bus channel every factory event is published on. */
export const EVENTS_CHANNEL = "factory:events";

/** Numbers events, keeps them (through the journal) and publishes them on the bus. */
export class EventLog {
  readonly #journal: Journal;
  readonly #bus: Bus;
  readonly #nodeId: string | undefined;
  #seq: number;

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
  }

  get lastSeq(): number {
    return this.#seq;
  }

  emit(input: FactoryEventInput): FactoryEvent {
    const event: FactoryEvent = { seq: ++this.#seq, at: new Date().toISOString(), ...(this.#nodeId === undefined ? {} : { nodeId: this.#nodeId }), ...input };
    this.#journal.put({ kind: "event", value: event });
    this.#bus.publish(EVENTS_CHANNEL, event);
    return event;
  }
}
