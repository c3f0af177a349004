// Pins the tool registry and the executor over HTTP: GET /v1/tools and POST /v1/tools/call, per crew, with real MCP servers from npm.
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApp } from "../../src/api/app.ts";
import type { Factory } from "../../src/factory/factory.ts";
import type { HandlerContext } from "../../src/runtimes/function/function-handler.ts";
import { testFactory } from "../helpers.ts";

const NODE_MODULES = resolve(import.meta.dirname, "../../node_modules");
const ROOT = "root-key-for-tools-tests";
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(app: OpenAPIHono, path: string, method = "GET", body?: unknown, key = ROOT): Promise<{ status: number; body: Json }> {
  const res = await app.request(path, { method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, body: (await res.json()) as Json };
}

describe("the tool registry and executor over HTTP", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let app: OpenAPIHono;
  const crews: Record<"a" | "b", { crew: string; agent: string }> = { a: { crew: "", agent: "" }, b: { crew: "", agent: "" } };
  let keyA: string;
  let viewerA: string;

  before(async () => {
    ({ factory, close } = await testFactory({ agentFiles: [NODE_MODULES], handlers: { whoami: (_input: unknown, ctx: HandlerContext) => ctx.token() } }));
    factory.registerProfile({ name: "tokener", role: "Tokener", runtime: { kind: "function", handler: "whoami" } });
    app = createApp(factory, { apiKey: ROOT });
    const profile = {
      name: "keeper",
      role: "Keeper",
      mcpServers: [{ name: "memory", command: ["node", "/agent/node_modules/@modelcontextprotocol/server-memory/dist/index.js"], files: [NODE_MODULES], env: { MEMORY_FILE_PATH: "/workspace/memory.jsonl" } }],
      tools: { allow: ["memory.read_graph", "memory.create_entities", "memory.search_nodes"] },
    };
    assert.equal((await call(app, "/v1/profiles", "POST", profile)).status, 201);
    for (const side of ["a", "b"] as const) {
      const assembled = await call(app, "/v1/crews/assemble", "POST", { manifest: { name: `crew-${side}`, members: [{ profile: "keeper" }, { profile: "tokener" }] } });
      assert.equal(assembled.status, 201, JSON.stringify(assembled.body));
      crews[side] = { crew: assembled.body.id, agent: assembled.body.agents[0].id };
    }
    keyA = (await factory.createOperatorKey({ name: "a-op", role: "operator", crews: [crews.a.crew] })).secret;
    viewerA = (await factory.createOperatorKey({ name: "a-view", role: "viewer", crews: [crews.a.crew] })).secret;
  });
  after(() => close());

  it("lists every agent's allowed tools with their schemas, and a crew-limited key sees only its crew's", async () => {
    const all = await call(app, "/v1/tools");
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.items.map((t: Json) => `${t.crewId === crews.a.crew ? "a" : "b"}:${t.name}`).sort(), [
      "a:memory.create_entities", "a:memory.read_graph", "a:memory.search_nodes", "b:memory.create_entities", "b:memory.read_graph", "b:memory.search_nodes",
    ]);
    const one = all.body.items.find((t: Json) => t.name === "memory.search_nodes" && t.agentId === crews.a.agent);
    assert.deepEqual([one.server, one.tool, one.inputSchema.type, one.inputSchema.required], ["memory", "search_nodes", "object", ["query"]]);
    const limited = await call(app, "/v1/tools", "GET", undefined, viewerA);
    assert.deepEqual([...new Set(limited.body.items.map((t: Json) => t.crewId))], [crews.a.crew]);
    const filtered = await call(app, `/v1/tools?agentId=${crews.b.agent}&server=memory`);
    assert.deepEqual([...new Set(filtered.body.items.map((t: Json) => t.agentId))], [crews.b.agent]);
    const other = await call(app, `/v1/tools?crewId=${crews.b.crew}`, "GET", undefined, viewerA);
    assert.deepEqual([other.status, other.body.error.code], [403, "CROSS_CREW"]);
    // A filter naming no agent or crew is a 404 naming it, not an empty list.
    const nobody = await call(app, "/v1/tools?agentId=agent_nope");
    assert.deepEqual([nobody.status, nobody.body.error.code], [404, "AGENT_NOT_FOUND"]);
    const nocrew = await call(app, "/v1/tools?crewId=crew_nope");
    assert.deepEqual([nocrew.status, nocrew.body.error.code], [404, "CREW_NOT_FOUND"]);
  });

  it("calls a tool with the agent's rights: one crew's memory graph is invisible to the other's", async () => {
    const created = await call(app, "/v1/tools/call", "POST", { agentId: crews.a.agent, server: "memory", tool: "create_entities", arguments: { entities: [{ name: "Plan", entityType: "doc", observations: ["ship on friday"] }] } }, keyA);
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal(created.body.isError, false);
    const graphA = await call(app, "/v1/tools/call", "POST", { agentId: crews.a.agent, server: "memory", tool: "read_graph", arguments: {} });
    const graphB = await call(app, "/v1/tools/call", "POST", { agentId: crews.b.agent, server: "memory", tool: "read_graph", arguments: {} });
    assert.deepEqual(graphA.body.structuredContent.entities.map((e: Json) => e.name), ["Plan"]);
    assert.deepEqual(graphB.body.structuredContent, { entities: [], relations: [] });
  });

  it("refuses a crew-limited key calling another crew's agent's tool with 403 CROSS_CREW, and a viewer with 403 FORBIDDEN", async () => {
    const cross = await call(app, "/v1/tools/call", "POST", { agentId: crews.b.agent, server: "memory", tool: "read_graph", arguments: {} }, keyA);
    assert.deepEqual([cross.status, cross.body.error.code], [403, "CROSS_CREW"]);
    const viewer = await call(app, "/v1/tools/call", "POST", { agentId: crews.a.agent, server: "memory", tool: "read_graph", arguments: {} }, viewerA);
    assert.deepEqual([viewer.status, viewer.body.error.code], [403, "FORBIDDEN"]);
  });

  it("an agent's token lists and calls its own crew's agents' tools, and gets 403 CROSS_CREW for another crew's", async () => {
    const task = await factory.waitForTask((await factory.submitTask({ role: "Tokener", crewId: crews.a.crew, input: null })).id, 5_000);
    const token = task.result as string;
    const listed = await call(app, "/v1/tools", "GET", undefined, token);
    assert.equal(listed.status, 200);
    assert.deepEqual([...new Set(listed.body.items.map((t: Json) => t.agentId))], [crews.a.agent]);
    const own = await call(app, "/v1/tools/call", "POST", { agentId: crews.a.agent, server: "memory", tool: "search_nodes", arguments: { query: "nothing" } }, token);
    assert.deepEqual([own.status, own.body.isError], [200, false]);
    const other = await call(app, "/v1/tools/call", "POST", { agentId: crews.b.agent, server: "memory", tool: "read_graph", arguments: {} }, token);
    assert.deepEqual([other.status, other.body.error.code], [403, "CROSS_CREW"]);
  });

  it("refuses a tool outside the allow-list with 403 FORBIDDEN naming the tool, and bad input with 400/404 naming the field", async () => {
    const denied = await call(app, "/v1/tools/call", "POST", { agentId: crews.a.agent, server: "memory", tool: "delete_entities", arguments: { entityNames: ["Plan"] } });
    assert.deepEqual([denied.status, denied.body.error.code, denied.body.error.field], [403, "FORBIDDEN", "tool"]);
    const noAgent = await call(app, "/v1/tools/call", "POST", { server: "memory", tool: "read_graph" });
    assert.deepEqual([noAgent.status, noAgent.body.error.code, noAgent.body.error.field], [400, "VALIDATION_FAILED", "agentId"]);
    const badArgs = await call(app, "/v1/tools/call", "POST", { agentId: crews.a.agent, server: "memory", tool: "read_graph", arguments: "all" });
    assert.deepEqual([badArgs.status, badArgs.body.error.code, badArgs.body.error.field], [400, "VALIDATION_FAILED", "arguments"]);
    const extra = await call(app, "/v1/tools/call", "POST", { agentId: crews.a.agent, server: "memory", tool: "read_graph", args: {} });
    assert.deepEqual([extra.status, extra.body.error.code], [400, "VALIDATION_FAILED"]);
    const noServer = await call(app, "/v1/tools/call", "POST", { agentId: crews.a.agent, server: "fs", tool: "read_file", arguments: {} });
    assert.deepEqual([noServer.status, noServer.body.error.code, noServer.body.error.field], [404, "TOOL_NOT_FOUND", "server"]);
    const noAgentThere = await call(app, "/v1/tools/call", "POST", { agentId: "agent_0000000000000000", server: "memory", tool: "read_graph", arguments: {} });
    assert.deepEqual([noAgentThere.status, noAgentThere.body.error.code], [404, "AGENT_NOT_FOUND"]);
    // Malformed arguments reach the server, which refuses them: a tool error, 200 with isError.
    const malformed = await call(app, "/v1/tools/call", "POST", { agentId: crews.a.agent, server: "memory", tool: "search_nodes", arguments: { query: 42 } });
    assert.deepEqual([malformed.status, malformed.body.isError], [200, true]);
  });
});
