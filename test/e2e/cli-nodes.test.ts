// Pins `agent-factory nodes` against a real `serve` on one node: the node lists itself, alive, as a table and as `--json` `{ items }`, with the id kept in its data dir.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { cli, startServe, type Server } from "./serve.ts";

describe("CLI: nodes", { timeout: 60_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), "af-nodes-"));
  let server: Server | undefined;
  before(async () => {
    server = await startServe(["--data", dataDir], (s) => (server = s));
  });
  after(async () => {
    if (server !== undefined && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill("SIGKILL");
      await server.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("nodes prints the one node, alive, and --json gives { items: [{ id, … }] }", async () => {
    const url = (server as Server).url;
    const id = readFileSync(join(dataDir, "node-id"), "utf8").trim();
    const json = await cli(url, "--json", "nodes");
    assert.equal(json.code, 0, json.stderr);
    const body = JSON.parse(json.stdout) as { items: Array<{ id: string; alive: boolean; agents: number; load: number; capacity: number; url: string | null }> };
    assert.deepEqual(
      body.items.map(({ id: i, alive, agents, load, capacity, url: u }) => ({ id: i, alive, agents, load, capacity, url: u })),
      [{ id, alive: true, agents: 0, load: 0, capacity: 0, url: null }],
    );
    const table = await cli(url, "nodes");
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split("\n");
    assert.match(lines[0] as string, /^ID\s+STATUS\s+AGENTS\s+LOAD\s+STARTEDAT\s+LEASEUNTIL\s+URL$/);
    assert.equal(lines.length, 2);
    assert.match(lines[1] as string, new RegExp(`^${id}\\s+alive\\s+0\\s+0/0\\s+\\S+Z\\s+\\S+Z\\s+-$`));
  });
});
