/**
 * What `/mcp` costs over the HTTP API it calls: the same read (a task by id) as `GET
 * /v1/tasks/{id}` with fetch, and as the `get_task` tool through the official MCP clients — v2 on
 * 2026-07-28 (one stateless POST per call), v2 on 2025-11-25 and v1 (the stateless 2025 serving:
 * a fresh server instance per request, too) — one call at a time over loopback, with a key.
 * Writes bench/results/mcp-server.json. Not part of `npm run bench` (a side measurement).
 *
 *   node --conditions=agent-factory-source bench/mcp-server.ts [--calls 300]
 */
import { writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { Client as V1Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as V1Transport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startServer } from "../src/api/server.ts";
import { createFactory } from "../src/index.ts";
import { withTempDir } from "./spawn.ts";
import { summarize, type Summary } from "./stats.ts";

const { values } = parseArgs({ options: { calls: { type: "string", default: "300" } } });
const CALLS = Number(values.calls);
const KEY = "bench-mcp-key";

/** `calls` sequential runs of `once` after a warm-up of a tenth as many; milliseconds each. */
async function time(once: () => Promise<void>): Promise<Summary> {
  for (let i = 0; i < Math.max(10, CALLS / 10); i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const started = performance.now();
    await once();
    samples.push(performance.now() - started);
  }
  return summarize(samples);
}

await withTempDir(async (dir) => {
  const factory = await createFactory({ dataDir: dir, logger: { info: () => {}, warn: () => {}, error: () => {} } });
  const server = await startServer(factory, { port: 0, host: "127.0.0.1", apiKey: KEY });
  try {
    factory.registerProfile({ name: "bench-echo", role: "Echo", runtime: { kind: "function", handler: "echo" } });
    await factory.spawnAgent({ profile: "bench-echo" });
    const { task } = await factory.submit({ role: "Echo", input: "x" });
    await factory.waitForTask(task.id, 5_000);
    const headers = { authorization: `Bearer ${KEY}` };
    const endpoint = new URL("/mcp", server.url);
    const results: Record<string, Summary> = {};

    results["HTTP GET /v1/tasks/{id} (fetch)"] = await time(async () => {
      const response = await fetch(`${server.url}/v1/tasks/${task.id}`, { headers });
      if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
      await response.json();
    });
    for (const [label, client] of [
      ["MCP get_task, v2 client, 2026-07-28", new Client({ name: "bench", version: "1" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } })],
      ["MCP get_task, v2 client, 2025-11-25", new Client({ name: "bench", version: "1" })],
    ] as const) {
      await client.connect(new StreamableHTTPClientTransport(endpoint, { requestInit: { headers } }));
      results[label] = await time(async () => {
        const result = await client.callTool({ name: "get_task", arguments: { id: task.id } });
        if (result.isError === true) throw new Error(JSON.stringify(result.content));
      });
      await client.close();
    }
    const v1 = new V1Client({ name: "bench", version: "1" });
    await v1.connect(new V1Transport(endpoint, { requestInit: { headers } }));
    results["MCP get_task, v1 client (sdk 1.32), 2025-11-25"] = await time(async () => {
      const result = await v1.callTool({ name: "get_task", arguments: { id: task.id } });
      if (result.isError === true) throw new Error(JSON.stringify(result.content));
    });
    await v1.close();

    const base = results["HTTP GET /v1/tasks/{id} (fetch)"]?.p50 ?? Number.NaN;
    for (const [label, s] of Object.entries(results)) {
      console.log(`${label.padEnd(50)} p50 ${s.p50.toFixed(2)} ms  p99 ${s.p99.toFixed(2)} ms  (${(s.p50 / base).toFixed(1)}× HTTP at p50)`);
    }
    const machine = { cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? "unknown", node: process.version, at: new Date().toISOString() };
    await writeFile(join(import.meta.dirname, "results", "mcp-server.json"), `${JSON.stringify({ calls: CALLS, machine, results }, null, 2)}\n`);
  } finally {
    await server.close({ force: true });
  }
});
