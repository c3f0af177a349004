import { z } from "zod";
import { ErrorSchema } from "./schemas.ts";

const DESCRIPTIONS: Record<number, string> = {
  400: "Invalid input: the message and `field` name what is wrong",
  401: "Missing, unknown or revoked key",
  403: "The key's role is too low (FORBIDDEN), the thing is not of the key's crews (CROSS_CREW), or the `Host` or `Origin` is not allowed",
  402: "Not enough credits, or over a budget",
  404: "No such resource",
  409: "Not allowed in the resource's current state",
  413: "Body larger than the limit",
  415: "The body is not application/json",
  422: "Well-formed but could not be carried out",
  429: "The queue is full: retry after the `Retry-After` header's seconds",
  503: "Shutting down, or the store is unavailable",
};

/** A JSON body or response of `schema`. */
export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } } as const;
}

/** A required JSON request body. */
export function jsonBody<T extends z.ZodType>(schema: T) {
  return { body: { required: true, content: { "application/json": { schema } } } } as const;
}

/** For action routes (cancel, retry, clone): no body, or an empty JSON object — anything else is a 400. */
export const noBody = {
  body: { required: false, content: { "application/json": { schema: z.strictObject({}) } } },
} as const;

/**
 * The error responses a route can give, documented with the common error body. Every route can
 * answer 403 (a foreign Host or Origin) and 503 (shutting down, store unavailable); every route
 * with a body can answer 415.
 */
export function errorResponses(...statuses: number[]) {
  const all = new Set([...statuses, 403, 503, ...(statuses.includes(413) ? [415] : [])]);
  return Object.fromEntries([...all].sort().map((s) => [s, jsonContent(ErrorSchema, DESCRIPTIONS[s] ?? "Error")]));
}
