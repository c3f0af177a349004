import pg from "pg";
import { FactoryError } from "../../../core/errors.ts";
import { storeUnavailable } from "./guarded-pool.ts";

/** What every connection of the store calls itself in `pg_stat_activity`, unless the URL names another. */
export const APPLICATION_NAME = "agent-factory";

export interface SchemaLockOptions {
  /** The URL as PostgreSQL gets it (no `schema` parameter). */
  url: string;
  /** The same, password hidden: what messages show. */
  redacted: string;
  schema: string;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
}

/**
 * One writing factory per schema. Event and ledger `seq`s are still numbered by each process,
 * so two factories on one schema would number alike, run each other's agents and stall on the
 * clash; until those numbers come from PostgreSQL, the store holds a session-level advisory
 * lock on `agent-factory:<schema>` (`hashtextextended`, 64 bits) on a connection of its own,
 * outside the pool, for its whole life. A second store on the schema is refused with
 * `STORE_LOCKED`, naming the backend that holds it. `release()` (the store's close) ends the
 * connection, and a holder that dies loses it with its connection: a session lock, not a row.
 *
 * If that connection drops while the store runs (PostgreSQL restarted, a network cut,
 * `pg_terminate_backend`), the lock is gone with it. The store then does not write on without
 * it: `ensure()`, called before every write, opens a new connection and takes the lock again,
 * failing the write with `STORE_UNAVAILABLE` while PostgreSQL cannot be reached and with
 * `STORE_LOCKED` while another factory holds it (the journal keeps the batch and retries). Reads
 * go on: they change nothing.
 */
export class SchemaLock {
  readonly #options: SchemaLockOptions;
  #client: pg.Client | undefined;
  #taking: Promise<void> | undefined;
  #released = false;

  private constructor(options: SchemaLockOptions) {
    this.#options = options;
  }

  /** Takes the lock, or fails with STORE_LOCKED / STORE_UNAVAILABLE having closed what it opened. */
  static async take(options: SchemaLockOptions): Promise<SchemaLock> {
    const lock = new SchemaLock(options);
    await lock.ensure();
    return lock;
  }

  get held(): boolean {
    return this.#client !== undefined;
  }

  /**
   * Resolves when the lock is held, taking it again on a new connection if the last one dropped.
   * A held lock is proved on its own connection first (`select 1`): a session PostgreSQL ended
   * while the network was silent (a partition) is only noticed when something is sent on it, and
   * without that a healed node would write on while another factory holds the schema. The proof
   * costs one round trip per write batch; a loss between it and the batch's commit is not seen.
   */
  async ensure(): Promise<void> {
    if (this.#released) throw new FactoryError("STORE_UNAVAILABLE", `the PostgreSQL store ${this.#options.redacted} is closed`, { details: { url: this.#options.redacted } });
    const client = this.#client;
    if (client !== undefined) {
      try {
        await client.query("select 1");
        return;
      } catch (error) {
        // Unanswered or refused: this write is refused. A connection that really died has said
        // so (`error`/`end` cleared #client) and the next write takes the lock again or is
        // refused STORE_LOCKED; one that was only slow holds the lock still and carries on.
        throw storeUnavailable(this.#options.redacted, error);
      }
    }
    // Concurrent writes wait for the one attempt rather than each opening a connection.
    this.#taking ??= this.#take().finally(() => {
      this.#taking = undefined;
    });
    return this.#taking;
  }

  async release(): Promise<void> {
    this.#released = true;
    await this.#taking?.catch(() => {});
    const client = this.#client;
    this.#client = undefined;
    // A silent network would hold end() for as long as TCP waits: give it a moment, then let it go.
    if (client !== undefined) await Promise.race([client.end().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
  }

  async #take(): Promise<void> {
    const { url, redacted, schema, connectTimeoutMs, queryTimeoutMs } = this.#options;
    // keepAliveInitialDelayMillis: pg's 0 means the OS default, two hours on Linux.
    const client = new pg.Client({ connectionString: url, application_name: APPLICATION_NAME, keepAlive: true, keepAliveInitialDelayMillis: 5_000, connectionTimeoutMillis: connectTimeoutMs, query_timeout: queryTimeoutMs });
    // A connection that drops emits `error` (without a listener Node would end the process) and
    // `end`; either way the lock went with it, and the next write takes it again.
    const lost = (): void => {
      if (this.#client === client) this.#client = undefined;
    };
    client.on("error", lost);
    client.on("end", lost);
    try {
      await client.connect();
      const key = `agent-factory:${schema}`;
      const { rows } = await client.query<{ ok: boolean }>("select pg_try_advisory_lock(hashtextextended($1, 0)) as ok", [key]);
      if (rows[0]?.ok !== true) throw await this.#locked(client, key);
    } catch (error) {
      await client.end().catch(() => {});
      throw error instanceof FactoryError ? error : storeUnavailable(redacted, error);
    }
    if (this.#released) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
  }

  /** STORE_LOCKED, naming the backend that holds the lock as far as this role may see it. */
  async #locked(client: pg.Client, key: string): Promise<FactoryError> {
    const { redacted, schema } = this.#options;
    let holder: { pid: number; app: string | null; addr: string | null } | undefined;
    try {
      // A bigint advisory key is stored as classid (high 32 bits) and objid (low 32), objsubid 1.
      const { rows } = await client.query<{ pid: number; app: string | null; addr: string | null }>(
        `select l.pid, a.application_name as app, host(a.client_addr) as addr
           from pg_locks l left join pg_stat_activity a on a.pid = l.pid
          where l.locktype = 'advisory' and l.granted and l.objsubid = 1
            and l.database = (select oid from pg_database where datname = current_database())
            and ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended($1, 0)
          limit 1`,
        [key],
      );
      holder = rows[0];
    } catch {
      // Who holds it is a courtesy; the refusal stands without it.
    }
    const who =
      holder === undefined
        ? "a session that has just ended; try again"
        : `PostgreSQL backend pid ${holder.pid}${holder.app ? `, application ${holder.app}` : ""}${holder.addr ? `, from ${holder.addr}` : ""}`;
    return new FactoryError(
      "STORE_LOCKED",
      `the PostgreSQL schema ${schema} at ${redacted} is in use by another factory (${who}): one schema has one writing factory until event and ledger numbers come from PostgreSQL. Stop that one, or give this one another schema`,
      { details: { url: redacted, schema, pid: holder?.pid ?? null } },
    );
  }
}
