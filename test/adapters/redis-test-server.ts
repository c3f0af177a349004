// Whether the local Redis answers, for the Redis tests: they skip (saying why) only where none does and CI has not asked for it.
import { connect } from "node:net";

/** The local test server; AGENT_FACTORY_TEST_REDIS_URL points elsewhere on 127.0.0.1 if needed. */
export const REDIS_URL = process.env.AGENT_FACTORY_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/**
 * Why the Redis tests skip, or false when they run. They skip only when no Redis answers a PING
 * at REDIS_URL and AGENT_FACTORY_REQUIRE_REDIS is not 1, so `npm test` passes on a machine
 * without Redis; CI sets it, and there a missing server fails the run instead.
 */
export const REDIS_SKIP: string | false = await reachable();

async function reachable(): Promise<string | false> {
  const { hostname, port } = new URL(REDIS_URL);
  const said = await new Promise<string | undefined>((resolve) => {
    const socket = connect(Number(port || 6379), hostname);
    const done = (why: string | undefined): void => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(2_000, () => done("no answer within 2 s"));
    socket.on("error", (error) => done(error.message));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => done(data.toString().startsWith("+PONG") ? undefined : `answered ${JSON.stringify(data.toString().trim())}`));
  });
  if (said === undefined) return false;
  if (process.env.AGENT_FACTORY_REQUIRE_REDIS === "1") throw new Error(`AGENT_FACTORY_REQUIRE_REDIS=1 but no Redis answers at ${REDIS_URL}: ${said}`);
  return `no Redis at ${REDIS_URL} (${said}): start one, or point AGENT_FACTORY_TEST_REDIS_URL at one; CI sets AGENT_FACTORY_REQUIRE_REDIS=1 so these never skip there`;
}

/** Deletes every key of a test's clusters (`af:<cluster>:*`): what their nodes left behind, such as a killed node's record. */
export async function dropRedisClusters(...clusters: string[]): Promise<void> {
  if (REDIS_SKIP !== false) return;
  const { Redis } = await import("ioredis");
  const admin = new Redis(REDIS_URL);
  try {
    for (const cluster of clusters) {
      const keys = await admin.keys(`af:${cluster}:*`);
      if (keys.length > 0) await admin.del(...keys);
    }
  } finally {
    admin.disconnect();
  }
}
