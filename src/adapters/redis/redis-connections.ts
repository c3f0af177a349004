import type { Redis } from "ioredis";

/** Reconnect backoff once started: 100 ms more per attempt, at most 2 s between attempts. */
const RECONNECT_STEP_MS = 100;
const RECONNECT_MAX_MS = 2000;
/** How long a close waits for QUIT before it drops the connection. */
const QUIT_WAIT_MS = 2000;

/**
 * The `retryStrategy` of every Redis adapter: before it has started, a refusal fails its
 * creation at once (null: no retry); once started, it retries for ever with backoff.
 */
export function reconnectBackoff(started: () => boolean): (times: number) => number | null {
  return (times) => (started() ? Math.min(times * RECONNECT_STEP_MS, RECONNECT_MAX_MS) : null);
}

/**
 * Connects lazily created clients and proves each answers (PING) within `waitMs`, or rejects
 * with the first thing that went wrong and leaves them disconnected. ioredis only emits some
 * failures (a refused SELECT of the db index, for one) and goes on as if connected, so errors
 * are caught from the first moment; and its connectTimeout ends at the TCP connect, so a server
 * that accepts and never answers is caught by the deadline.
 */
export async function connectWithin(clients: readonly Redis[], waitMs: number): Promise<void> {
  let firstError: Error | undefined;
  const remember = (error: Error): void => {
    firstError ??= error;
  };
  for (const client of clients) client.on("error", remember);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await Promise.all(clients.map((c) => c.connect()));
        await Promise.all(clients.map((c) => c.ping()));
      })(),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${waitMs} ms`)), waitMs);
      }),
    ]);
    if (firstError !== undefined) throw firstError;
  } catch (error) {
    for (const client of clients) client.disconnect();
    throw firstError ?? error;
  } finally {
    clearTimeout(timer);
    for (const client of clients) client.off("error", remember);
  }
}

/** QUIT, or drop the connection when it is not up or Redis has gone silent (a close takes at most 2 s). */
export async function quitWithin(client: Redis): Promise<void> {
  if (client.status !== "ready") {
    client.disconnect();
    return;
  }
  const gaveUp = new Promise<"late">((resolve) => setTimeout(() => resolve("late"), QUIT_WAIT_MS).unref());
  try {
    if ((await Promise.race([client.quit(), gaveUp])) === "late") client.disconnect();
  } catch {
    client.disconnect();
  }
}
