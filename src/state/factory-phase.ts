import { FactoryError } from "../core/errors.ts";

export type Phase = "new" | "started" | "closing" | "closed";

/**
 * Where the factory is in its own life, shared by every service that must refuse work once it
 * closes (intake, healing, hibernation) — one value rather than a flag per service.
 */
export class FactoryPhase {
  #phase: Phase = "new";
  readonly #closing = new AbortController();

  get current(): Phase {
    return this.#phase;
  }

  get started(): boolean {
    return this.#phase === "started";
  }

  /** Aborted when closing begins: long-lived readers (event streams) end with it. */
  get closingSignal(): AbortSignal {
    return this.#closing.signal;
  }

  begin(): void {
    this.#phase = "started";
  }

  close(): void {
    this.#phase = "closing";
    this.#closing.abort();
  }

  closed(): void {
    this.#phase = "closed";
  }

  /** SHUTTING_DOWN unless started: before `start()` and from `close()` on, nothing new is taken. */
  assertOpen(): void {
    if (this.#phase !== "started") {
      throw new FactoryError("SHUTTING_DOWN", this.#phase === "new" ? "the factory has not started" : "the factory is shutting down and takes no new work");
    }
  }
}
