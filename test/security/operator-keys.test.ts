// Pins what OperatorKeys promises two nodes sharing one store: a key made on one works on the other, and a revoked key is refused on its node at once and on the other within the cache time.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createMemoryStore } from "../../src/adapters/store/memory/memory-store.ts";
import { KEY_CACHE_MS, OperatorKeys } from "../../src/security/operator-keys.ts";

/** Every crew exists. */
const anyCrew = { get: async (id: string) => ({ id }) };

describe("OperatorKeys over one shared store", () => {
  it("a key revoked on node A is refused on A at once and on B once its cache (≤ 1 s) runs out", async () => {
    const store = createMemoryStore();
    await store.migrate();
    let now = 1_000_000;
    const a = new OperatorKeys({ store, crews: anyCrew, now: () => now });
    const b = new OperatorKeys({ store, crews: anyCrew, now: () => now });
    assert.equal(await b.any(), false);
    const key = await a.create({ name: "dash", role: "viewer" });
    // B read the store (empty) a moment ago; within its cache time it may not know the new key yet.
    now += KEY_CACHE_MS;
    assert.deepEqual(await b.authenticate(key.secret), { id: key.id, name: "dash", role: "viewer", crews: null, createdAt: key.createdAt });
    await a.revoke(key.id);
    assert.equal(await a.authenticate(key.secret), undefined);
    now += KEY_CACHE_MS - 1;
    assert.notEqual(await b.authenticate(key.secret), undefined, "B's cache is still fresh");
    now += 1;
    assert.equal(await b.authenticate(key.secret), undefined);
    assert.equal(KEY_CACHE_MS <= 1_000, true);
  });

  it("stores only a hash: the secret is nowhere in the store, and a secret of the right shape but wrong tail is refused", async () => {
    const store = createMemoryStore();
    await store.migrate();
    const keys = new OperatorKeys({ store, crews: anyCrew });
    const key = await keys.create({ name: "ops", role: "operator", crews: ["crew_a", "crew_a"] });
    assert.deepEqual(key.crews, ["crew_a"]);
    const stored = await store.listOperatorKeys();
    assert.equal(JSON.stringify(stored).includes(key.secret.split("_").at(-1) as string), false);
    assert.match(stored[0]?.secretHash ?? "", /^[0-9a-f]{64}$/);
    const tail = key.secret.slice(-43);
    const wrong = key.secret.slice(0, -43) + (tail[0] === "A" ? "B" : "A") + tail.slice(1);
    assert.equal(await keys.authenticate(wrong), undefined);
    assert.equal(await keys.authenticate("afk_nope"), undefined);
    assert.equal((await keys.authenticate(key.secret))?.id, key.id);
  });
});
