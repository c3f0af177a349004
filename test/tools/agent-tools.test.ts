// Pins how each kind of agent reaches its MCP tools: a process agent on its stdio channel (tools/list, tools/call), a function agent through ctx.tools, an llm agent in its tool loop beside the built-ins — the same executor, allow-list and events.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Factory } from "../../src/factory/factory.ts";
import type { HandlerContext } from "../../src/runtimes/function/function-handler.ts";
import { MockProvider } from "../../src/models/providers/mock-provider.ts";
import { MockScriptSchema } from "../../src/models/providers/mock-script.ts";
import { testFactory, until } from "../helpers.ts";

const NODE_MODULES = resolve(import.meta.dirname, "../../node_modules");
const RPC_AGENT = resolve(import.meta.dirname, "../fixtures/rpc-agent.mjs");
const FS = { name: "fs", command: ["node", "/agent/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js", "/workspace"], files: [NODE_MODULES] };

interface Answer {
  result?: unknown;
  error?: { message: string; code: string | number };
}

describe("agents calling their MCP tools", () => {
  let factory: Factory;
  let dir: string;
  let close: () => Promise<void>;

  before(async () => {
    ({ factory, dir, close } = await testFactory({
      agentFiles: [NODE_MODULES, dirname(RPC_AGENT)],
      handlers: {
        // Writes a file through its fs server and reads it back: the task's result is what the tools said.
        "fs-roundtrip": async (input: unknown, ctx: HandlerContext) => {
          const { content } = input as { content: string };
          const names = ctx.tools.list().map((t) => t.name);
          const written = await ctx.tools.call("fs", "write_file", { path: "/workspace/out.txt", content });
          const read = await ctx.tools.call("fs", "read_text_file", { path: "/workspace/out.txt" });
          return { names: names.length, written: written.isError, read: read.content };
        },
        "no-tools": async (_input: unknown, ctx: HandlerContext) => ({ list: ctx.tools.list(), call: await ctx.tools.call("fs", "read_file", {}).catch((error: { code: string }) => error.code) }),
      },
    }));
    factory.registerProfile({
      name: "rpc-fs",
      role: "RpcFs",
      runtime: { kind: "process", command: ["node", "/agent/rpc-agent.mjs"], files: [RPC_AGENT] },
      health: { heartbeatIntervalMs: 0 },
      pool: { spawnStrategy: "manual" },
      mcpServers: [FS],
      tools: { allow: ["fs.write_file", "fs.read_text_file", "fs.list_directory"] },
    });
    factory.registerProfile({ name: "fn-fs", role: "FnFs", runtime: { kind: "function", handler: "fs-roundtrip" }, pool: { spawnStrategy: "manual" }, mcpServers: [FS] });
    factory.registerProfile({ name: "fn-bare", role: "FnBare", runtime: { kind: "function", handler: "no-tools" }, pool: { spawnStrategy: "manual" } });
  });
  after(() => close());

  it("a process agent lists and calls its tools on its stdio channel; the server shares its /workspace; a tool outside its allow-list is a JSON-RPC error FORBIDDEN", async () => {
    const agent = await factory.spawnAgent({ profile: "rpc-fs" });
    const calls = [
      { method: "tools/list" },
      { method: "tools/call", params: { server: "fs", tool: "write_file", arguments: { path: "/workspace/from-agent.txt", content: "written by the fs server" } } },
      { method: "tools/call", params: { server: "fs", tool: "list_directory", arguments: { path: "/workspace" } } },
      { method: "tools/call", params: { server: "fs", tool: "move_file", arguments: { source: "/workspace/from-agent.txt", destination: "/workspace/x" } } },
      { method: "tools/call", params: { server: "fs", tool: "write_file", arguments: "nope" } },
      { method: "tools/call", params: { server: "git", tool: "log" } },
    ];
    const task = await factory.waitForTask((await factory.submitTask({ agentId: agent.id, input: { calls } })).id, 15_000);
    assert.equal(task.state, "SUCCEEDED", JSON.stringify(task.error));
    const [list, write, listing, forbidden, badArgs, noServer] = (task.result as { answers: Answer[] }).answers;
    assert.deepEqual((list?.result as { tools: Array<{ name: string }> }).tools.map((t) => t.name), ["fs.read_text_file", "fs.write_file", "fs.list_directory"]);
    assert.deepEqual(write?.result, { content: [{ type: "text", text: "Successfully wrote to /workspace/from-agent.txt" }], isError: false, structuredContent: { content: "Successfully wrote to /workspace/from-agent.txt" } });
    assert.match(JSON.stringify(listing?.result), /\[FILE\] from-agent\.txt/);
    assert.equal(readFileSync(join(dir, "workspaces", agent.id, "from-agent.txt"), "utf8"), "written by the fs server");
    assert.equal(forbidden?.error?.code, "FORBIDDEN");
    assert.match(forbidden?.error?.message ?? "", /fs\.move_file is not in agent .*'s allow-list/);
    assert.equal(badArgs?.error?.code, "VALIDATION_FAILED");
    assert.equal(noServer?.error?.code, "TOOL_NOT_FOUND");
    await factory.terminateAgent(agent.id);
  });

  it("a process agent replaced after a crash gets its servers again, and its tools answer", async () => {
    const agent = await factory.spawnAgent({ profile: "rpc-fs" });
    await factory.callTool({ agentId: agent.id, server: "fs", tool: "write_file", arguments: { path: "/workspace/before.txt", content: "x" } });
    process.kill(agent.pid!, "SIGKILL");
    await until(async () => {
      const now = await factory.getAgent(agent.id);
      return now.restarts === 1 && now.state === "READY";
    }, "the agent replaced", 15_000);
    const listing = await factory.callTool({ agentId: agent.id, server: "fs", tool: "list_directory", arguments: { path: "/workspace" } });
    assert.equal(listing.isError, false, JSON.stringify(listing.content));
    assert.equal(factory.listTools({ agentId: agent.id }).length, 3);
    await factory.terminateAgent(agent.id);
  });

  it("a function agent calls its tools through ctx.tools", async () => {
    const agent = await factory.spawnAgent({ profile: "fn-fs" });
    const task = await factory.waitForTask((await factory.submitTask({ agentId: agent.id, input: { content: "round trip" } })).id, 15_000);
    assert.equal(task.state, "SUCCEEDED", JSON.stringify(task.error));
    assert.deepEqual(task.result, { names: 14, written: false, read: [{ type: "text", text: "round trip" }] });
    // A function agent's servers have a workspace of their own, wiped when it ends.
    assert.equal(readFileSync(join(dir, "workspaces", agent.id, "out.txt"), "utf8"), "round trip");
    await factory.terminateAgent(agent.id);
    await until(() => !existsSync(join(dir, "workspaces", agent.id)), "the workspace wiped");
  });

  it("a function agent without servers lists none and is told so when it calls one", async () => {
    const agent = await factory.spawnAgent({ profile: "fn-bare" });
    const task = await factory.waitForTask((await factory.submitTask({ agentId: agent.id, input: {} })).id, 5_000);
    assert.deepEqual(task.result, { list: [], call: "TOOL_NOT_FOUND" });
    await factory.terminateAgent(agent.id);
  });
});

describe("an llm agent's MCP tools in its tool loop", () => {
  const MEMORY = { name: "memory", command: ["node", "/agent/node_modules/@modelcontextprotocol/server-memory/dist/index.js"], files: [NODE_MODULES], env: { MEMORY_FILE_PATH: "/workspace/memory.jsonl" } };
  const script = MockScriptSchema.parse({
    rules: [
      {
        name: "archivist",
        when: { system: "^You keep records" },
        steps: [
          { toolCalls: [{ name: "memory__create_entities", input: { entities: [{ name: "{{input}}", entityType: "topic", observations: ["asked about"] }] } }] },
          { toolCalls: [{ name: "memory__search_nodes", input: { query: "{{input}}" } }] },
          { toolCalls: [{ name: "memory__delete_entities", input: { entityNames: ["{{input}}"] } }] },
          { text: "refused: {{lastToolResult}}" },
        ],
      },
      { name: "reader", when: { system: "^You read" }, steps: [{ toolCalls: [{ name: "memory__search_nodes", input: { query: 5 } }] }, { text: "said: {{lastToolResult}}" }] },
    ],
  });
  let t: Awaited<ReturnType<typeof testFactory>>;
  const toolResults: string[] = [];

  before(async () => {
    const mock = new MockProvider({ script });
    t = await testFactory({ agentFiles: [NODE_MODULES, dirname(RPC_AGENT)], providers: [mock], models: { providers: [{ name: "mock", kind: "mock", serves: "*" }] } });
    t.factory.onEvent((e) => toolResults.push(`${String(e.data?.tool)}:${String(e.data?.outcome)}`), { types: ["tool.called"] });
    t.factory.registerProfile({
      name: "archivist",
      role: "Archivist",
      runtime: { kind: "llm", systemPrompt: "You keep records in your memory graph.", maxSteps: 6 },
      mcpServers: [MEMORY],
      tools: { allow: ["memory.create_entities", "memory.search_nodes"] },
    });
    t.factory.registerProfile({ name: "reader", role: "Reader", runtime: { kind: "llm", systemPrompt: "You read.", maxSteps: 3 }, mcpServers: [MEMORY] });
  });
  after(() => t.close());

  it("calls MCP tools as server__tool, uses their answers, and a tool outside its allow-list is not even offered", async () => {
    const { crew } = await t.factory.assembleCrew({ name: "records", budget: 100, members: [{ profile: "archivist" }] });
    const done = await t.factory.waitForTask((await t.factory.submitTask({ role: "Archivist", crewId: crew.id, input: "tides" })).id, 15_000);
    assert.equal(done.state, "SUCCEEDED", JSON.stringify(done.error));
    const result = done.result as { output: string; steps: number };
    assert.equal(result.steps, 4);
    // delete_entities is outside the allow-list: the model was never offered it, so the loop says so.
    assert.equal(result.output, "refused: VALIDATION_FAILED: no tool named 'memory__delete_entities' (tools: context_read, context_write, submit_task, memory__create_entities, memory__search_nodes)");
    const searched = toolResults.filter((r) => r.startsWith("search_nodes"));
    assert.deepEqual([toolResults[0], searched], ["create_entities:ok", ["search_nodes:ok"]]);
    const graph = await t.factory.callTool({ agentId: (await t.factory.crewAgents(crew))[0]!.id, server: "memory", tool: "search_nodes", arguments: { query: "tides" } });
    assert.deepEqual((graph.structuredContent as { entities: Array<{ name: string }> }).entities.map((e) => e.name), ["tides"]);
  });

  it("fails the task naming both tools when two MCP tools would share one model name (grow.x.y and grow.x_y are both grow__x_y)", async () => {
    const fixture = resolve(import.meta.dirname, "../fixtures/mcp-growing-server.mjs");
    t.factory.registerProfile({ name: "grower", role: "Grower", runtime: { kind: "llm", systemPrompt: "You read.", maxSteps: 3 }, mcpServers: [{ name: "grow", command: ["node", "/agent/mcp-growing-server.mjs"], files: [fixture, NODE_MODULES] }] });
    const { crew, agents } = await t.factory.assembleCrew({ name: "growers", budget: 100, members: [{ profile: "grower" }] });
    const agentId = agents[0]!.id;
    for (const name of ["x.y", "x_y"]) await t.factory.callTool({ agentId, server: "grow", tool: "grow", arguments: { name } });
    await until(() => t.factory.listTools({ agentId }).length === 3, "both grown tools listed", 5_000);
    const done = await t.factory.waitForTask((await t.factory.submitTask({ role: "Grower", crewId: crew.id, input: "x" })).id, 15_000);
    assert.equal(done.state, "FAILED");
    assert.equal(done.error?.code, "VALIDATION_FAILED");
    assert.equal(done.error?.message, "tool name collision: 'grow__x_y' would be both grow.x.y and grow.x_y");
  });

  it("gives the model a tool's error (malformed arguments) as an error result, and the task still ends", async () => {
    const { crew } = await t.factory.assembleCrew({ name: "readers", budget: 100, members: [{ profile: "reader" }] });
    const done = await t.factory.waitForTask((await t.factory.submitTask({ role: "Reader", crewId: crew.id, input: "x" })).id, 15_000);
    assert.equal(done.state, "SUCCEEDED", JSON.stringify(done.error));
    assert.match((done.result as { output: string }).output, /^said: .*query/);
  });
});
