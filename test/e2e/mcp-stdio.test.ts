// Pins `agent-factory mcp`, the stdio MCP server for desktop clients: the official SDK's stdio clients (v2 on both protocol eras, v1) start the real command against a real `serve`, list the tools and run a crew's task through it; a server that is down or a refused key ends the command with exit code 1 and a message on stderr, with nothing but JSON-RPC ever on stdout.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { Client as V1Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport as V1StdioTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { BIN, cli, ENV, ROOT, startServe, type Server } from "./serve.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The stdio command's environment: the test's, without a key or URL from the developer's shell. */
const CHILD_ENV = Object.fromEntries(Object.entries(ENV).filter((e): e is [string, string] => e[1] !== undefined));

/** Runs `agent-factory mcp …` with stdin closed at once; resolves with its exit code and output. */
function runMcp(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(process.execPath, [BIN, "mcp", ...args], { cwd: ROOT, env: CHILD_ENV, timeout: 30_000 }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr });
    });
    child.stdin?.end();
  });
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function structured(result: Json): Json {
  assert.notEqual(result.isError, true, JSON.stringify(result.content));
  return result.structuredContent as Json;
}

describe("agent-factory mcp: stdio for desktop MCP clients", { timeout: 120_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), "af-mcp-"));
  let server: Server | undefined;
  let url = "";
  let operatorKey = "";
  let viewerKey = "";
  before(async () => {
    server = await startServe(["--data", dataDir], (s) => (server = s));
    url = server.url;
    const root = await cli(url, "--json", "keys", "create", "--name", "root", "--role", "admin");
    assert.equal(root.code, 0, root.stderr);
    const rootKey = (JSON.parse(root.stdout) as { secret: string }).secret;
    for (const [role, set] of [["operator", (k: string) => (operatorKey = k)], ["viewer", (k: string) => (viewerKey = k)]] as const) {
      const made = await cli(url, "--api-key", rootKey, "--json", "keys", "create", "--name", role, "--role", role);
      assert.equal(made.code, 0, made.stderr);
      set((JSON.parse(made.stdout) as { secret: string }).secret);
    }
  });
  after(async () => {
    if (server !== undefined && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill("SIGKILL");
      await server.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  for (const era of ["2025-11-25", "2026-07-28"] as const) {
    test(`v2 stdio client on ${era}: tools/list, assemble_crew, submit_task with waitMs, get_task — through the command`, async () => {
      const client = new Client({ name: "desktop", version: "1" }, era === "2026-07-28" ? { versionNegotiation: { mode: { pin: era } } } : {});
      const stderr: string[] = [];
      const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, "mcp", "--url", url, "--key", operatorKey], cwd: ROOT, env: CHILD_ENV, stderr: "pipe" });
      transport.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk.toString()));
      await client.connect(transport);
      try {
        assert.equal(client.getNegotiatedProtocolVersion(), era);
        assert.equal(client.getServerVersion()?.name, "agent-factory");
        const names = (await client.listTools()).tools.map((t) => t.name);
        for (const name of ["assemble_crew", "submit_task", "get_task", "list_agents"]) assert.ok(names.includes(name), `${name} missing from ${names.join(", ")}`);
        const crew = structured(await client.callTool({ name: "assemble_crew", arguments: { manifest: { name: `desk-${era}`, members: [{ profile: { name: "writer", role: "Writer" } }] } } }));
        assert.equal(crew.state, "ACTIVE");
        const task = structured(await client.callTool({ name: "submit_task", arguments: { crewId: crew.id, role: "Writer", input: "draft", waitMs: 20_000 } }));
        assert.deepEqual([task.state, task.agentId], ["SUCCEEDED", crew.agents[0].id]);
        assert.equal(structured(await client.callTool({ name: "get_task", arguments: { id: task.id } })).state, "SUCCEEDED");
        const refused = await client.callTool({ name: "submit_task", arguments: { input: 1 } });
        assert.deepEqual([refused.isError, (refused.structuredContent as Json).error.field], [true, "role"]);
      } finally {
        await client.close();
      }
      assert.equal(stderr.join(""), "", "nothing on stderr while all is well");
    });
  }

  test("v1 stdio client: a viewer key reads through the command, and spawn_agent is refused naming the role", async () => {
    const client = new V1Client({ name: "desktop-v1", version: "1" });
    await client.connect(new V1StdioTransport({ command: process.execPath, args: [BIN, "mcp", "--url", url, "--key", viewerKey], cwd: ROOT, env: CHILD_ENV, stderr: "ignore" }));
    try {
      const agents = structured(await client.callTool({ name: "list_agents", arguments: {} }));
      assert.ok(Array.isArray(agents.items));
      const refused = await client.callTool({ name: "spawn_agent", arguments: { config: { name: "x", role: "X" } } });
      assert.equal(refused.isError, true);
      assert.deepEqual(refused.content, [{ type: "text", text: "FORBIDDEN (HTTP 403): spawn_agent (spawnAgent) needs role 'operator', the key is 'viewer'" }]);
    } finally {
      await client.close();
    }
  });

  test("the key may come from AGENT_FACTORY_API_KEY", async () => {
    const client = new Client({ name: "desktop", version: "1" });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [BIN, "mcp", "--url", url], cwd: ROOT, env: { ...CHILD_ENV, AGENT_FACTORY_API_KEY: viewerKey }, stderr: "ignore" }));
    try {
      assert.ok(Array.isArray(structured(await client.callTool({ name: "list_crews", arguments: {} })).items));
    } finally {
      await client.close();
    }
  });

  test("the client closing stdin ends the command: exit 0, nothing on stdout", async () => {
    const started = Date.now();
    const run = await runMcp(["--url", url, "--key", operatorKey]);
    assert.deepEqual([run.code, run.stdout, run.stderr], [0, "", ""]);
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms to exit`);
  });

  test("the server going away mid-session: tool calls become tool errors naming the address, the command keeps serving", async () => {
    const otherDir = mkdtempSync(join(tmpdir(), "af-mcp-gone-"));
    let other: Server | undefined;
    try {
      other = await startServe(["--data", otherDir], (s) => (other = s));
      const client = new Client({ name: "desktop", version: "1" });
      await client.connect(new StdioClientTransport({ command: process.execPath, args: [BIN, "mcp", "--url", other.url], cwd: ROOT, env: CHILD_ENV, stderr: "ignore" }));
      try {
        assert.ok(Array.isArray(structured(await client.callTool({ name: "list_agents", arguments: {} })).items));
        other.child.kill("SIGKILL");
        await other.exited;
        for (let i = 0; i < 2; i++) {
          const gone = await client.callTool({ name: "list_agents", arguments: {} });
          assert.equal(gone.isError, true);
          assert.match((gone.content as Array<{ text: string }>)[0]?.text ?? "", new RegExp(`^cannot reach the factory at ${other.url.replace(/[.]/g, "\\.")}/mcp \\(.*ECONNREFUSED.*\\)`));
        }
      } finally {
        await client.close();
      }
    } finally {
      if (other !== undefined && other.child.exitCode === null && other.child.signalCode === null) {
        other.child.kill("SIGKILL");
        await other.exited;
      }
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  test("a refused key: exit 1, stderr says so, stdout stays empty", async () => {
    for (const args of [["--url", url, "--key", "afk_nope"], ["--url", url]]) {
      const run = await runMcp(args);
      assert.equal(run.code, 1, run.stderr);
      assert.equal(run.stdout, "");
      assert.equal(run.stderr, `agent-factory mcp: ${url}/mcp refused the key (401): give an operator key with --key, --api-key or AGENT_FACTORY_API_KEY\n`);
    }
  });

  test("a server that is down: exit 1 naming the address; a bad --url: exit 2", async () => {
    const port = await closedPort();
    const down = await runMcp(["--url", `http://127.0.0.1:${port}`, "--key", operatorKey]);
    assert.equal(down.code, 1, down.stderr);
    assert.equal(down.stdout, "");
    assert.match(down.stderr, new RegExp(`^agent-factory mcp: cannot reach the factory at http://127\\.0\\.0\\.1:${port}/mcp \\(.*ECONNREFUSED.*\\): is 'agent-factory serve' running there\\?\\n$`));
    const bad = await runMcp(["--url", "not a url"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--url must be a URL/);
  });
});
