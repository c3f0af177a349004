// Pins that ioredis and the Redis bus's module load only when createRedisBus is called (and the Redis membership's only when createRedisMembership is): a default factory built through the public entry point loads none of them.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { tempDir } from "../helpers.ts";
import { REDIS_SKIP } from "./redis-test-server.ts";

const ROOT = join(import.meta.dirname, "..", "..");

/** Runs `script` (an ES module) in a child Node whose module hook writes down every module URL it loads. */
function loadedBy(script: string): Promise<string[]> {
  const dir = tempDir("af-redis-loading-");
  const hook = join(dir.path, "record-modules.mjs");
  const log = join(dir.path, "modules.txt");
  writeFileSync(
    hook,
    `import { registerHooks } from "node:module";\nimport { appendFileSync } from "node:fs";\n` +
      `registerHooks({ load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + "\\n"); return next(url, context); } });\n`,
  );
  writeFileSync(log, "");
  const main = join(dir.path, "main.mjs");
  writeFileSync(main, script);
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      ["--conditions=agent-factory-source", "--disable-warning=ExperimentalWarning", "--import", hook, main],
      { cwd: ROOT, timeout: 30_000 },
      (error, _stdout, stderr) => {
        const loaded = readFileSync(log, "utf8").trim().split("\n");
        dir.cleanup();
        if (error !== null) fail(new Error(`the child failed: ${stderr}`));
        else done(loaded);
      },
    );
  });
}

const REDIS_CODE = /\/node_modules\/ioredis\/|\/src\/adapters\/(bus|membership)\/redis\//;
const INDEX = JSON.stringify(join(ROOT, "src", "index.ts"));

describe("redis bus: loaded only when used", { timeout: 60_000, skip: REDIS_SKIP }, () => {
  it("a default factory built through the public entry point loads neither ioredis nor the Redis bus nor the Redis membership", async () => {
    const loaded = await loadedBy(
      `const { createFactory } = await import(${INDEX});\n` +
        `const factory = await createFactory({ dataDir: ":memory:", logger: { info() {}, warn() {}, error() {} } });\n` +
        `await factory.close();\n`,
    );
    // The hook saw the factory itself, so an empty list cannot pass for a clean one.
    assert.ok(loaded.some((url) => url.endsWith("/src/factory/create-factory.ts")), "the hook recorded the factory's modules");
    assert.deepEqual(loaded.filter((url) => REDIS_CODE.test(url)), []);
  });

  it("createRedisBus from the public entry point loads them on its first call", async () => {
    const loaded = await loadedBy(
      `const { createRedisBus } = await import(${INDEX});\n` +
        `const bus = await createRedisBus({ url: "redis://127.0.0.1:6379/0", cluster: "af-test-loading-" + process.pid });\n` +
        `await bus.close();\n`,
    );
    assert.ok(loaded.some((url) => url.endsWith("/src/adapters/bus/redis/redis-bus.ts")));
    assert.ok(loaded.some((url) => /\/node_modules\/ioredis\/built\/index\.js$/.test(url)));
  });
});
