// Pins MCP tools in a cluster: an agent's servers run on the node that runs it, and a tool listing by agent or a tool call made at another node is forwarded there and answered by it.
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { after, describe, it } from "node:test";
import { PG_SKIP } from "../adapters/postgres-test-schema.ts";
import { REDIS_SKIP } from "../adapters/redis-test-server.ts";
import { until } from "../helpers.ts";
import { clusterRun } from "./cluster-run.ts";

const T = { timeout: 120_000, skip: PG_SKIP || REDIS_SKIP };
const NODE_MODULES = resolve(import.meta.dirname, "../../node_modules");

async function call<T>(url: string, method = "GET", body?: unknown): Promise<{ status: number; body: T; node: string | null }> {
  const res = await fetch(url, { method, ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }) });
  return { status: res.status, body: (await res.json()) as T, node: res.headers.get("x-agent-factory-node") };
}

describe("MCP tools on two nodes", T, () => {
  const run = clusterRun();
  after(() => run.close());

  it("lists and calls another node's agent's tools through any node", async () => {
    const [n1, n2] = [await run.node("n1", ["--agent-files", NODE_MODULES]), await run.node("n2", ["--agent-files", NODE_MODULES])];
    await until(async () => (await call<{ items: Array<{ alive: boolean }> }>(`${n1.url}/v1/nodes`)).body.items.filter((n) => n.alive).length === 2, "two nodes alive", 10_000);
    const profile = {
      name: "keeper",
      role: "Keeper",
      pool: { spawnStrategy: "manual" },
      mcpServers: [{ name: "memory", command: ["node", "/agent/node_modules/@modelcontextprotocol/server-memory/dist/index.js"], files: [NODE_MODULES], env: { MEMORY_FILE_PATH: "/workspace/m.jsonl" } }],
    };
    assert.equal((await call(`${n2.url}/v1/profiles`, "POST", profile)).status, 201);
    const agent = await call<{ id: string; nodeId: string }>(`${n2.url}/v1/agents`, "POST", { profile: "keeper" });
    assert.deepEqual([agent.status, agent.body.nodeId], [201, "n2"]);

    const listed = await call<{ items: Array<{ name: string; agentId: string }> }>(`${n1.url}/v1/tools?agentId=${agent.body.id}`);
    assert.equal(listed.status, 200);
    assert.equal(listed.node, "n2");
    assert.ok(listed.body.items.some((t) => t.name === "memory.read_graph" && t.agentId === agent.body.id));
    // Unfiltered, a node lists its own agents' tools: n1 runs none.
    assert.deepEqual((await call<{ items: unknown[] }>(`${n1.url}/v1/tools`)).body.items, []);

    const created = await call<{ isError: boolean }>(`${n1.url}/v1/tools/call`, "POST", { agentId: agent.body.id, server: "memory", tool: "create_entities", arguments: { entities: [{ name: "n2-note", entityType: "note", observations: ["made through n1"] }] } });
    assert.deepEqual([created.status, created.node, created.body.isError], [200, "n2", false]);
    const graph = await call<{ structuredContent: { entities: Array<{ name: string }> } }>(`${n2.url}/v1/tools/call`, "POST", { agentId: agent.body.id, server: "memory", tool: "read_graph", arguments: {} });
    assert.deepEqual(graph.body.structuredContent.entities.map((e) => e.name), ["n2-note"]);
  });
});
