// Runs the Store conformance suite against the in-memory adapter (no reopen: nothing outlives it), and pins what its close does.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createMemoryStore } from "../../src/adapters/store/memory/memory-store.ts";
import { storeConformance, task } from "../conformance/store.conformance.ts";

storeConformance("memory", async () => {
  const store = createMemoryStore();
  await store.migrate();
  return {
    store,
    async cleanup() {
      await store.close();
    },
  };
});

describe("memory store: close", () => {
  it("refuses every call after close with STORE_UNAVAILABLE, and a second close is a no-op", async () => {
    const store = createMemoryStore();
    await store.apply([{ kind: "task", value: task("t1") }]);
    await store.close();
    await store.close();
    await assert.rejects(store.getTask("t1"), { code: "STORE_UNAVAILABLE", message: "the memory store is closed" });
    await assert.rejects(store.apply([{ kind: "task", value: task("t2") }]), { code: "STORE_UNAVAILABLE" });
  });
});
