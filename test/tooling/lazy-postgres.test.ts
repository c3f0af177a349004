// Pins that `import "agent-factory"` loads neither pg nor the PostgreSQL adapter; calling createPostgresStore loads both.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { moduleRecorder } from "./modules-loaded.ts";

const POSTGRES_CODE = /\/node_modules\/pg(-[a-z]+)?\/|\/src\/adapters\/store\/postgres\//;

describe("the PostgreSQL store is loaded lazily", () => {
  const recorder = moduleRecorder("agent-factory-lazy-pg-");
  after(() => recorder.close());
  const modulesLoadedBy = (name: string, body: string): Promise<string[]> => recorder.modulesLoadedBy(name, body);

  it("import of the library loads no pg", async () => {
    const loaded = await modulesLoadedBy("import", "if (typeof lib.createPostgresStore !== 'function') throw new Error('not exported');");
    // The hook saw the library itself, so an empty list cannot pass for a clean one.
    assert.ok(loaded.some((url) => url.endsWith("/src/index.ts")), "the hook recorded the library's modules");
    assert.deepEqual(loaded.filter((url) => POSTGRES_CODE.test(url)), []);
  });

  it("calling createPostgresStore loads pg and the adapter (here against a closed port)", async () => {
    const loaded = await modulesLoadedBy(
      "call",
      "await lib.createPostgresStore({ url: 'postgres://u:p@127.0.0.1:1/db' }).then(() => { throw new Error('opened'); }, (e) => { if (e.code !== 'STORE_UNAVAILABLE') throw e; });",
    );
    assert.ok(loaded.some((url) => url.includes("/node_modules/pg/")), "pg was loaded");
    assert.ok(loaded.some((url) => url.endsWith("/src/adapters/store/postgres/postgres-store.ts")), "the adapter was loaded");
  });
});
