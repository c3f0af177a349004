import type { FactoryEvent, FactoryEventInput } from "../core/events.ts";
import type { Bus } from "../core/ports/bus.ts";
import type { Journal } from "./journal.ts";

/** The bus channel every factory event is published on. */
export const EVENTS_CHANNEL = "factory:events";

/** Numbers events, keeps them (through the journal) and publishes them on the bus. */
export class EventLog {
  readonly #journal: Journal;
  readonly #bus: Bus;
  #seq: number;

  constructor(journal: Journal, bus: Bus) {
    this.#journal = journal;
    this.#bus = bus;
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
    const event: FactoryEvent = { seq: ++this.#seq, at: new Date().toISOString(), ...input };
    this.#journal.put({ kind: "event", value: event });
    this.#bus.publish(EVENTS_CHANNEL, event);
    return event;
  }
}
