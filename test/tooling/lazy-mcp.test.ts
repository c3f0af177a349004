// Pins that the MCP SDK loads only when a declared server starts: a factory with no MCP servers (most of them) never pays its ~0.2 s import.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, it } from "node:test";

const INDEX = resolve(import.meta.dirname, "../../src/index.ts");
const NODE_MODULES = resolve(import.meta.dirname, "../../node_modules");
const MCP_SDK = /\/node_modules\/@modelcontextprotocol\/(client|core)\//;

describe("the MCP SDK is loaded lazily", () => {
  const tmp = mkdtempSync(join(tmpdir(), "agent-factory-lazy-mcp-"));
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
      execFile(process.execPath, ["--conditions=agent-factory-source", "--disable-warning=ExperimentalWarning", "--import", hook, script], { timeout: 60_000 }, (error, _stdout, stderr) => (error === null ? done() : fail(new Error(stderr))));
    });
    return readFileSync(log, "utf8").trim().split("\n");
  }

  it("a factory whose agents declare no MCP server never loads the SDK", async () => {
    const loaded = await modulesLoadedBy(
      "none",
      `const f = await lib.createFactory({ dataDir: ":memory:", logger: { info() {}, warn() {}, error() {} } });
       await f.spawnAgent({ config: { name: "plain", role: "Plain" } });
       await f.close();`,
    );
    assert.ok(loaded.some((url) => url.endsWith("/src/tools/tool-host.ts")), "the hook recorded the tool host");
    assert.deepEqual(loaded.filter((url) => MCP_SDK.test(url)), []);
  });

  it("an agent with a declared server loads it", async () => {
    const loaded = await modulesLoadedBy(
      "declared",
      `const f = await lib.createFactory({ dataDir: ":memory:", agentFiles: [${JSON.stringify(NODE_MODULES)}], logger: { info() {}, warn() {}, error() {} } });
       await f.spawnAgent({ config: { name: "keeper", role: "Keeper", mcpServers: [{ name: "memory", command: ["node", "/agent/node_modules/@modelcontextprotocol/server-memory/dist/index.js"], files: [${JSON.stringify(NODE_MODULES)}], env: { MEMORY_FILE_PATH: "/workspace/m.jsonl" } }] } });
       await f.close({ force: true });`,
    );
    assert.ok(loaded.some((url) => MCP_SDK.test(url)));
  });
});
