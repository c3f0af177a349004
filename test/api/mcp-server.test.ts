// Pins /mcp, the factory as an MCP server: the official SDK clients (v2 on 2025-11-25 and on 2026-07-28, v1 on 2025-11-25) over real HTTP drive a crew from assembly to a finished task, and keys are held per tool to the roles and crews of the HTTP operations each tool calls.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { Client as V1Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as V1Transport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createApp } from "../../src/api/app.ts";
import { startServer, type RunningServer } from "../../src/api/server.ts";
import type { Factory } from "../../src/factory/factory.ts";
import type { HandlerContext } from "../../src/runtimes/function/function-handler.ts";
import { testFactory } from "../helpers.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ROOT = "mcp-root-key";
const TEAM = { name: "team", members: [{ profile: { name: "coder", role: "Coder" }, count: 2 }, { profile: { name: "reviewer", role: "Reviewer" } }] };

/** What the tests need of either SDK's client. */
interface McpClient {
  listTools(): Promise<{ tools: Array<{ name: string; description?: string | undefined; inputSchema: Json; annotations?: Json | undefined }> }>;
  callTool(params: { name: string; arguments?: Record<string, unknown> }): Promise<Json>;
  close(): Promise<void>;
}

type Flavour = "v2-2025-11-25" | "v2-2026-07-28" | "v1-2025-11-25";
const FLAVOURS: readonly Flavour[] = ["v2-2025-11-25", "v2-2026-07-28", "v1-2025-11-25"];

/** Connects the official client of `flavour` to `url` with `key`; returns it with the protocol version it negotiated. */
async function connect(url: string, flavour: Flavour, key?: string): Promise<{ client: McpClient; protocolVersion: string | undefined }> {
  const requestInit = { headers: key === undefined ? {} : { authorization: `Bearer ${key}` } };
  const endpoint = new URL("/mcp", url);
  if (flavour === "v1-2025-11-25") {
    const client = new V1Client({ name: "test-v1", version: "1" });
    await client.connect(new V1Transport(endpoint, { requestInit }));
    return { client: client as unknown as McpClient, protocolVersion: (client.transport as V1Transport).protocolVersion };
  }
  const client = new Client({ name: "test-v2", version: "1" }, flavour === "v2-2026-07-28" ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {});
  await client.connect(new StreamableHTTPClientTransport(endpoint, { requestInit }));
  return { client: client as unknown as McpClient, protocolVersion: client.getNegotiatedProtocolVersion() };
}

/** The one text block of a result, parsed when it is JSON. */
function textOf(result: Json): string {
  assert.equal(result.content.length, 1);
  assert.equal(result.content[0].type, "text");
  return result.content[0].text as string;
}

/** A successful result: its structuredContent, checked to be the same JSON as its text. */
function ok(result: Json): Json {
  assert.notEqual(result.isError, true, `tool error: ${JSON.stringify(result.content)}`);
  assert.deepEqual(JSON.parse(textOf(result)), result.structuredContent);
  return result.structuredContent as Json;
}

describe("/mcp: the factory as an MCP server", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let server: RunningServer;
  const keys: Record<"viewer" | "operator", string> = { viewer: "", operator: "" };
  before(async () => {
    ({ factory, close } = await testFactory());
    server = await startServer(factory, { port: 0, host: "127.0.0.1", apiKey: ROOT });
    keys.viewer = (await factory.createOperatorKey({ name: "mcp-viewer", role: "viewer" })).secret;
    keys.operator = (await factory.createOperatorKey({ name: "mcp-operator", role: "operator" })).secret;
  });
  after(async () => {
    await server.close({ force: true });
    await close();
  });

  for (const flavour of FLAVOURS) {
    it(`${flavour}: initializes on its protocol version and lists the tools with their input schemas`, async () => {
      const { client, protocolVersion } = await connect(server.url, flavour, keys.operator);
      try {
        assert.equal(protocolVersion, flavour.slice(3));
        const { tools } = await client.listTools();
        const byName = new Map(tools.map((t) => [t.name, t]));
        for (const name of ["assemble_crew", "submit_task", "get_task", "list_agents", "spawn_agent", "terminate_agent", "disband_crew", "broadcast", "get_crew_context", "set_crew_context", "get_wallet", "list_pools", "ask_role"]) {
          assert.ok(byName.has(name), `tools/list lacks ${name}`);
          assert.equal(byName.get(name)?.inputSchema.type, "object", name);
        }
        assert.deepEqual(byName.get("assemble_crew")?.inputSchema.required, ["manifest"]);
        assert.deepEqual(byName.get("get_task")?.inputSchema.required, ["id"]);
        const submit = byName.get("submit_task")?.inputSchema.properties as Json;
        for (const field of ["input", "role", "crewId", "priority", "idempotencyKey", "waitMs"]) assert.ok(field in submit, `submit_task lacks ${field}`);
        assert.equal(submit.waitMs.maximum, 600_000);
        assert.match(byName.get("spawn_agent")?.description ?? "", /Needs role 'operator'/);
        assert.match(byName.get("list_agents")?.description ?? "", /Needs role 'viewer'/);
        assert.deepEqual(byName.get("list_agents")?.annotations, { readOnlyHint: true, openWorldHint: false });
        assert.deepEqual(byName.get("disband_crew")?.annotations, { readOnlyHint: false, destructiveHint: true, openWorldHint: false });
        assert.deepEqual(byName.get("submit_task")?.annotations, { readOnlyHint: false, destructiveHint: false, openWorldHint: false });
      } finally {
        await client.close();
      }
    });

    it(`${flavour}: assemble_crew, then submit_task with waitMs returns the final task; get_task and list_agents agree`, async () => {
      const { client } = await connect(server.url, flavour, keys.operator);
      try {
        const crew = ok(await client.callTool({ name: "assemble_crew", arguments: { manifest: { ...TEAM, name: `team-${flavour}` } } }));
        assert.deepEqual([crew.state, crew.agents.length], ["ACTIVE", 3]);
        const task = ok(await client.callTool({ name: "submit_task", arguments: { crewId: crew.id, role: "Coder", input: { ask: "hello" }, waitMs: 10_000 } }));
        assert.deepEqual([task.state, task.crewId, task.role], ["SUCCEEDED", crew.id, "Coder"]);
        const coders = new Set(crew.agents.filter((a: Json) => a.role === "Coder").map((a: Json) => a.id));
        assert.ok(coders.has(task.agentId), `ran on ${task.agentId}, not a Coder of the crew`);
        // The same JSON as the HTTP API gives for the task.
        const http = await fetch(`${server.url}/v1/tasks/${task.id}`, { headers: { authorization: `Bearer ${ROOT}` } });
        const read = ok(await client.callTool({ name: "get_task", arguments: { id: task.id } }));
        assert.deepEqual(read, await http.json());
        const agents = ok(await client.callTool({ name: "list_agents", arguments: { crewId: crew.id } }));
        assert.deepEqual(agents.items.map((a: Json) => a.id).sort(), crew.agents.map((a: Json) => a.id).sort());
        const asked = ok(await client.callTool({ name: "ask_role", arguments: { crewId: crew.id, role: "Reviewer", input: "review this" } }));
        assert.deepEqual([asked.state, asked.agentId], ["SUCCEEDED", crew.agents.find((a: Json) => a.role === "Reviewer").id]);
        const disbanded = ok(await client.callTool({ name: "disband_crew", arguments: { id: crew.id } }));
        assert.equal(disbanded.id, crew.id);
      } finally {
        await client.close();
      }
    });
  }

  it("the other operations: spawn, wallet, crew context, broadcast, pools, terminate — each the HTTP API's JSON", async () => {
    const { client } = await connect(server.url, "v2-2026-07-28", keys.operator);
    try {
      const agent = ok(await client.callTool({ name: "spawn_agent", arguments: { config: { name: "solo", role: "Solo" } } }));
      assert.equal(agent.state, "READY");
      const wallet = ok(await client.callTool({ name: "get_wallet", arguments: { address: agent.walletAddress } }));
      assert.deepEqual([wallet.address, typeof wallet.balance], [agent.walletAddress, "number"]);
      const crew = ok(await client.callTool({ name: "assemble_crew", arguments: { manifest: { ...TEAM, name: "context-team", budget: 25 } } }));
      assert.deepEqual(ok(await client.callTool({ name: "set_crew_context", arguments: { crewId: crew.id, key: "plan", value: [1, 2] } })), { key: "plan", value: [1, 2] });
      assert.deepEqual(ok(await client.callTool({ name: "get_crew_context", arguments: { crewId: crew.id, key: "plan" } })), { key: "plan", value: [1, 2] });
      assert.deepEqual(ok(await client.callTool({ name: "get_crew_context", arguments: { crewId: crew.id } })), { context: { plan: [1, 2] } });
      assert.equal(ok(await client.callTool({ name: "broadcast", arguments: { crewId: crew.id, signal: "MISSION_START" } })).delivered, 3);
      const report = ok(await client.callTool({ name: "get_ledger_report", arguments: { by: "crew", kind: "grant" } }));
      const http = await fetch(`${server.url}/v1/ledger/report?by=crew&kind=grant`, { headers: { authorization: `Bearer ${ROOT}` } });
      assert.deepEqual(report, await http.json());
      assert.ok(JSON.stringify(report.rows ?? report).includes(crew.id), JSON.stringify(report));
      const pools = ok(await client.callTool({ name: "list_pools", arguments: {} }));
      assert.ok(pools.items.some((p: Json) => p.profile === "solo"));
      const terminated = ok(await client.callTool({ name: "terminate_agent", arguments: { id: agent.id } }));
      assert.equal(terminated.id, agent.id);
      const again = await client.callTool({ name: "terminate_agent", arguments: { id: agent.id } });
      assert.equal(again.isError, true);
      assert.equal(again.structuredContent.error.code, "ILLEGAL_TRANSITION");
    } finally {
      await client.close();
    }
  });

  it("submit_task with waitMs reports progress while the task runs; a wait shorter than the task returns it unfinished", async () => {
    const client = new Client({ name: "test-v2", version: "1" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
    await client.connect(new StreamableHTTPClientTransport(new URL("/mcp", server.url), { requestInit: { headers: { authorization: `Bearer ${keys.operator}` } } }));
    try {
      const sleeper = { config: { name: "sleeper", role: "Sleeper", runtime: { kind: "function", handler: "sleep" } } };
      assert.equal(ok(await client.callTool({ name: "spawn_agent", arguments: sleeper })).state, "READY");
      const progress: Array<{ progress: number; total?: number | undefined; message?: string | undefined }> = [];
      const done = ok(await client.callTool({ name: "submit_task", arguments: { role: "Sleeper", input: { ms: 2_500 }, waitMs: 20_000 } }, { onprogress: (p) => progress.push(p) }));
      assert.deepEqual([done.state, done.result], ["SUCCEEDED", { ms: 2_500 }]);
      assert.ok(progress.length >= 1, "no progress while waiting");
      assert.ok(progress.every((p) => p.total === 20_000 && /^task task_\w+ is (QUEUED|ASSIGNED|RUNNING)$/.test(p.message ?? "")), JSON.stringify(progress));
      const early = ok(await client.callTool({ name: "submit_task", arguments: { role: "Sleeper", input: { ms: 3_000 }, waitMs: 300 } }));
      assert.ok(["QUEUED", "ASSIGNED", "RUNNING"].includes(early.state), early.state);
      const cancelled = ok(await client.callTool({ name: "cancel_task", arguments: { id: early.id } }));
      assert.equal(cancelled.state, "CANCELLED");
    } finally {
      await client.close();
    }
  });

  it("a viewer key reads (list_agents, get_task) but spawn_agent and submit_task are tool errors naming the role, recorded as security.denied", async () => {
    const before = (await factory.listAgents({})).length;
    for (const flavour of ["v2-2026-07-28", "v1-2025-11-25"] as const) {
      const { client } = await connect(server.url, flavour, keys.viewer);
      try {
        assert.equal(ok(await client.callTool({ name: "list_agents", arguments: {} })).items.length, before);
        const missing = await client.callTool({ name: "get_task", arguments: { id: "task_nope" } });
        assert.deepEqual([missing.isError, missing.structuredContent.error.code], [true, "TASK_NOT_FOUND"]);
        for (const [name, args, operation] of [
          ["spawn_agent", { config: { name: "sneaky", role: "Sneaky" } }, "spawnAgent"],
          ["submit_task", { role: "Coder", input: 1 }, "submitTask"],
        ] as const) {
          const refused = await client.callTool({ name, arguments: args });
          assert.equal(refused.isError, true);
          assert.equal(textOf(refused), `FORBIDDEN (HTTP 403): ${name} (${operation}) needs role 'operator', the key is 'viewer'`);
          assert.deepEqual(refused.structuredContent.error.details, { tool: name, operation, required: "operator", role: "viewer" });
        }
      } finally {
        await client.close();
      }
    }
    assert.equal((await factory.listAgents({})).length, before, "a refused spawn spawned nothing");
    assert.equal((await factory.listTasks({})).filter((t) => t.input === 1).length, 0, "a refused submit queued nothing");
    const denied = (await factory.listEvents({ types: ["security.denied"] })).map((e) => e.data as Json).filter((d) => d.path === "/mcp" && d.role === "viewer");
    assert.deepEqual(denied.map((d) => [d.code, d.operation, d.method]).sort(), [
      ["FORBIDDEN", "spawnAgent", "POST"],
      ["FORBIDDEN", "spawnAgent", "POST"],
      ["FORBIDDEN", "submitTask", "POST"],
      ["FORBIDDEN", "submitTask", "POST"],
    ]);
    assert.match(denied[0]?.reason as string, /^MCP tool (spawn_agent|submit_task): needs role 'operator', the key is 'viewer'$/);
    assert.equal(JSON.stringify(denied).includes(keys.viewer), false);
  });

  it("a crew-limited key sees and touches only its crew's agents and tasks", async () => {
    const admin = await connect(server.url, "v2-2025-11-25", ROOT);
    const mine = ok(await admin.client.callTool({ name: "assemble_crew", arguments: { manifest: { ...TEAM, name: "mine" } } }));
    const theirs = ok(await admin.client.callTool({ name: "assemble_crew", arguments: { manifest: { ...TEAM, name: "theirs" } } }));
    const theirTask = ok(await admin.client.callTool({ name: "submit_task", arguments: { crewId: theirs.id, role: "Coder", input: "secret", waitMs: 10_000 } }));
    await admin.client.close();
    const limited = (await factory.createOperatorKey({ name: "mine-only", role: "operator", crews: [mine.id] })).secret;
    const { client } = await connect(server.url, "v2-2026-07-28", limited);
    try {
      const agents = ok(await client.callTool({ name: "list_agents", arguments: {} }));
      assert.deepEqual(agents.items.map((a: Json) => a.id).sort(), mine.agents.map((a: Json) => a.id).sort());
      const read = await client.callTool({ name: "get_task", arguments: { id: theirTask.id } });
      assert.deepEqual([read.isError, read.structuredContent.error.code], [true, "CROSS_CREW"]);
      assert.equal(JSON.stringify(read).includes("secret"), false);
      const theirAgent = await client.callTool({ name: "get_agent", arguments: { id: theirs.agents[0].id } });
      assert.deepEqual([theirAgent.isError, theirAgent.structuredContent.error.code], [true, "CROSS_CREW"]);
      const submit = await client.callTool({ name: "submit_task", arguments: { crewId: theirs.id, role: "Coder", input: 2 } });
      assert.deepEqual([submit.isError, submit.structuredContent.error.code], [true, "CROSS_CREW"]);
      const tasks = ok(await client.callTool({ name: "list_tasks", arguments: {} }));
      assert.equal(tasks.items.some((t: Json) => t.crewId !== mine.id), false);
      const own = ok(await client.callTool({ name: "submit_task", arguments: { crewId: mine.id, role: "Coder", input: 3, waitMs: 10_000 } }));
      assert.equal(own.state, "SUCCEEDED");
    } finally {
      await client.close();
    }
  });

  it("no key, or an unknown one, when keys are set → 401 UNAUTHORIZED before any MCP; recorded as security.denied", async () => {
    const init = { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }) };
    for (const authorization of [undefined, "Bearer afk_nope"]) {
      const response = await fetch(`${server.url}/mcp`, { ...init, headers: { ...init.headers, ...(authorization === undefined ? {} : { authorization }) } });
      assert.equal(response.status, 401);
      assert.equal(((await response.json()) as Json).error.code, "UNAUTHORIZED");
    }
    await assert.rejects(connect(server.url, "v2-2025-11-25"));
    await assert.rejects(connect(server.url, "v1-2025-11-25", "afk_wrong"));
    const denied = (await factory.listEvents({ types: ["security.denied"] })).map((e) => e.data as Json).filter((d) => d.path === "/mcp" && d.code === "UNAUTHORIZED");
    assert.ok(denied.some((d) => d.reason === "no key given"));
    assert.ok(denied.some((d) => d.reason === "unknown or revoked key"));
    // Stateless serving: no session to open a stream on or to delete.
    for (const method of ["GET", "DELETE"]) assert.equal((await fetch(`${server.url}/mcp`, { method, headers: { authorization: `Bearer ${keys.operator}`, accept: "text/event-stream" } })).status, 405, method);
  });

  it("bad arguments are tool errors naming the field; an unknown tool is a JSON-RPC error; the server keeps serving", async () => {
    const { client } = await connect(server.url, "v2-2026-07-28", keys.operator);
    try {
      const wrongType = await client.callTool({ name: "submit_task", arguments: { role: "Coder", priority: "high" } });
      assert.equal(wrongType.isError, true);
      assert.match(textOf(wrongType), /submit_task: priority: /);
      // Cross-field rules are the route's: its 400 names the field.
      const nobody = await client.callTool({ name: "submit_task", arguments: { input: 1 } });
      assert.deepEqual([nobody.isError, nobody.structuredContent.error.code, nobody.structuredContent.error.field], [true, "VALIDATION_FAILED", "role"]);
      const noId = await client.callTool({ name: "get_task", arguments: {} });
      assert.equal(noId.isError, true);
      assert.match(textOf(noId), /get_task: id: /);
      const extra = await client.callTool({ name: "list_agents", arguments: { colour: "red" } });
      assert.equal(extra.isError, true);
      assert.match(textOf(extra), /colour/);
      const badManifest = await client.callTool({ name: "assemble_crew", arguments: { manifest: { name: "t", members: [{ profile: "c", count: "many" }] } } });
      assert.equal(badManifest.isError, true);
      assert.match(textOf(badManifest), /manifest\.members\[0\]\.count|manifest\.members\.0\.count/);
      const ghost = await client.callTool({ name: "assemble_crew", arguments: { manifest: { name: "t", members: [{ profile: "ghost" }] } } });
      assert.deepEqual([ghost.isError, ghost.structuredContent.error.code, ghost.structuredContent.error.field], [true, "PROFILE_NOT_FOUND", "members.0.profile"]);
      const sneaky = await client.callTool({ name: "get_agent", arguments: { id: "../crews" } });
      assert.deepEqual([sneaky.isError, sneaky.structuredContent.error.code], [true, "AGENT_NOT_FOUND"]);
      await assert.rejects(client.callTool({ name: "no_such_tool", arguments: {} }), /no_such_tool/);
      assert.equal(ok(await client.callTool({ name: "list_pools", arguments: {} })).items.length > 0, true);
    } finally {
      await client.close();
    }
  });
});

describe("/mcp with an agent's token", () => {
  it("an agent reaches only the agent-facing tools, in its own crew; other tools are refused naming why, recorded as security.denied", async () => {
    const { factory, close } = await testFactory({ handlers: { whoami: (_input: unknown, ctx: HandlerContext) => ctx.token() } });
    const server = await startServer(factory, { port: 0, host: "127.0.0.1", apiKey: ROOT });
    try {
      const admin = await connect(server.url, "v2-2026-07-28", ROOT);
      const manifest = { name: "tokened", members: [{ config: { name: "holder", role: "Holder", runtime: { kind: "function", handler: "whoami" } } }] };
      const crew = ok(await admin.client.callTool({ name: "assemble_crew", arguments: { manifest } }));
      const other = ok(await admin.client.callTool({ name: "assemble_crew", arguments: { manifest: { ...manifest, name: "other" } } }));
      const minted = ok(await admin.client.callTool({ name: "submit_task", arguments: { crewId: crew.id, role: "Holder", waitMs: 10_000 } }));
      const foreign = ok(await admin.client.callTool({ name: "submit_task", arguments: { crewId: other.id, role: "Holder", waitMs: 10_000 } }));
      await admin.client.close();
      assert.equal(typeof minted.result, "string");
      const { client } = await connect(server.url, "v2-2025-11-25", minted.result as string);
      try {
        assert.equal(ok(await client.callTool({ name: "get_task", arguments: { id: minted.id } })).id, minted.id);
        assert.equal(ok(await client.callTool({ name: "set_crew_context", arguments: { crewId: crew.id, key: "k", value: 1 } })).value, 1);
        const theirs = await client.callTool({ name: "get_task", arguments: { id: foreign.id } });
        assert.deepEqual([theirs.isError, theirs.structuredContent.error.code], [true, "CROSS_CREW"]);
        const listing = await client.callTool({ name: "list_agents", arguments: {} });
        assert.equal(listing.isError, true);
        assert.match(textOf(listing), /^FORBIDDEN \(HTTP 403\): list_agents \(listAgents\): an agent's token may call only the agent-facing operations/);
      } finally {
        await client.close();
      }
      const denied = (await factory.listEvents({ types: ["security.denied"] })).map((e) => e.data as Json).filter((d) => d.path === "/mcp");
      assert.deepEqual(
        denied.map((d) => [d.operation, (d.keyId as string).startsWith("agent:")]),
        [["listAgents", true]],
      );
    } finally {
      await server.close({ force: true });
      await close();
    }
  });
});

describe("/mcp from a browser page", () => {
  it("an allowed site's MCP client passes the CORS preflight with the MCP headers; another site is refused 403 FORBIDDEN_ORIGIN", async () => {
    const { factory, close } = await testFactory();
    try {
      const app = createApp(factory, { corsOrigins: ["https://inspector.example"] });
      const preflight = await app.request("/mcp", {
        method: "OPTIONS",
        headers: { origin: "https://inspector.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, mcp-protocol-version, mcp-method, mcp-name" },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get("access-control-allow-origin"), "https://inspector.example");
      const allowed = (preflight.headers.get("access-control-allow-headers") ?? "").split(",").map((h) => h.trim());
      for (const header of ["authorization", "content-type", "mcp-protocol-version", "mcp-method", "mcp-name"]) assert.ok(allowed.includes(header), `${header} not in ${allowed.join(",")}`);
      const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "page", version: "1" } } });
      const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
      const fromPage = await app.request("/mcp", { method: "POST", headers: { ...headers, origin: "https://inspector.example" }, body });
      assert.equal(fromPage.status, 200);
      assert.equal(fromPage.headers.get("access-control-allow-origin"), "https://inspector.example");
      const elsewhere = await app.request("/mcp", { method: "POST", headers: { ...headers, origin: "https://evil.example" }, body });
      assert.deepEqual([elsewhere.status, ((await elsewhere.json()) as Json).error.code], [403, "FORBIDDEN_ORIGIN"]);
    } finally {
      await close();
    }
  });
});
