import type { Context } from "hono";

/**
 * The request's body as a JSON object, whatever its `Content-Type` says, or undefined when it is
 * not one. Checks that decide by the body (a crew-limited caller's crew, where a request goes)
 * must read what the route will read: the route's validator takes `application/json` and every
 * `application/<x>+json`, so a check that looked only at `application/json` could be stepped
 * around with `application/vnd.x+json` while the route still ran. Hono keeps the body: the
 * route's validator reads it again.
 */
export async function jsonObjectBody(c: Context): Promise<Record<string, unknown> | undefined> {
  try {
    const body = JSON.parse(await c.req.text()) as unknown;
    return typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
