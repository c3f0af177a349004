import { NODE_ID_PATTERN } from "./ports/membership.ts";
import { FactoryError } from "./errors.ts";
import { redactUrl } from "./redact-url.ts";

/** Where a Redis adapter (the bus, the membership) works: the URL as shown, its database index, the cluster. */
export interface RedisTarget {
  /** The URL with its password hidden, for messages and logs. */
  shown: string;
  /** The database index of the URL's path; 0 when it has none. */
  db: number;
  cluster: string;
}


/**
 * Checks a Redis URL and cluster name before anything connects, so every Redis adapter refuses
 * the same bad input with the same VALIDATION_FAILED message (naming `url` or `cluster`, the
 * password hidden).
 */
export function redisTarget(url: string, cluster = "default"): RedisTarget {
  const shown = redactUrl(url);
  // A cluster name becomes part of Redis keys and channel names: named as a node is.
  if (!NODE_ID_PATTERN.test(cluster)) {
    throw new FactoryError("VALIDATION_FAILED", `cluster: must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, got '${cluster.slice(0, 64)}'`, {
      field: "cluster",
    });
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FactoryError("VALIDATION_FAILED", `url: not a URL: '${shown}'`, { field: "url" });
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new FactoryError("VALIDATION_FAILED", `url: must start with redis:// or rediss://, got '${shown}'`, { field: "url" });
  }
  if (parsed.host === "") throw new FactoryError("VALIDATION_FAILED", `url: names no host: write redis://[user:password@]host:port[/db], got '${shown}'`, { field: "url" });
  const path = parsed.pathname.replace(/^\//, "");
  if (path !== "" && !/^\d{1,5}$/.test(path)) throw new FactoryError("VALIDATION_FAILED", `url: the path must be a database index (e.g. /5), got '${shown}'`, { field: "url" });
  return { shown, db: path === "" ? 0 : Number(path), cluster };
}
