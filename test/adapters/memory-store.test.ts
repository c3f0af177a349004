// Runs the Store conformance suite against the in-memory adapter (no reopen: nothing outlives it).
import { createMemoryStore } from "../../src/adapters/store/memory/memory-store.ts";
import { storeConformance } from "../conformance/store.conformance.ts";

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
