// Pins serve's alert flags: a threshold set on the command line raises its alert.* event; a bad value exits 2 naming the flag.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { tempDir, until } from "../helpers.ts";
import { cli, startServe, type Server } from "./serve.ts";

describe("serve --alert-*", { timeout: 60_000 }, () => {
  const data = tempDir();
  let server: Server | undefined;
  after(async () => {
    if (server !== undefined && server.child.exitCode === null) {
      server.child.kill("SIGTERM");
      await server.exited;
    }
    data.cleanup();
  });

  it("--alert-queue-depth 2 fires alert.queue_depth once two tasks wait for a pool", async () => {
    server = await startServe(["--data", data.path, "--alert-queue-depth", "2"], (s) => (server = s));
    const post = (path: string, body: unknown) => fetch(`${server?.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    assert.equal((await post("/v1/profiles", { name: "idle", role: "Idle", runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual" } })).status, 201);
    for (let i = 0; i < 2; i++) assert.equal((await post("/v1/tasks", { role: "Idle", input: { i } })).status, 202);
    // The event stream (SSE) from the start: read until the alert arrives.
    const res = await fetch(`${server.url}/v1/events?types=alert.queue_depth`, { signal: AbortSignal.timeout(20_000) });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let seen = "";
    await until(
      async () => {
        const { value } = await reader.read();
        seen += new TextDecoder().decode(value);
        return seen.includes('"firing"');
      },
      "alert.queue_depth on the stream",
      20_000,
    );
    await reader.cancel();
    assert.match(seen, /"type":"alert\.queue_depth"/);
    assert.match(seen, /"subject":"idle"/);
  });

  it("a bad value exits 2 naming the flag", async () => {
    for (const [flag, value] of [["--alert-error-rate", "2"], ["--alert-budget-fraction", "-0.1"], ["--alert-queue-depth", "lots"]] as const) {
      const refused = await cli("http://127.0.0.1:1", "serve", "--port", "0", flag, value);
      assert.equal(refused.code, 2, refused.stderr);
      assert.ok(refused.stderr.includes(flag), refused.stderr);
    }
  });
});
