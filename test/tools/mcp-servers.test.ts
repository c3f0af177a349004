// Pins the MCP client side: declared stdio servers from npm, run in each agent's sandbox, listed in the registry, called through the one executor.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { randomUUID } from "node:crypto";
import type { FactoryEvent } from "../../src/core/events.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { processesWith, testFactory, until } from "../helpers.ts";

/** The project's node_modules, mounted read-only at /agent/node_modules in the servers' sandboxes. */
const NODE_MODULES = resolve(import.meta.dirname, "../../node_modules");
const FS_SERVER = ["node", "/agent/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js", "/workspace"];
const MEMORY_SERVER = ["node", "/agent/node_modules/@modelcontextprotocol/server-memory/dist/index.js"];

const text = (result: { content: Array<Record<string, unknown>> }): string => result.content.map((c) => String(c.text ?? "")).join("\n");

describe("MCP servers declared by a profile", () => {
  let factory: Factory;
  let dir: string;
  let close: () => Promise<void>;
  const events: FactoryEvent[] = [];

  before(async () => {
    ({ factory, dir, close } = await testFactory({ agentFiles: [NODE_MODULES] }));
    factory.onEvent((event) => events.push(event));
    factory.registerProfile({ name: "fs-user", role: "Coder", mcpServers: [{ name: "fs", command: FS_SERVER, files: [NODE_MODULES] }] });
    factory.registerProfile({
      name: "fs-reader",
      role: "Reviewer",
      mcpServers: [{ name: "fs", command: FS_SERVER, files: [NODE_MODULES] }],
      tools: { allow: ["fs.read_*", "fs.list_*"] },
    });
    factory.registerProfile({
      name: "rememberer",
      role: "Coder",
      mcpServers: [{ name: "memory", command: MEMORY_SERVER, files: [NODE_MODULES], env: { MEMORY_FILE_PATH: "/workspace/memory.jsonl" } }],
    });
  });
  after(() => close());

  it("runs server-filesystem in the agent's sandbox: a write lands in that agent's workspace, not another's, and nothing outside /workspace is reachable", async () => {
    const a = await factory.spawnAgent({ profile: "fs-user" });
    const b = await factory.spawnAgent({ profile: "fs-user" });
    const written = await factory.callTool({ agentId: a.id, server: "fs", tool: "write_file", arguments: { path: "/workspace/note.txt", content: "from a" } });
    assert.deepEqual(written.content, [{ type: "text", text: "Successfully wrote to /workspace/note.txt" }]);
    assert.equal(written.isError, false);
    assert.equal(readFileSync(join(dir, "workspaces", a.id, "note.txt"), "utf8"), "from a");
    assert.equal(existsSync(join(dir, "workspaces", b.id, "note.txt")), false);
    const missing = await factory.callTool({ agentId: b.id, server: "fs", tool: "read_text_file", arguments: { path: "/workspace/note.txt" } });
    assert.equal(missing.isError, true);
    assert.match(text(missing), /ENOENT/);
    const outside = await factory.callTool({ agentId: a.id, server: "fs", tool: "read_text_file", arguments: { path: "/etc/passwd" } });
    assert.equal(outside.isError, true);
    assert.match(text(outside), /Access denied - path outside allowed directories/);
    // The factory's data (the store next to the workspaces) is not even mounted.
    const store = await factory.callTool({ agentId: a.id, server: "fs", tool: "list_allowed_directories", arguments: {} });
    assert.equal(text(store), "Allowed directories:\n/workspace");
    await factory.terminateAgent(a.id);
    await factory.terminateAgent(b.id);
  });

  it("lists each agent's tools namespaced by server, with their JSON Schemas, filtered by agent and server", async () => {
    const agent = await factory.spawnAgent({ profile: "fs-user" });
    const tools = factory.listTools({ agentId: agent.id });
    assert.equal(tools.length, 14);
    const write = tools.find((t) => t.name === "fs.write_file");
    assert.deepEqual({ ...write, inputSchema: undefined, description: undefined }, { name: "fs.write_file", server: "fs", tool: "write_file", agentId: agent.id, crewId: null, inputSchema: undefined, description: undefined });
    assert.deepEqual((write?.inputSchema as { required?: string[] }).required, ["path", "content"]);
    assert.deepEqual(factory.listTools({ agentId: agent.id, server: "nope" }), []);
    await factory.terminateAgent(agent.id);
    // Stopped with its agent: its tools are gone from the registry.
    assert.deepEqual(factory.listTools({ agentId: agent.id }), []);
  });

  it("gives each agent its own server-memory: one agent's graph is invisible to another's", async () => {
    const a = await factory.spawnAgent({ profile: "rememberer" });
    const b = await factory.spawnAgent({ profile: "rememberer" });
    const created = await factory.callTool({ agentId: a.id, server: "memory", tool: "create_entities", arguments: { entities: [{ name: "Ada", entityType: "person", observations: ["wrote the first program"] }] } });
    assert.equal(created.isError, false);
    const graphA = (await factory.callTool({ agentId: a.id, server: "memory", tool: "read_graph", arguments: {} })).structuredContent as { entities: Array<{ name: string }> };
    const graphB = (await factory.callTool({ agentId: b.id, server: "memory", tool: "read_graph", arguments: {} })).structuredContent as { entities: Array<{ name: string }> };
    assert.deepEqual(graphA.entities.map((e) => e.name), ["Ada"]);
    assert.deepEqual(graphB.entities, []);
    await factory.terminateAgent(a.id);
    await factory.terminateAgent(b.id);
  });

  it("refuses a tool outside the profile's allow-list with FORBIDDEN, and lists only the allowed ones", async () => {
    const agent = await factory.spawnAgent({ profile: "fs-reader" });
    assert.deepEqual(factory.listTools({ agentId: agent.id }).map((t) => t.name).sort(), [
      "fs.list_allowed_directories", "fs.list_directory", "fs.list_directory_with_sizes", "fs.read_file", "fs.read_media_file", "fs.read_multiple_files", "fs.read_text_file",
    ]);
    await assert.rejects(factory.callTool({ agentId: agent.id, server: "fs", tool: "write_file", arguments: { path: "/workspace/x", content: "x" } }), (error: { code?: string; field?: string; message: string }) => {
      assert.equal(error.code, "FORBIDDEN");
      assert.equal(error.field, "tool");
      assert.match(error.message, /fs\.write_file is not in agent .*'s allow-list \(tools\.allow: fs\.read_\*, fs\.list_\*\)/);
      return true;
    });
    await factory.terminateAgent(agent.id);
  });

  it("answers bad requests with errors naming the field: an unknown server or tool, arguments that are not an object; a server's own complaint is a tool error", async () => {
    const agent = await factory.spawnAgent({ profile: "fs-user" });
    const fails = (request: { server: string; tool: string; arguments?: unknown }, code: string, field: string, message: RegExp) =>
      assert.rejects(factory.callTool({ agentId: agent.id, ...request }), (error: { code?: string; field?: string; message: string }) => {
        assert.deepEqual([error.code, error.field], [code, field]);
        assert.match(error.message, message);
        return true;
      });
    await fails({ server: "fss", tool: "read_file" }, "TOOL_NOT_FOUND", "server", /has no MCP server 'fss' \(its servers: fs\); did you mean fs\?/);
    await fails({ server: "fs", tool: "read_fil" }, "TOOL_NOT_FOUND", "tool", /has no tool 'read_fil'; did you mean read_file/);
    await fails({ server: "fs", tool: "read_file", arguments: [1] }, "VALIDATION_FAILED", "arguments", /must be an object/);
    await assert.rejects(factory.callTool({ agentId: "agent_nope", server: "fs", tool: "read_file" }), { code: "AGENT_NOT_FOUND" });
    // Malformed arguments reach the server, which says what is wrong: a tool error, not a crash.
    const malformed = await factory.callTool({ agentId: agent.id, server: "fs", tool: "write_file", arguments: { path: 7 } });
    assert.equal(malformed.isError, true);
    assert.match(text(malformed), /path/);
    await factory.terminateAgent(agent.id);
  });

  it("records a tool.called event with the duration and outcome of each call", async () => {
    const agent = await factory.spawnAgent({ profile: "fs-user" });
    await factory.callTool({ agentId: agent.id, server: "fs", tool: "list_allowed_directories", arguments: {} }, { kind: "operator", keyId: "k1" });
    await factory.callTool({ agentId: agent.id, server: "fs", tool: "read_text_file", arguments: { path: "/nope" } }, { kind: "operator", keyId: "k1" });
    await until(() => events.filter((e) => e.type === "tool.called" && e.agentId === agent.id).length === 2, "two tool.called events");
    const [ok, failed] = events.filter((e) => e.type === "tool.called" && e.agentId === agent.id);
    assert.deepEqual({ ...ok!.data, durationMs: typeof ok!.data?.durationMs }, { server: "fs", tool: "list_allowed_directories", caller: "operator:k1", durationMs: "number", outcome: "ok" });
    assert.equal(failed!.data?.outcome, "tool-error");
    assert.match(String(failed!.data?.error), /Access denied/);
    await factory.terminateAgent(agent.id);
  });

  it("restarts a server that dies, and its tools answer again", async () => {
    const marker = `marker-${randomUUID()}`;
    factory.registerProfile({ name: "dies", role: "Coder", mcpServers: [{ name: "memory", command: [...MEMORY_SERVER, marker], files: [NODE_MODULES], env: { MEMORY_FILE_PATH: "/workspace/memory.jsonl" } }] });
    const agent = await factory.spawnAgent({ profile: "dies" });
    const pids = processesWith(marker).map((line) => Number(line.split(" ")[0]));
    assert.ok(pids.length > 0, "the server runs");
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone already: bubblewrap ends with the server it ran.
      }
    }
    await until(async () => (await factory.callTool({ agentId: agent.id, server: "memory", tool: "read_graph", arguments: {} })).isError === false, "the restarted server answers", 10_000);
    assert.ok(processesWith(marker).length > 0);
    await factory.terminateAgent(agent.id);
    await until(() => processesWith(marker).length === 0, "the server stopped with its agent", 5_000);
  });

  it("stops an agent's servers while it hibernates and starts them again when it wakes, its workspace (and the memory graph in it) kept", async () => {
    const marker = `marker-${randomUUID()}`;
    factory.registerProfile({ name: "sleeper", role: "Coder", mcpServers: [{ name: "memory", command: [...MEMORY_SERVER, marker], files: [NODE_MODULES], env: { MEMORY_FILE_PATH: "/workspace/memory.jsonl" } }] });
    const agent = await factory.spawnAgent({ profile: "sleeper" });
    await factory.callTool({ agentId: agent.id, server: "memory", tool: "create_entities", arguments: { entities: [{ name: "Dream", entityType: "note", observations: ["kept"] }] } });
    await factory.hibernateAgent(agent.id);
    await until(() => processesWith(marker).length === 0, "the server stopped while the agent sleeps", 5_000);
    assert.deepEqual(factory.listTools({ agentId: agent.id }), []);
    await assert.rejects(factory.callTool({ agentId: agent.id, server: "memory", tool: "read_graph", arguments: {} }), { code: "TOOL_NOT_FOUND" });
    await factory.wakeAgent(agent.id);
    const graph = await factory.callTool({ agentId: agent.id, server: "memory", tool: "read_graph", arguments: {} });
    assert.deepEqual((graph.structuredContent as { entities: Array<{ name: string }> }).entities.map((e) => e.name), ["Dream"]);
    await factory.terminateAgent(agent.id);
  });

  it("re-lists a server's tools when it says they changed (tools/list_changed)", async () => {
    const fixture = resolve(import.meta.dirname, "../fixtures/mcp-growing-server.mjs");
    const growing = await testFactory({ agentFiles: [NODE_MODULES, dirname(fixture)] });
    try {
      // The fixture is mounted at /agent/, node_modules beside it: its imports resolve as on the host.
      growing.factory.registerProfile({ name: "grower", role: "Coder", mcpServers: [{ name: "grow", command: ["node", "/agent/mcp-growing-server.mjs"], files: [fixture, NODE_MODULES] }] });
      const agent = await growing.factory.spawnAgent({ profile: "grower" });
      assert.deepEqual(growing.factory.listTools({ agentId: agent.id }).map((t) => t.name), ["grow.grow"]);
      await growing.factory.callTool({ agentId: agent.id, server: "grow", tool: "grow", arguments: { name: "sprout" } });
      await until(() => growing.factory.listTools({ agentId: agent.id }).length === 2, "the new tool listed", 5_000);
      assert.deepEqual(growing.factory.listTools({ agentId: agent.id }).map((t) => t.name), ["grow.grow", "grow.sprout"]);
      const sprout = await growing.factory.callTool({ agentId: agent.id, server: "grow", tool: "sprout", arguments: {} });
      assert.deepEqual(sprout.content, [{ type: "text", text: "sprout here" }]);
    } finally {
      await growing.close();
    }
  });

  it("gives up a server in a crash loop: after 5 restarts in a row its tools are gone and calls answer a tool error", async () => {
    const fixture = resolve(import.meta.dirname, "../fixtures/mcp-growing-server.mjs");
    const looping = await testFactory({ agentFiles: [NODE_MODULES, dirname(fixture)] });
    try {
      looping.factory.registerProfile({ name: "looper", role: "Coder", mcpServers: [{ name: "grow", command: ["node", "/agent/mcp-growing-server.mjs"], files: [fixture, NODE_MODULES], env: { GROW_EXIT_AFTER_MS: "400" } }] });
      const agent = await looping.factory.spawnAgent({ profile: "looper" });
      await until(() => looping.factory.listTools({ agentId: agent.id }).length === 0, "the server given up", 20_000);
      // Still given up a while later: not restarted again.
      await new Promise((r) => setTimeout(r, 1_000));
      assert.deepEqual(looping.factory.listTools({ agentId: agent.id }), []);
      const answer = await looping.factory.callTool({ agentId: agent.id, server: "grow", tool: "grow", arguments: { name: "x" } });
      assert.deepEqual(answer, { content: [{ type: "text", text: "grow.grow failed: the server was given up: it stopped again after 5 restarts in a row" }], isError: true });
      // The agent itself lives on.
      assert.equal((await looping.factory.getAgent(agent.id)).state, "READY");
    } finally {
      await looping.close();
    }
  });

  it("fails the spawn with the server's stderr when a declared server cannot start", async () => {
    factory.registerProfile({ name: "broken", role: "Coder", mcpServers: [{ name: "bad", command: ["node", "-e", "console.error('no config file: /workspace/bad.json'); process.exit(3)"] }] });
    await assert.rejects(factory.spawnAgent({ profile: "broken" }), (error: { code?: string; message: string }) => {
      assert.equal(error.code, "AGENT_START_FAILED");
      assert.match(error.message, /MCP server 'bad' of agent agent_\w+ failed to start: .*it said: no config file: \/workspace\/bad\.json/);
      return true;
    });
    assert.deepEqual(factory.listTools({ server: "bad" }), []);
  });

  it("refuses at registration a profile whose server files lie outside the allowed folders, or whose names repeat", () => {
    assert.throws(() => factory.registerProfile({ name: "outside", role: "Coder", mcpServers: [{ name: "fs", command: FS_SERVER, files: ["/etc"] }] }), (error: { code?: string; field?: string; message: string }) => {
      assert.deepEqual([error.code, error.field], ["VALIDATION_FAILED", "mcpServers.0.files.0"]);
      assert.match(error.message, /^mcpServers\.0\.files\.0: \/etc is outside the folders agent files may come from/);
      return true;
    });
    assert.throws(() => factory.registerProfile({ name: "twice", role: "Coder", mcpServers: [{ name: "fs", url: "http://127.0.0.1:1/mcp" }, { name: "fs", url: "http://127.0.0.1:2/mcp" }] }), (error: { code?: string; field?: string; message: string }) => {
      assert.deepEqual([error.code, error.field], ["VALIDATION_FAILED", "mcpServers.1.name"]);
      return true;
    });
    assert.throws(() => factory.registerProfile({ name: "dotted", role: "Coder", mcpServers: [{ name: "f.s", url: "http://127.0.0.1:1/mcp" }] }), { code: "VALIDATION_FAILED", field: "mcpServers.0.name" });
    assert.throws(() => factory.registerProfile({ name: "both", role: "Coder", mcpServers: [{ name: "fs", url: "http://127.0.0.1:1/mcp", command: ["x"] }] }), { code: "VALIDATION_FAILED", field: "mcpServers.0.command" });
  });
});
