// The Redis membership's options, in a file that names nothing of ioredis (as the Redis bus's):
// index.ts re-exports them, and a consumer's strict tsc must not be led into ioredis's declarations.

/** How `createRedisMembership` connects. */
export interface RedisMembershipOptions {
  /** `redis://[[user]:password@]host[:port][/db]` (or `rediss://`); the db index also separates clusters' keys. */
  url: string;
  /** The cluster of this node: clusters sharing one Redis never see each other's nodes. Default `default`. */
  cluster?: string;
  /** How long start-up waits for Redis before it fails; default 5000. */
  connectTimeoutMs?: number;
  /** How long one command may take before it counts as failed (a renewal then retries next period); default 1000. */
  commandTimeoutMs?: number;
  /** Connection trouble after start (lost, a reconnect refused); default console.error. */
  onError?: (error: Error) => void;
}
