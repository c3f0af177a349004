// A PostgreSQL schema of a test's own in the local `test` database, dropped afterwards; and a TCP relay to cut a store off from PostgreSQL.
import { randomBytes } from "node:crypto";
import { createServer, connect, type Server, type Socket } from "node:net";
import pg from "pg";

/** The local test server (trust auth); AGENT_FACTORY_TEST_POSTGRES_URL points elsewhere on 127.0.0.1 if needed. */
export const PG_URL = process.env.AGENT_FACTORY_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/**
 * Why the PostgreSQL tests skip, or false when they run. They skip only when no PostgreSQL
 * answers at PG_URL and AGENT_FACTORY_REQUIRE_POSTGRES is not 1, so `npm test` passes on a
 * machine without PostgreSQL; CI sets it, and there a missing server fails the run instead.
 */
export const PG_SKIP: string | false = await reachable();

async function reachable(): Promise<string | false> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    return false;
  } catch (error) {
    const said = error instanceof Error ? error.message || String((error as { code?: unknown }).code) : String(error);
    if (process.env.AGENT_FACTORY_REQUIRE_POSTGRES === "1") throw new Error(`AGENT_FACTORY_REQUIRE_POSTGRES=1 but no PostgreSQL answers at ${PG_URL}: ${said}`, { cause: error });
    return `no PostgreSQL at ${PG_URL} (${said}): start one, or point AGENT_FACTORY_TEST_POSTGRES_URL at one; CI sets AGENT_FACTORY_REQUIRE_POSTGRES=1 so these never skip there`;
  } finally {
    await client.end().catch(() => {});
  }
}

export interface TestSchema {
  /** `af_test_<16 hex>`: what the store is given as `schema`. */
  name: string;
  /** Runs SQL on the test database with `search_path` on the schema, on a connection of its own. */
  query<R extends Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /** Drops the schema with everything in it; safe to call twice. */
  drop(): Promise<void>;
}

/** A fresh, empty schema in the test database (the store would create it, but the test must own its removal). */
export async function testSchema(): Promise<TestSchema> {
  const name = `af_test_${randomBytes(8).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${name}` });
  await admin.connect();
  await admin.query(`create schema ${name}`);
  let dropped = false;
  return {
    name,
    async query<R extends Record<string, unknown>>(text: string, params: unknown[] = []) {
      return (await admin.query<R>(text, params)).rows;
    },
    async drop() {
      if (dropped) return;
      dropped = true;
      try {
        await admin.query(`drop schema if exists ${name} cascade`);
      } finally {
        await admin.end();
      }
    },
  };
}

/**
 * A TCP relay on 127.0.0.1 to the test server: a store given its URL loses PostgreSQL when the
 * relay is cut (every connection dropped, new ones refused) and finds it again when it resumes.
 */
export class PostgresRelay {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #pairs = new Set<[Socket, Socket]>();
  #port = 0;
  #open = true;
  #frozen = false;

  private constructor(target: { host: string; port: number }) {
    this.#server = createServer((client) => {
      if (!this.#open) return client.destroy();
      const upstream = connect(target.port, target.host);
      const pair: [Socket, Socket] = [client, upstream];
      this.#pairs.add(pair);
      for (const s of pair) {
        this.#sockets.add(s);
        s.on("close", () => {
          this.#sockets.delete(s);
          this.#pairs.delete(pair);
        });
        s.on("error", () => {});
      }
      if (!this.#frozen) client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
  }

  /** Stops carrying bytes either way, closing nothing: a network partition, where no reset comes. */
  freeze(): void {
    this.#frozen = true;
    for (const [client, upstream] of this.#pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
    }
  }

  /** Carries bytes again on every connection still open. */
  thaw(): void {
    this.#frozen = false;
    for (const [client, upstream] of this.#pairs) client.pipe(upstream).pipe(client);
  }

  /** A relay to the test PostgreSQL, or to `target` (another server: Redis). */
  static async start(target?: { host: string; port: number }): Promise<PostgresRelay> {
    const pg = new URL(PG_URL);
    const relay = new PostgresRelay(target ?? { host: pg.hostname, port: Number(pg.port || 5432) });
    await new Promise<void>((resolve) => relay.#server.listen(0, "127.0.0.1", resolve));
    relay.#port = (relay.#server.address() as { port: number }).port;
    return relay;
  }

  /** Where the relay listens on 127.0.0.1. */
  get port(): number {
    return this.#port;
  }

  /** The test database's URL through the relay, with `password` in it (to check it is hidden). */
  url(password = "hunter2"): string {
    const u = new URL(PG_URL);
    u.host = `127.0.0.1:${this.#port}`;
    u.password = password;
    return u.toString();
  }

  /** Drops every relayed connection and refuses new ones, as a PostgreSQL that went away. */
  cut(): void {
    this.#open = false;
    for (const s of this.#sockets) s.destroy();
  }

  resume(): void {
    this.#open = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
