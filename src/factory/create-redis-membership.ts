import type { Membership } from "../core/ports/membership.ts";
import type { RedisMembershipOptions } from "../adapters/membership/redis/redis-membership-options.ts";

/**
 * Connects node leases on Redis, for `createFactory({ membership })`. The adapter, and `ioredis`
 * with it, is loaded here on first use, so a single-node factory never loads them.
 */
export async function createRedisMembership(options: RedisMembershipOptions): Promise<Membership> {
  const adapter = await import("../adapters/membership/redis/redis-membership.ts");
  return adapter.createRedisMembership(options);
}
