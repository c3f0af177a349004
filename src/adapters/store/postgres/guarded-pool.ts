import type { Pool, PoolClient } from "pg";
import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from "kysely";
import { FactoryError } from "../../../core/errors.ts";

/**
 * SQLSTATE classes that say the server or the connection failed, not the statement: connection
 * exceptions (08), no resources (53: too many connections), operator intervention (57: shut
 * down, `pg_terminate_backend`, starting up), system errors (58), refused credentials (28) and
 * a database that does not exist (3D). An error with no SQLSTATE never reached the server (a
 * refused socket, a connection that dropped) and counts as the same.
 */
const UNAVAILABLE_CLASSES = new Set(["08", "53", "57", "58", "28", "3D"]);

/**
 * The slice of a `pg` Pool that Kysely's PostgresDialect drives, with every failure to reach
 * PostgreSQL turned into one error: `STORE_UNAVAILABLE`, naming the URL with its password
 * hidden, whatever the driver said. The journal keeps and retries a batch the store refused,
 * and the API answers 503 to a read that hit it. Errors about a statement (a constraint, a
 * NOT NULL) pass through unchanged, as the SQLite store lets SQLite's through.
 */
export class GuardedPool implements PostgresPool {
  readonly #pool: Pool;
  readonly #url: string;
  readonly #clients = new WeakMap<PoolClient, PostgresPoolClient>();

  /** `url` is already redacted: it goes into messages as it is. */
  constructor(pool: Pool, url: string) {
    this.#pool = pool;
    this.#url = url;
    // An idle connection that PostgreSQL drops emits `error` on the pool (pg-pool then removes
    // it); without a listener Node would end the process. The next query opens a new one.
    pool.on("error", () => {});
  }

  async connect(): Promise<PostgresPoolClient> {
    let client: PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw this.#unavailable(error);
    }
    let guarded = this.#clients.get(client);
    if (guarded === undefined) {
      guarded = this.#guard(client);
      this.#clients.set(client, guarded);
    }
    return guarded;
  }

  async end(): Promise<void> {
    await this.#pool.end();
  }

  #guard(client: PoolClient): PostgresPoolClient {
    // pg-pool listens for `error` only while a client is idle; one that drops while checked out
    // between two statements of a transaction would otherwise end the process. Its next query
    // fails ("not queryable"), and pg-pool discards it on release.
    client.on("error", () => {});
    // A connection that failed to answer (timed out, dropped) is not trusted again: released
    // with an error, pg-pool closes it instead of handing it to the next caller, whose query
    // would wait behind the lost one.
    let broken = false;
    const query = async <R>(sqlText: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> => {
      try {
        return (await client.query(sqlText, [...parameters])) as unknown as PostgresQueryResult<R>;
      } catch (error) {
        const translated = this.#translate(error);
        if (translated instanceof FactoryError) broken = true;
        throw translated;
      }
    };
    return {
      // Kysely passes a cursor only when a dialect is given one; this store gives none.
      query: query as { <R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>; <R>(cursor: PostgresCursor<R>): PostgresCursor<R> },
      release: () => client.release(broken),
    };
  }

  /** An unreachable server becomes STORE_UNAVAILABLE; a statement's own error stays as it is. */
  #translate(error: unknown): unknown {
    const code = (error as { code?: unknown }).code;
    const sqlState = typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
    return sqlState === undefined || UNAVAILABLE_CLASSES.has(sqlState.slice(0, 2)) ? this.#unavailable(error) : error;
  }

  #unavailable(error: unknown): FactoryError {
    return storeUnavailable(this.#url, error);
  }
}

/** `STORE_UNAVAILABLE` naming the (already redacted) URL and what the driver said; a FactoryError passes as it is. */
export function storeUnavailable(url: string, error: unknown): FactoryError {
  if (error instanceof FactoryError) return error;
  const said = error instanceof Error ? error.message || String((error as { code?: unknown }).code ?? error.name) : String(error);
  return new FactoryError("STORE_UNAVAILABLE", `the PostgreSQL store ${url} is unavailable: ${said}`, { cause: error, details: { url } });
}
