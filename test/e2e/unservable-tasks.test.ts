// Pins the CLI against a real `serve`: `task submit` for a target nothing could serve prints the 422 and exits 1; one that waits shows in `pools`.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { cli, startServe, type Server } from "./serve.ts";

describe("CLI: tasks nobody can serve", { timeout: 60_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), "af-unservable-"));
  let server: Server | undefined;
  before(async () => {
    server = await startServe(["--data", dataDir, "--profiles", "examples/profiles", "--agent-files", "examples/agents"], (s) => (server = s));
  });
  after(async () => {
    if (server !== undefined && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill("SIGKILL");
      await server.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("task submit --role coder exits 1 with the 422 naming 'Coder'; --role Planner (manual, no agent) waits and pools shows it", async () => {
    const url = (server as Server).url;
    const [wrongCase, nobody] = await Promise.all([cli(url, "task", "submit", "--role", "coder"), cli(url, "task", "submit", "--role", "Nobody")]);
    assert.equal(wrongCase.code, 1);
    assert.equal(wrongCase.stdout, "");
    assert.match(wrongCase.stderr, /nothing could ever serve this task \(role 'coder'\): no profile or agent outside crews has role 'coder' \(did you mean 'Coder'\?\) \(field: role\) \[NO_SUCH_TARGET\]/);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /has role 'Nobody' \(known: 'Analyst', 'Builder', 'Coder', 'Planner', 'Researcher', …\) \(field: role\) \[NO_SUCH_TARGET\]/);

    const waiting = await cli(url, "--json", "task", "submit", "--role", "Planner", "--input", '"plan"');
    assert.equal(waiting.code, 0, waiting.stderr);
    assert.equal((JSON.parse(waiting.stdout) as { state: string }).state, "QUEUED");
    const pools = await cli(url, "pools");
    assert.equal(pools.code, 0, pools.stderr);
    assert.match(pools.stdout, /tasks waiting for an agent, by target:\n/);
    assert.match(pools.stdout, /role Planner\s+-\s+1\s+planner/);
    const json = JSON.parse((await cli(url, "--json", "pools")).stdout) as { waiting: Array<{ role: string; queued: number; profiles: string[] }> };
    assert.deepEqual(json.waiting.map((w) => [w.role, w.queued, w.profiles]), [["Planner", 1, ["planner"]]]);
  });
});
