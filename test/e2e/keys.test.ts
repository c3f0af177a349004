// Pins operator keys end to end: a real `serve` and the real CLI — the first admin key on an open server, a viewer key that reads but cannot write, revoked and refused at once; bad flags exit 2 naming the flag.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { until } from "../helpers.ts";
import { cli, startServe, type Server } from "./serve.ts";

describe("CLI: keys against a real server", { timeout: 90_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), "af-keys-"));
  let server: Server | undefined;
  /** The admin key the first test makes (and keeps). */
  let rootSecret = "";
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

  test("create a viewer key, use it, revoke it: it stops working", async () => {
    const url = (server as Server).url;
    // No key anywhere yet: the API is open on loopback, so the first (admin) key can be made.
    const root = await cli(url, "--json", "keys", "create", "--name", "root", "--role", "admin");
    assert.equal(root.code, 0, root.stderr);
    const rootKey = (JSON.parse(root.stdout) as { secret: string }).secret;
    rootSecret = rootKey;
    assert.match(rootKey, /^afk_k[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);

    const made = await cli(url, "--api-key", rootKey, "keys", "create", "--name", "dashboard", "--role", "viewer");
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /This secret will not be shown again/);
    const viewer = /secret\s+(afk_\S+)/.exec(made.stdout)?.[1] as string;
    const id = /id\s+(k[0-9a-f]{16})/.exec(made.stdout)?.[1] as string;
    assert.ok(viewer !== undefined && id !== undefined, made.stdout);

    // Keys exist: no key is refused; the viewer reads but may not write or manage keys.
    const none = await cli(url, "--json", "agents", "list");
    assert.equal(none.code, 1);
    assert.equal((JSON.parse(none.stderr) as { error: { code: string } }).error.code, "UNAUTHORIZED");
    const reads = await cli(url, "--api-key", viewer, "--json", "agents", "list");
    assert.equal(reads.code, 0, reads.stderr);
    const writes = await cli(url, "--api-key", viewer, "--json", "keys", "list");
    assert.equal(writes.code, 1);
    assert.equal((JSON.parse(writes.stderr) as { error: { code: string } }).error.code, "FORBIDDEN");

    const listed = await cli(url, "--api-key", rootKey, "--json", "keys", "list");
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual((JSON.parse(listed.stdout) as Array<{ name: string; role: string }>).map((k) => [k.name, k.role]), [["root", "admin"], ["dashboard", "viewer"]]);
    assert.equal(listed.stdout.includes(viewer), false);

    const revoked = await cli(url, "--api-key", rootKey, "keys", "revoke", id);
    assert.equal(revoked.code, 0, revoked.stderr);
    const after = await cli(url, "--api-key", viewer, "--json", "agents", "list");
    assert.equal(after.code, 1);
    assert.equal((JSON.parse(after.stderr) as { error: { code: string } }).error.code, "UNAUTHORIZED");
  });

  test("bad input exits 2 naming the flag", async () => {
    const url = (server as Server).url;
    for (const [args, flag] of [
      [["keys", "create", "--role", "viewer"], "--name"],
      [["keys", "create", "--name", "x", "--role", "owner"], "--role"],
      [["keys", "create", "--name", "x"], "--role"],
      [["keys", "create", "--name", "x", "--role", "admin", "--crew", "crew_1"], "--crew"],
    ] as const) {
      const result = await cli(url, ...args);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.ok(result.stderr.includes(flag), `${args.join(" ")}: ${result.stderr}`);
    }
  });

  test("beyond loopback: refused on a store with no key; with stored keys it starts, and /v1 stays closed even once every key is revoked", async () => {
    const empty = mkdtempSync(join(tmpdir(), "af-keys-empty-"));
    try {
      const refused = await cli("http://127.0.0.1:1", "serve", "--port", "0", "--host", "0.0.0.0", "--data", empty);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /refusing to bind 0\.0\.0\.0 without a key: .*Set AGENT_FACTORY_API_KEY, or make an operator key first/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    // The first test's server holds one key, an admin: restart it on every interface.
    const first = server as Server;
    first.child.kill("SIGTERM");
    await first.exited;
    server = await startServe(["--data", dataDir, "--host", "0.0.0.0"], (s) => (server = s));
    const restarted = server;
    // The lines after "listening on" arrive a moment later.
    await until(() => /\/v1 needs one of/.test(restarted.stdout()), "the key line", 5_000);
    assert.match(restarted.stdout(), /\/v1 needs one of 1 operator key\(s\) \(bound to 0\.0\.0\.0: \/v1 stays closed even if every key is revoked\)/);
    const none = await cli(server.url, "--json", "agents", "list");
    assert.equal((JSON.parse(none.stderr) as { error: { code: string } }).error.code, "UNAUTHORIZED");
    const listed = await cli(server.url, "--api-key", rootSecret, "--json", "keys", "list");
    assert.equal(listed.code, 0, listed.stderr);
    const [only] = JSON.parse(listed.stdout) as Array<{ id: string }>;
    assert.equal((await cli(server.url, "--api-key", rootSecret, "keys", "revoke", (only as { id: string }).id)).code, 0);
    // No key left: a loopback server would be open again; this one is not.
    const still = await cli(server.url, "--json", "agents", "list");
    assert.equal(still.code, 1);
    assert.equal((JSON.parse(still.stderr) as { error: { code: string } }).error.code, "UNAUTHORIZED");
  });
});
