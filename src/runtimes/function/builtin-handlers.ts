import { setTimeout as sleep } from "node:timers/promises";
import { FactoryError } from "../../core/errors.ts";
import type { FunctionHandler } from "./function-handler.ts";

function field(input: unknown, name: string): unknown {
  return typeof input === "object" && input !== null ? (input as Record<string, unknown>)[name] : undefined;
}

/** Handlers every factory has, so anyone can smoke-test without writing code. */
export const builtinHandlers: Readonly<Record<string, FunctionHandler>> = {
  /** Returns its input. */
  echo: (input) => input,
  /** Waits `input.ms` (default 0, at most 1 h), then returns its input; honours cancellation; reports progress every second. */
  sleep: async (input, { signal, progress }) => {
    const raw = field(input, "ms");
    const ms = raw === undefined ? 0 : Number(raw);
    if (!Number.isFinite(ms) || ms < 0 || ms > 3_600_000) {
      throw new FactoryError("VALIDATION_FAILED", "sleep: input.ms must be a number of milliseconds from 0 to 3600000", {
        field: "input.ms",
        nonRetryable: true,
      });
    }
    const until = Date.now() + ms;
    for (let left = ms; left > 0; left = until - Date.now()) {
      // Rejects with the factory's reason (not a bare AbortError), as a handler should.
      await sleep(Math.min(left, 1_000), undefined, { signal }).catch((error: unknown) => {
        throw signal.aborted ? signal.reason : error;
      });
      if (until - Date.now() > 0) progress(undefined, 1 - (until - Date.now()) / ms);
    }
    return input;
  },
  /** Throws `input.message`; `input.retryable: false` makes the failure final. */
  fail: (input) => {
    const message = field(input, "message");
    throw new FactoryError("TASK_FAILED", typeof message === "string" ? message : "failed on purpose", {
      nonRetryable: field(input, "retryable") === false,
    });
  },
};
