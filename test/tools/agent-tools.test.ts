// Pins how each kind of agent reaches its MCP tools: a process agent on its stdio channel (tools/list, tools/call), a function agent through ctx.tools — the same executor, allow-list and events.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Factory } from "../../src/factory/factory.ts";
import type { HandlerContext } from "../../src/runtimes/function/function-handler.ts";
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
