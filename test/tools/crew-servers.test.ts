// Pins crew-declared MCP servers: one instance per crew, shared by its members, invisible to other crews; a name a member's profile also declares fails the assembly naming both; disbanding stops the servers and wipes their workspace.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Factory } from "../../src/factory/factory.ts";
import { processesWith, testFactory, until } from "../helpers.ts";

const NODE_MODULES = resolve(import.meta.dirname, "../../node_modules");
const memory = (marker: string) => ({
  name: "memory",
  command: ["node", "/agent/node_modules/@modelcontextprotocol/server-memory/dist/index.js", marker],
  files: [NODE_MODULES],
  env: { MEMORY_FILE_PATH: "/workspace/memory.jsonl" },
});

describe("crew-declared MCP servers", () => {
  let factory: Factory;
  let dir: string;
  let close: () => Promise<void>;

  before(async () => {
    ({ factory, dir, close } = await testFactory({ agentFiles: [NODE_MODULES] }));
    factory.registerProfile({ name: "member", role: "Member", pool: { spawnStrategy: "manual" } });
    factory.registerProfile({ name: "own-memory", role: "Own", pool: { spawnStrategy: "manual" }, mcpServers: [memory("own")] });
  });
  after(() => close());

  it("runs one server per crew that its members share, and another crew's members never see its graph", async () => {
    const markerA = `crew-a-${randomUUID()}`;
    const a = await factory.assembleCrew({ name: "a", members: [{ profile: "member", count: 2 }], mcpServers: [memory(markerA)] });
    const b = await factory.assembleCrew({ name: "b", members: [{ profile: "member" }], mcpServers: [memory(`crew-b-${randomUUID()}`)] });
    const [a1, a2] = a.agents.map((x) => x.id);
    const [b1] = b.agents.map((x) => x.id);
    // One server for crew a's two members (bwrap and node: both name the marker).
    assert.equal(processesWith(markerA).filter((line) => !line.includes("bwrap")).length, 1);
    const tools = factory.listTools({ crewId: a.crew.id, server: "memory" });
    assert.deepEqual([...new Set(tools.map((t) => t.agentId))].sort(), [a1, a2].sort());
    await factory.callTool({ agentId: a1!, server: "memory", tool: "create_entities", arguments: { entities: [{ name: "Roadmap", entityType: "doc", observations: ["q3"] }] } });
    const seenByA2 = await factory.callTool({ agentId: a2!, server: "memory", tool: "read_graph", arguments: {} });
    const seenByB1 = await factory.callTool({ agentId: b1!, server: "memory", tool: "read_graph", arguments: {} });
    assert.deepEqual((seenByA2.structuredContent as { entities: Array<{ name: string }> }).entities.map((e) => e.name), ["Roadmap"]);
    assert.deepEqual(seenByB1.structuredContent, { entities: [], relations: [] });
    // Disbanding stops the crew's servers with its last member here, and wipes their workspace.
    await factory.disbandCrew(a.crew.id);
    await until(() => processesWith(markerA).length === 0, "crew a's server stopped", 5_000);
    await until(() => !existsSync(join(dir, "workspaces", a.crew.id)), "crew a's server workspace wiped", 5_000);
    await factory.disbandCrew(b.crew.id);
  });

  it("fails the assembly when a member's profile declares a server of the same name as the crew's, naming both", async () => {
    await assert.rejects(factory.assembleCrew({ name: "clash", members: [{ profile: "own-memory" }], mcpServers: [memory(`clash-${randomUUID()}`)] }), (error: { code?: string; message: string }) => {
      assert.equal(error.code, "CREW_ASSEMBLY_FAILED");
      assert.match(error.message, /tool name collision: server 'memory' is declared by both profile 'own-memory' and crew crew_\w+'s manifest \('memory\.\*' would name the tools of both\); rename one/);
      return true;
    });
  });
});
