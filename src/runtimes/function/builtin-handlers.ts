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
  /** Waits `input.ms` (default 0, at most 1 h), then returns its input; honours cancellation. */
  sleep: async (input, { signal }) => {
    const raw = field(input, "ms");
    const ms = raw === undefined ? 0 : Number(raw);
    if (!Number.isFinite(ms) || ms < 0 || ms > 3_600_000) {
      throw new FactoryError("VALIDATION_FAILED", "sleep: input.ms must be a number of milliseconds from 0 to 3600000", {
        field: "input.ms",
        nonRetryable: true,
      });
    }
    await sleep(ms, undefined, { signal });
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
