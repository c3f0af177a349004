import { allPages, type Page } from "../client/index.ts";

/** Options every newest-first list command takes. */
export interface PageOptions {
  cursor?: string;
  all?: boolean;
}

/**
 * One page of a newest-first list (from `--cursor`), or with `--all` every page. When more
 * remain, stderr says how to get them, so stdout stays the list alone.
 */
export async function listPage<T>(page: (cursor: string | undefined) => Promise<Page<T>>, opts: PageOptions): Promise<T[]> {
  if (opts.all === true) {
    const items: T[] = [];
    for await (const item of allPages(page)) items.push(item);
    return items;
  }
  const first = await page(opts.cursor);
  if (first.nextCursor !== null) process.stderr.write(`more (older) ones: run it again with --cursor ${first.nextCursor}, or with --all\n`);
  return first.items;
}
