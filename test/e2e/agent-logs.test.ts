// Pins that `serve` prints what process agents log (`log` notifications and stderr lines) with the agent's id and level, debug only when asked.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { startServe, type Server } from "./serve.ts";

const fixture = resolve(import.meta.dirname, "../fixtures/meddling-agent.mjs");
const servers: Server[] = [];
const dirs: string[] = [];

after(async () => {
  for (const server of servers) {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill("SIGKILL");
      await server.exited;
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function call<T>(server: Server, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${server.url}${path}`, { method, headers: { "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const json = (await response.json()) as T;
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** Starts `serve`, spawns one process agent and runs `inputs` on it in order; resolves with the agent's id. */
async function runLogging(args: string[], inputs: unknown[]): Promise<{ server: Server; agentId: string }> {
  const dir = mkdtempSync(join(tmpdir(), "af-logs-"));
  dirs.push(dir);
  const server = await startServe(["--data", dir, "--agent-files", dirname(fixture), ...args], (s) => servers.push(s));
  const agent = await call<{ id: string }>(server, "POST", "/v1/agents", {
    config: { name: "talker", role: "Talker", runtime: { kind: "process", command: ["node", "/agent/meddling-agent.mjs"], files: [fixture] }, pool: { spawnStrategy: "manual" } },
  });
  for (const input of inputs) {
    const task = await call<{ id: string }>(server, "POST", "/v1/tasks", { agentId: agent.id, input });
    const done = await call<{ state: string }>(server, "GET", `/v1/tasks/${task.id}?waitMs=10000`);
    assert.equal(done.state, "SUCCEEDED");
  }
  return { server, agentId: agent.id };
}

const waitFor = async (read: () => string, pattern: RegExp, ms = 5_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!pattern.test(read())) {
    if (Date.now() > deadline) throw new Error(`never printed ${pattern}; got:\n${read()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe("serve prints agents' logs", { timeout: 60_000 }, () => {
  test("a `log` notification and a stderr line appear with the agent's id and level; debug lines only with --log-level debug", async () => {
    const { server, agentId } = await runLogging([], [{ log: "hello from the agent" }, { log: "a debug detail", level: "debug" }, { log: "something odd", level: "warn" }]);
    await waitFor(server.stdout, new RegExp(`\\[agent ${agentId} info\\] hello from the agent\\n`));
    await waitFor(server.stdout, new RegExp(`\\[agent ${agentId} info\\] stderr: hello from the agent\\n`));
    await waitFor(server.stderr, new RegExp(`\\[agent ${agentId} warn\\] something odd\\n`));
    // The debug line's stderr twin (info) is there, so the debug line itself was dropped, not late.
    await waitFor(server.stdout, /stderr: a debug detail/);
    assert.doesNotMatch(server.stdout() + server.stderr(), /\[agent \S+ debug\]/);

    const verbose = await runLogging(["--log-level", "debug"], [{ log: "now visible", level: "debug" }]);
    await waitFor(verbose.server.stdout, new RegExp(`\\[agent ${verbose.agentId} debug\\] now visible\\n`));
  });
});
