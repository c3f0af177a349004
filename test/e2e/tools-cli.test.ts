// Pins `agent-factory tools` against a real server: a profile file declaring server-memory (files relative to it), its agent's tools listed, and called over HTTP.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { cli, ROOT, startServe, type Server } from "./serve.ts";

const work = realpathSync(mkdtempSync(join(tmpdir(), "af-e2e-tools-")));
const servers: Server[] = [];
after(() => {
  for (const server of servers) if (server.child.exitCode === null) server.child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

describe("agent-factory tools", () => {
  it("lists an agent's MCP tools as a table and as JSON, by agent and by server", async () => {
    const profiles = join(work, "profiles");
    mkdirSync(profiles);
    symlinkSync(join(ROOT, "node_modules"), join(profiles, "node_modules"));
    writeFileSync(
      join(profiles, "keeper.yaml"),
      [
        "name: keeper",
        "role: Keeper",
        "pool: { spawnStrategy: manual }",
        "mcpServers:",
        "  - name: memory",
        "    command: [node, /agent/node_modules/@modelcontextprotocol/server-memory/dist/index.js]",
        "    files: [./node_modules]",
        "    env: { MEMORY_FILE_PATH: /workspace/memory.jsonl }",
        "tools: { allow: ['memory.read_graph', 'memory.search_nodes'] }",
        "",
      ].join("\n"),
    );
    const server = await startServe(["--data", join(work, "data"), "--profiles", profiles, "--agent-files", join(ROOT, "node_modules")], (s) => servers.push(s));
    const spawned = await fetch(`${server.url}/v1/agents`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ profile: "keeper" }) });
    assert.equal(spawned.status, 201, await spawned.clone().text());
    const agent = (await spawned.json()) as { id: string };
    const listed = await cli(server.url, "tools", "--agent", agent.id, "--json");
    assert.equal(listed.code, 0, listed.stderr);
    const items = (JSON.parse(listed.stdout) as { items: Array<{ name: string; agentId: string }> }).items;
    assert.deepEqual(items.map((t) => [t.name, t.agentId]), [["memory.read_graph", agent.id], ["memory.search_nodes", agent.id]]);
    const table = await cli(server.url, "tools", "--server", "memory");
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+AGENTID\s+CREW\s+DESCRIPTION\n/);
    assert.match(table.stdout, new RegExp(`memory\\.search_nodes\\s+${agent.id}\\s+-\\s+Search for nodes`));
    const none = await cli(server.url, "tools", "--server", "fs");
    assert.equal(none.stdout.trim(), "(none)");
    const result = await fetch(`${server.url}/v1/tools/call`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ agentId: agent.id, server: "memory", tool: "read_graph", arguments: {} }) });
    assert.deepEqual(await result.json(), { content: [{ type: "text", text: JSON.stringify({ entities: [], relations: [] }, null, 2) }], isError: false, structuredContent: { entities: [], relations: [] } });
  });
});
