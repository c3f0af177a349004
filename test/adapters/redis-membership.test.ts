// Runs the Membership conformance suite against the Redis membership on the local Redis, each run in a cluster of its own, and pins what is Redis's own: nodes of one cluster on separate connections, clusters apart, start-up errors, keys left behind.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Redis } from "ioredis";
import { createRedisMembership } from "../../src/adapters/membership/redis/redis-membership.ts";
import type { Membership } from "../../src/core/ports/membership.ts";
import { membershipConformance } from "../conformance/membership.conformance.ts";
import { REDIS_SKIP, REDIS_URL } from "./redis-test-server.ts";
import { until } from "../helpers.ts";

const T = { timeout: 30_000, skip: REDIS_SKIP };
const REPORT = { agents: 1, load: 0, capacity: 4 };

function randomCluster(): string {
  return `test-nodes-${Math.random().toString(36).slice(2, 10)}`;
}

/** Memberships in clusters of this run; `cleanup` closes them and deletes every key under the clusters' prefixes. */
function membershipsIn(cluster: string) {
  const opened: Array<{ membership: Membership; cluster: string }> = [];
  return {
    async open(other?: string): Promise<Membership> {
      const membership = await createRedisMembership({ url: REDIS_URL, cluster: other ?? cluster, onError: () => {} });
      opened.push({ membership, cluster: other ?? cluster });
      return membership;
    },
    async keys(): Promise<string[]> {
      const admin = new Redis(REDIS_URL);
      try {
        return (await Promise.all([...new Set(opened.map((o) => o.cluster))].map((c) => admin.keys(`af:${c}:*`)))).flat().sort();
      } finally {
        admin.disconnect();
      }
    },
    async cleanup(): Promise<void> {
      await Promise.all(opened.map(({ membership }) => membership.close()));
      const admin = new Redis(REDIS_URL);
      try {
        for (const c of new Set(opened.map((o) => o.cluster))) {
          const keys = await admin.keys(`af:${c}:*`);
          if (keys.length > 0) await admin.del(...keys);
        }
      } finally {
        admin.disconnect();
      }
    },
  };
}

membershipConformance("redis", () => membershipsIn(randomCluster()), { skip: REDIS_SKIP });

describe("Redis membership", T, () => {
  const cluster = randomCluster();
  const run = membershipsIn(cluster);
  after(() => run.cleanup());

  it("two nodes of one cluster, each on its own connection, list each other; another cluster on the same Redis sees neither", T, async () => {
    const [a, b, elsewhere] = [await run.open(), await run.open(), await run.open(randomCluster())];
    const la = await a.join({ id: "alpha", url: "http://127.0.0.1:7371", report: REPORT }, 3_000);
    const lb = await b.join({ id: "beta", url: "http://127.0.0.1:7372", report: { agents: 2, load: 1, capacity: 8 } }, 3_000);
    for (const view of [a, b]) {
      assert.deepEqual(
        (await view.list()).map(({ id, alive, agents, load, capacity, url }) => ({ id, alive, agents, load, capacity, url })),
        [
          { id: "alpha", alive: true, agents: 1, load: 0, capacity: 4, url: "http://127.0.0.1:7371" },
          { id: "beta", alive: true, agents: 2, load: 1, capacity: 8, url: "http://127.0.0.1:7372" },
        ],
      );
    }
    assert.deepEqual(await elsewhere.list(), []);
    // The same id in another cluster is another node: no refusal.
    const lx = await elsewhere.join({ id: "alpha", url: null, report: REPORT }, 3_000);
    assert.deepEqual(
      (await run.keys()).filter((k) => k.startsWith(`af:${cluster}:`)),
      [`af:${cluster}:lease:alpha`, `af:${cluster}:lease:beta`, `af:${cluster}:nodes`],
    );
    await Promise.all([a.leave(la), b.leave(lb), elsewhere.leave(lx)]);
    assert.deepEqual(await run.keys(), [], "leaving removes every key");
  });

  it("forgets a node ten minutes after its lease ran out (its record deleted); an id that joins again is listed anew", T, async () => {
    const local = randomCluster();
    const m = await run.open(local);
    await m.join({ id: "gone", url: null, report: REPORT }, 50);
    await m.join({ id: "back", url: null, report: REPORT }, 50);
    await new Promise((r) => setTimeout(r, 120));
    const admin = new Redis(REDIS_URL);
    try {
      const key = `af:${local}:nodes`;
      const age = (raw: string | null): string => JSON.stringify({ ...(JSON.parse(raw ?? "{}") as object), leaseUntil: new Date(Date.now() - 11 * 60_000).toISOString() });
      // Both ran out eleven minutes ago (as far as their records say)…
      await admin.hset(key, "gone", age(await admin.hget(key, "gone")), "back", age(await admin.hget(key, "back")));
      assert.deepEqual(await m.list(), []);
      // … and "back" joins again: its new record is kept and listed (the delete only takes the record it read).
      const lease = await m.join({ id: "back", url: null, report: REPORT }, 3_000);
      await until(async () => (await admin.hexists(key, "gone")) === 0, "the long-dead record deleted");
      assert.deepEqual((await m.list()).map((n) => [n.id, n.alive]), [["back", true]]);
      await m.leave(lease);
    } finally {
      admin.disconnect();
    }
  });

  it("refuses a bad URL or cluster before connecting, and an unreachable Redis with MEMBERSHIP_UNAVAILABLE naming the URL, password hidden", T, async () => {
    await assert.rejects(createRedisMembership({ url: "http://127.0.0.1:6379" }), { code: "VALIDATION_FAILED", message: "url: must start with redis:// or rediss://, got 'http://127.0.0.1:6379/'" });
    await assert.rejects(createRedisMembership({ url: REDIS_URL, cluster: "a b" }), { code: "VALIDATION_FAILED", field: "cluster" });
    await assert.rejects(createRedisMembership({ url: "redis://:secret@127.0.0.1:1/0", connectTimeoutMs: 1_000 }), (error: unknown) => {
      assert.equal((error as { code: string }).code, "MEMBERSHIP_UNAVAILABLE");
      const message = (error as Error).message;
      assert.ok(message.startsWith("cannot reach the membership's Redis at redis://:***@127.0.0.1:1/0: "), message);
      assert.equal(message.includes("secret"), false);
      return true;
    });
  });
});
