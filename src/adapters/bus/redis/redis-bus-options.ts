import type { Bus } from "../../../core/ports/bus.ts";

// The Redis bus's public types, in a file of their own that names nothing of ioredis: the
// package's declarations reach them from index.ts, and a consumer's strict tsc must not be led
// into ioredis's own declarations (they do not pass `strict` without skipLibCheck).

/** How `createRedisBus` connects. */
export interface RedisBusOptions {
  /** `redis://[[user]:password@]host[:port][/db]` (or `rediss://` for TLS); the db index, default 0, also separates channels. */
  url: string;
  /** The cluster of this node: clusters sharing one Redis never hear each other. Default `default`. */
  cluster?: string;
  /** Connection trouble after start (lost, a reconnect refused, publishes dropped); default console.error. */
  onError?: (error: Error) => void;
  /** A subscriber that threw; default console.error. */
  onHandlerError?: (error: unknown, channel: string) => void;
  /** How long start-up waits for Redis before it fails; default 5000. */
  connectTimeoutMs?: number;
}

/** The bus `createRedisBus` returns: the port, and what only a networked bus has. */
export interface RedisBus extends Bus {
  /** This bus's id: the origin its messages carry, and part of its connections' names (`af:<cluster>:bus:<id>:pub|sub` in CLIENT LIST). */
  readonly id: string;
  /**
   * Resolves once every subscribe and unsubscribe so far has reached Redis: from then on the
   * messages of other nodes arrive (a subscriber on this node hears this node's at once). While
   * Redis is away it waits for it to come back.
   */
  settled(): Promise<void>;
  /**
   * Counts since start: messages published here, received from other nodes, and dropped because
   * Redis refused them (messages another node missed while its own connection was down are not
   * seen here: at-most-once).
   */
  stats(): { published: number; received: number; dropped: number };
}
