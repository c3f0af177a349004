import type { RedisBus, RedisBusOptions } from "../adapters/bus/redis/redis-bus-options.ts";

/**
 * A bus across nodes on Redis pub/sub, for `createFactory({ bus })`. Its module, and `ioredis`
 * with it, is loaded on the first call, so a factory without Redis (and the CLI's client
 * commands) never load them.
 */
export async function createRedisBus(options: RedisBusOptions): Promise<RedisBus> {
  const adapter = await import("../adapters/bus/redis/redis-bus.ts");
  return adapter.createRedisBus(options);
}
