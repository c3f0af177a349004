import { z } from "zod";

/** Deepest nesting a JSON value may have (objects and arrays). */
export const MAX_JSON_DEPTH = 64;

/**
 * Depth of a parsed JSON value, measured without recursion so a hostile body cannot blow the
 * stack here either. Stops counting past `limit`.
 */
export function jsonDepth(value: unknown, limit = MAX_JSON_DEPTH): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (typeof current !== "object" || current === null) continue;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return deepest;
}

/**
 * Free-form JSON carried by the factory (task input, message payloads, context values). Bounded
 * in depth: anything deeper could not be stored or serialised safely.
 */
export const JsonValueSchema = z.unknown().superRefine((value, ctx) => {
  const problem = jsonProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});

/**
 * Why `value` cannot be carried as JSON (too deep, a cycle, a BigInt …), or undefined if it
 * can. Checked where values enter, so nothing unstorable ever reaches the store.
 */
export function jsonProblem(value: unknown): string | undefined {
  if (jsonDepth(value) > MAX_JSON_DEPTH) return `nested deeper than ${MAX_JSON_DEPTH} levels`;
  try {
    JSON.stringify(value);
  } catch (error) {
    return `not JSON: ${error instanceof Error ? error.message : String(error)}`;
  }
  return undefined;
}
