// Pins that the MCP SDK loads only when a declared server starts: a factory with no MCP servers (most of them) never pays its ~0.2 s import.
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { after, describe, it } from "node:test";
import { moduleRecorder } from "./modules-loaded.ts";

const NODE_MODULES = resolve(import.meta.dirname, "../../node_modules");
const MCP_SDK = /\/node_modules\/@modelcontextprotocol\/(client|core)\//;

describe("the MCP SDK is loaded lazily", () => {
  const recorder = moduleRecorder("agent-factory-lazy-mcp-");
  after(() => recorder.close());
  const modulesLoadedBy = (name: string, body: string): Promise<string[]> => recorder.modulesLoadedBy(name, body, 60_000);

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
