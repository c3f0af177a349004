import { FactoryError, isFactoryError } from "../core/errors.ts";
import type { TaskError } from "../core/task.ts";

/**
 * Largest result a task may keep, as JSON: results are stored, listed a page at a time and sent
 * to every waiter, so one agent answering 8 MB a task could make a page of 100 too big to answer.
 */
export const MAX_RESULT_BYTES = 1024 * 1024;

/** A failed attempt's error as the task keeps it: a FactoryError keeps its code; anything else is TASK_FAILED. */
export function describeError(error: unknown): TaskError {
  if (isFactoryError(error)) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: "TASK_FAILED", message: error.message };
  return { code: "TASK_FAILED", message: String(error) };
}

/**
 * A handler's value as the task keeps it. Results are stored and sent as JSON; a handler returning
 * something else (RESULT_NOT_SERIALIZABLE), or too much (RESULT_TOO_LARGE), fails the task — both
 * non-retryable — not the factory.
 */
export function taskResult(value: unknown): unknown {
  if (value === undefined) return null;
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new FactoryError("RESULT_NOT_SERIALIZABLE", `the handler's result is not JSON: ${error instanceof Error ? error.message : String(error)}`, {
      nonRetryable: true,
    });
  }
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_RESULT_BYTES) {
    throw new FactoryError("RESULT_TOO_LARGE", `the handler's result is ${bytes} bytes as JSON, over the limit of ${MAX_RESULT_BYTES}: keep large outputs in the workspace or crew context and return a reference`, {
      nonRetryable: true,
    });
  }
  return JSON.parse(text) as unknown;
}
