import type { Store } from "../core/ports/store.ts";
import type { PostgresStoreOptions } from "../adapters/store/postgres/postgres-store.ts";

/**
 * Opens (and migrates) the PostgreSQL store, for `createFactory({ store })`. The adapter, and
 * `pg` with it, is loaded here on first use, so a factory on the embedded store, and the CLI's
 * client commands, never load the driver.
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const adapter = await import("../adapters/store/postgres/postgres-store.ts");
  return adapter.createPostgresStore(options);
}
