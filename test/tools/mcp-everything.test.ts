// Pins the executor's timeouts and the Streamable HTTP transport with @modelcontextprotocol/server-everything: progress keeps a long tool alive, silence or the total cap ends it as a tool error; a url server with headers from the environment.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import type { FactoryEvent } from "../../src/core/events.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { testFactory, until } from "../helpers.ts";

const NODE_MODULES = resolve(import.meta.dirname, "../../node_modules");
const EVERYTHING = resolve(NODE_MODULES, "@modelcontextprotocol/server-everything/dist/index.js");

const text = (result: { content: Array<Record<string, unknown>> }): string => result.content.map((c) => String(c.text ?? "")).join("\n");

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const port = (probe.address() as { port: number }).port;
      probe.close(() => done(port));
    });
  });
}

describe("server-everything: long tools, progress and timeouts", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let agentId: string;
  const events: FactoryEvent[] = [];

  before(async () => {
    ({ factory, close } = await testFactory({ agentFiles: [NODE_MODULES] }));
    factory.onEvent((e) => events.push(e), { types: ["tool.called"] });
    factory.registerProfile({
      name: "everything",
      role: "Tester",
      mcpServers: [{ name: "ev", command: ["node", "/agent/node_modules/@modelcontextprotocol/server-everything/dist/index.js", "stdio"], files: [NODE_MODULES] }],
      // 600 ms of silence ends a call; 3 s is the most any call may take, progress or not.
      tools: { timeoutMs: 600, maxTotalTimeoutMs: 3_000 },
    });
    agentId = (await factory.spawnAgent({ profile: "everything" })).id;
  });
  after(() => close());

  it("keeps a long tool alive while it reports progress: 1.6 s in 8 steps passes a 600 ms timeout", async () => {
    const result = await factory.callTool({ agentId, server: "ev", tool: "trigger-long-running-operation", arguments: { duration: 1.6, steps: 8 } });
    assert.deepEqual([result.isError, text(result)], [false, "Long running operation completed. Duration: 1.6 seconds, Steps: 8."]);
  });

  it("ends a silent tool at the timeout as a tool error with outcome timeout, and the server still answers", async () => {
    const started = Date.now();
    const result = await factory.callTool({ agentId, server: "ev", tool: "trigger-long-running-operation", arguments: { duration: 2, steps: 1 } });
    assert.equal(result.isError, true);
    assert.equal(text(result), "ev.trigger-long-running-operation timed out (no answer or progress for 600 ms, or over 3000 ms in all)");
    assert.ok(Date.now() - started < 1_500, `took ${Date.now() - started} ms`);
    await until(() => events.some((e) => e.data?.outcome === "timeout"), "a timeout event");
    const echo = await factory.callTool({ agentId, server: "ev", tool: "echo", arguments: { message: "still here" } });
    assert.deepEqual([echo.isError, text(echo)], [false, "Echo: still here"]);
  });

  it("ends a tool that reports progress past the total cap", async () => {
    const result = await factory.callTool({ agentId, server: "ev", tool: "trigger-long-running-operation", arguments: { duration: 5, steps: 25 } });
    assert.equal(result.isError, true);
    assert.match(text(result), /timed out/);
  });

  it("returns a tool's own validation error as a tool error", async () => {
    const result = await factory.callTool({ agentId, server: "ev", tool: "get-sum", arguments: { a: "one", b: 2 } });
    assert.equal(result.isError, true);
    assert.match(text(result), /a/);
  });
});

describe("a Streamable HTTP (url) server", () => {
  let server: ChildProcess;
  let port: number;
  let factory: Factory;
  let close: () => Promise<void>;

  before(async () => {
    port = await freePort();
    server = spawn(process.execPath, [EVERYTHING, "streamableHttp"], { env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "ignore", "pipe"] });
    let said = "";
    server.stderr!.on("data", (chunk: Buffer) => (said += chunk.toString()));
    await until(() => said.includes("listening on port"), "server-everything listening", 10_000);
    ({ factory, close } = await testFactory());
  });
  after(async () => {
    await close();
    server.kill("SIGKILL");
  });

  it("connects to a url server with headers from the environment and calls its tools", async () => {
    process.env.AF_TEST_MCP_TOKEN = "secret-from-env";
    factory.registerProfile({ name: "remote", role: "Remote", mcpServers: [{ name: "ev", url: `http://127.0.0.1:${port}/mcp`, headers: { Authorization: "Bearer ${env:AF_TEST_MCP_TOKEN}" } }] });
    const agent = await factory.spawnAgent({ profile: "remote" });
    assert.ok(factory.listTools({ agentId: agent.id }).some((t) => t.name === "ev.echo"));
    const echo = await factory.callTool({ agentId: agent.id, server: "ev", tool: "echo", arguments: { message: "over http" } });
    assert.deepEqual([echo.isError, text(echo)], [false, "Echo: over http"]);
    await factory.terminateAgent(agent.id);
  });

  it("fails the spawn naming the header when its environment variable is not set", async () => {
    factory.registerProfile({ name: "unset", role: "Remote", mcpServers: [{ name: "ev", url: `http://127.0.0.1:${port}/mcp`, headers: { "X-Token": "${env:AF_TEST_MCP_UNSET}" } }] });
    await assert.rejects(factory.spawnAgent({ profile: "unset" }), (error: { code?: string; message: string }) => {
      assert.equal(error.code, "AGENT_START_FAILED");
      assert.match(error.message, /mcpServers\.0\.headers\.X-Token: the environment variable AF_TEST_MCP_UNSET is not set on this node/);
      return true;
    });
  });

  it("fails the spawn when nothing answers at the url", async () => {
    factory.registerProfile({ name: "nowhere", role: "Remote", mcpServers: [{ name: "ev", url: `http://127.0.0.1:${await freePort()}/mcp`, startTimeoutMs: 2_000 }] });
    await assert.rejects(factory.spawnAgent({ profile: "nowhere" }), (error: { code?: string; message: string }) => {
      assert.equal(error.code, "AGENT_START_FAILED");
      assert.match(error.message, /MCP server 'ev' of agent agent_\w+ failed to start: /);
      return true;
    });
  });
});
