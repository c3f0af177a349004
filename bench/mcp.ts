/**
 * Latency of one MCP tool call through the factory's executor (allow-list, timeout, `tool.called`
 * event; the server in its agent's bubblewrap sandbox) against a direct call with the official SDK
 * client to the same server run as a plain child process: what the executor adds.
 *
 *   node --conditions=agent-factory-source bench/mcp.ts [--calls 2000]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { createFactory } from "../src/factory/create-factory.ts";
import { Samples } from "../src/core/samples.ts";

const { values } = parseArgs({ options: { calls: { type: "string", default: "2000" } } });
const calls = Number(values.calls);
const NODE_MODULES = resolve(import.meta.dirname, "../node_modules");
const SERVER = "@modelcontextprotocol/server-memory/dist/index.js";
/** The node the sandboxed server runs on (the system's, as in the sandbox), so both sides run the same server on the same runtime. */
const SYSTEM_NODE = "/usr/bin/node";
const dir = mkdtempSync(join(tmpdir(), "af-bench-mcp-"));

async function measure(call: () => Promise<unknown>): Promise<Samples> {
  for (let i = 0; i < 100; i++) await call(); // warm-up
  const samples = new Samples(calls);
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await call();
    samples.add(performance.now() - t0);
  }
  return samples;
}

const line = (name: string, s: Samples): string => `${name.padEnd(40)} p50 ${s.quantile(0.5).toFixed(3)} ms  p99 ${s.quantile(0.99).toFixed(3)} ms  (${s.count} calls)`;

try {
  const client = new Client({ name: "bench", version: "1" });
  await client.connect(new StdioClientTransport({ command: SYSTEM_NODE, args: [join(NODE_MODULES, SERVER)], env: { MEMORY_FILE_PATH: join(dir, "direct.jsonl") } }));
  const direct = await measure(() => client.callTool({ name: "read_graph", arguments: {} }));
  await client.close();

  const factory = await createFactory({ dataDir: join(dir, "data"), agentFiles: [NODE_MODULES], logger: { info() {}, warn() {}, error() {} } });
  factory.registerProfile({ name: "bench", role: "Bench", mcpServers: [{ name: "memory", command: ["node", `/agent/node_modules/${SERVER}`], files: [NODE_MODULES], env: { MEMORY_FILE_PATH: "/workspace/m.jsonl" } }] });
  const t0 = performance.now();
  const agent = await factory.spawnAgent({ profile: "bench" });
  const spawnMs = performance.now() - t0;
  const executor = await measure(() => factory.callTool({ agentId: agent.id, server: "memory", tool: "read_graph", arguments: {} }));
  await factory.close({ force: true });

  console.log(`servers on ${SYSTEM_NODE}, the factory on node ${process.version}; server-memory read_graph (empty graph), sequential calls`);
  console.log(line("direct SDK client (plain child process)", direct));
  console.log(line("factory executor (bubblewrap sandbox)", executor));
  console.log(`added by the executor: p50 ${(executor.quantile(0.5) - direct.quantile(0.5)).toFixed(3)} ms; spawn of an agent with that server: ${spawnMs.toFixed(0)} ms`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
