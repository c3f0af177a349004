// Pins that `import "agent-factory"` loads neither pg nor the PostgreSQL adapter; calling createPostgresStore loads both.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, it } from "node:test";

const INDEX = resolve(import.meta.dirname, "../../src/index.ts");
const POSTGRES_CODE = /\/node_modules\/pg(-[a-z]+)?\/|\/src\/adapters\/store\/postgres\//;

describe("the PostgreSQL store is loaded lazily", () => {
  const tmp = mkdtempSync(join(tmpdir(), "agent-factory-lazy-pg-"));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  /** Runs `body` (an ES module that may use `lib`, the imported src/index.ts) and returns every module URL its process loaded. */
  async function modulesLoadedBy(name: string, body: string): Promise<string[]> {
    const log = join(tmp, `${name}.txt`);
    const hook = join(tmp, `${name}-hook.mjs`);
    const script = join(tmp, `${name}.mjs`);
    writeFileSync(hook, `import { registerHooks } from "node:module";\nimport { appendFileSync } from "node:fs";\nregisterHooks({ load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + "\\n"); return next(url, context); } });\n`);
    writeFileSync(script, `const lib = await import(${JSON.stringify(INDEX)});\n${body}\n`);
    writeFileSync(log, "");
    await new Promise<void>((done, fail) => {
      execFile(process.execPath, ["--conditions=agent-factory-source", "--disable-warning=ExperimentalWarning", "--import", hook, script], { timeout: 30_000 }, (error, _stdout, stderr) => (error === null ? done() : fail(new Error(stderr))));
    });
    return readFileSync(log, "utf8").trim().split("\n");
  }

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
