import { z } from "zod";
import { FactoryError } from "../core/errors.ts";
import type { ListPosition } from "../core/list-position.ts";

/** Query `cursor`: a page's `nextCursor`, opaque to clients. */
export const CursorQuery = z.string().min(1).max(512).optional().meta({ description: "The `nextCursor` of the previous page: the page after it" });

/** A page of a newest-first list: `nextCursor` is null on the last page. */
export const pageOf = <T extends z.ZodType>(schema: T) =>
  z.object({
    items: z.array(schema),
    nextCursor: z.string().nullable().meta({ description: "Pass as `cursor` for the next (older) page; null: this is the last page" }),
  });

const Position = z.tuple([z.string().min(1).max(64), z.string().min(1).max(128)]);

/** The opaque `cursor` for the place after `item`. */
export function encodeCursor(item: ListPosition): string {
  return Buffer.from(JSON.stringify([item.at, item.id])).toString("base64url");
}

/** The place a `cursor` names; anything not made by encodeCursor is a 400 naming `cursor`. */
export function decodeCursor(cursor: string): ListPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    parsed = undefined;
  }
  const position = Position.safeParse(parsed);
  if (!position.success) throw new FactoryError("VALIDATION_FAILED", "cursor: not a cursor this server gave; pass a page's nextCursor unchanged", { field: "cursor" });
  return { at: position.data[0], id: position.data[1] };
}

/**
 * One page from a lister asked for `limit + 1` items: the extra one only says whether there is
 * a next page, so the last page says so (nextCursor null) without a further request.
 */
export function toPage<T>(fetched: readonly T[], limit: number, positionOf: (item: T) => ListPosition): { items: T[]; nextCursor: string | null } {
  const items = fetched.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: fetched.length > limit && last !== undefined ? encodeCursor(positionOf(last)) : null };
}

/** The wire shape of a page (what `pageOf` documents). */
export interface PageOf<T> {
  items: T[];
  /** Pass as `cursor` for the next (older) page; null: the last page. */
  nextCursor: string | null;
}
