import type { Context } from "hono";
import { resolvedOf } from "./auth.ts";

/**
 * The crews a crew-limited caller (a key, an agent's token) is held to; null for a caller that is
 * not. List routes filter by them before paging: the crew guard cuts a page after it is read, and
 * that page's `nextCursor` would name another crew's last item.
 */
export function callerCrews(c: Context): readonly string[] | null {
  return resolvedOf(c)?.principal.crews ?? null;
}

/** The one crew a caller limited to exactly one is held to (the filter its lists get by default). */
export function onlyCrewOf(c: Context): string | undefined {
  const crews = callerCrews(c);
  return crews?.length === 1 ? crews[0] : undefined;
}
