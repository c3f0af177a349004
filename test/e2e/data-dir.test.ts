// Pins, with real `serve` processes: a second server on a held data dir exits non-zero naming the holder's pid, a `kill -9`ed holder's dir is taken over, and a damaged store is refused with the file named.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, openSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { tempDir, until } from "../helpers.ts";
import { BIN, ENV, ROOT, startServe, type Server } from "./serve.ts";

const T = { timeout: 60_000 };

/** A JSON request to a running server; the status and parsed body. */
async function call(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, { method, ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Runs `serve` expecting it to refuse: resolves with its exit code and output once it exits (fails after 15 s). */
function serveRefused(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, "serve", "--port", "0", ...args], { cwd: ROOT, env: ENV, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  return new Promise((done, fail) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(new Error(`serve did not exit in 15 s\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, 15_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

describe("serve: one server per data dir, damaged stores refused, retention flags", () => {
  const dirs: Array<{ cleanup(): void }> = [];
  const servers: Server[] = [];
  const fresh = (): string => {
    const dir = tempDir("af-e2e-data-");
    dirs.push(dir);
    return dir.path;
  };
  after(async () => {
    for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL");
    await Promise.all(servers.map((s) => s.exited));
    for (const d of dirs) d.cleanup();
  });
  const serve = async (args: readonly string[]): Promise<Server> => startServe(args, (s) => servers.push(s));
  // Tasks need a target some profile serves (else 422 NO_SUCH_TARGET); a manual pool runs none of them.
  const MANUAL_CODER = { name: "coder", role: "Coder", pool: { spawnStrategy: "manual" } };

  test("a second serve on a held data dir exits 1 naming the holder's pid; after kill -9 of the holder a new serve takes the dir over with its work", T, async () => {
    const data = fresh();
    const db = join(data, "factory.db");
    const first = await serve(["--data", data]);
    // A Coder profile that spawns nothing by itself: the task stays QUEUED, work the next server must find.
    assert.equal((await call(first.url, "POST", "/v1/profiles", MANUAL_CODER)).status, 201);
    const submitted = await call(first.url, "POST", "/v1/tasks", { role: "Coder", input: "queued before the crash" });
    assert.equal(submitted.status, 202);
    const taskId = submitted.body.id as string;

    const second = await serveRefused(["--data", data]);
    assert.equal(second.code, 1);
    assert.equal(
      second.stderr.trim(),
      `error: the store ${db} is in use by another factory (pid ${first.child.pid}, per ${db}.pid): one data dir serves one factory at a time. Stop that one, or give this one another data dir [STORE_LOCKED]`,
    );
    assert.doesNotMatch(second.stdout, /listening on/);

    first.child.kill("SIGKILL");
    assert.deepEqual(await first.exited, { code: null, signal: "SIGKILL" });
    // The kernel dropped the dead holder's lock; its pid file is stale and does not matter.
    const next = await serve(["--data", data]);
    assert.match(next.stdout(), /0 agent\(s\), 1 unfinished task\(s\) restored/);
    const shown = await call(next.url, "GET", `/v1/tasks/${taskId}`);
    assert.deepEqual([shown.status, shown.body.state, shown.body.input], [200, "QUEUED", "queued before the crash"]);
    // And it now holds the dir in turn.
    const third = await serveRefused(["--data", data]);
    assert.equal(third.code, 1);
    assert.match(third.stderr, new RegExp(`\\(pid ${next.child.pid}, per `));
    next.child.kill("SIGTERM");
    assert.equal((await next.exited).code, 0);
  });

  test("a data dir under /proc, /sys or /dev is refused at once (exit 1, naming dataDir) — under /proc it used to hang the start", T, async () => {
    for (const dir of ["/proc/agent-factory-data", "/sys/agent-factory-data", "/dev/shm/../agent-factory-data"]) {
      const refused = await serveRefused(["--data", dir]);
      assert.equal(refused.code, 1, `${dir}: ${refused.stderr}`);
      assert.match(refused.stderr, /dataDir: cannot use .* as the data folder: it is under \/proc, \/sys or \/dev/, dir);
    }
  });

  test("a 0-byte factory.db is refused (exit 1, file named) unless --allow-empty-store is given", T, async () => {
    const data = fresh();
    const db = join(data, "factory.db");
    writeFileSync(db, "");
    const refused = await serveRefused(["--data", data]);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr.trim(),
      `error: the store ${db} is an empty file (0 bytes): the database that was there is gone. Restore it from a backup, or start a new empty store by deleting the file or passing --allow-empty-store (allowEmptyStore: true) [STORE_DAMAGED]`,
    );
    assert.equal(statSync(db).size, 0);
    const allowed = await serve(["--data", data, "--allow-empty-store"]);
    assert.match(allowed.stdout(), /0 agent\(s\), 0 unfinished task\(s\) restored/);
    assert.equal((await fetch(`${allowed.url}/ready`)).status, 200);
    allowed.child.kill("SIGTERM");
    assert.equal((await allowed.exited).code, 0);
  });

  test("a factory.db that is not a SQLite database is refused (exit 1, file named, header named)", T, async () => {
    const data = fresh();
    const db = join(data, "factory.db");
    writeFileSync(db, Buffer.alloc(8192, "not a database; ".repeat(512)));
    const refused = await serveRefused(["--data", data]);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr.trim(),
      `error: the store ${db} is not a SQLite database (its header is wrong: file is not a database). The factory will not start on a damaged store; see docs/storage.md ("A damaged store") to recover [STORE_DAMAGED]`,
    );
  });

  test("retention flags: the server says what it keeps; a bad limit exits 2 naming the flag", T, async () => {
    const data = fresh();
    const server = await serve(["--data", data, "--retain-tasks", "30d", "--retain-events", "2h,5000", "--retain-messages", "forever"]);
    // Answered only once serve's start-up code ran to its end (signal handlers included).
    assert.equal((await fetch(`${server.url}/ready`)).status, 200);
    await until(() => server.stdout().includes("retention:"), "the retention line");
    assert.match(server.stdout(), /^retention: finished tasks: 30d; events: 2h and newest 5000; crew messages: forever \(--retain-\*; docs\/storage\.md\)$/m);
    server.child.kill("SIGTERM");
    assert.deepEqual(await server.exited, { code: 0, signal: null }, server.stdout());
    const defaults = await serve(["--data", data]);
    assert.equal((await fetch(`${defaults.url}/ready`)).status, 200);
    await until(() => defaults.stdout().includes("retention:"), "the retention line");
    assert.match(defaults.stdout(), /^retention: finished tasks: 7d and newest 100000; events: 7d and newest 1000000; crew messages: 7d and newest 100000 /m);
    defaults.child.kill("SIGTERM");
    assert.deepEqual(await defaults.exited, { code: 0, signal: null });
    const bad = await serveRefused(["--data", data, "--retain-tasks", "a week"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim(), "error: --retain-tasks must be an age such as 7d or 12h, a count such as 100000, both (7d,100000), or forever; got 'a week'");
  });

  test("garbage written in the middle of a store with data is refused (exit 1, file named); it never listens", T, async () => {
    const data = fresh();
    const db = join(data, "factory.db");
    const first = await serve(["--data", data]);
    assert.equal((await call(first.url, "POST", "/v1/profiles", MANUAL_CODER)).status, 201);
    for (let i = 0; i < 60; i++) assert.equal((await call(first.url, "POST", "/v1/tasks", { role: "Coder", input: { i, pad: "x".repeat(300) } })).status, 202);
    first.child.kill("SIGTERM");
    assert.equal((await first.exited).code, 0);
    const size = statSync(db).size;
    assert.ok(size >= 8 * 4096, `the store has pages to damage (${size} bytes)`);
    const fd = openSync(db, "r+");
    writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, Math.floor(size / 4096 / 2) * 4096);
    closeSync(fd);
    const refused = await serveRefused(["--data", data]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`^error: the store ${db.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} (fails SQLite's integrity check|is corrupt): .+ \\[STORE_DAMAGED\\]\\n$`));
    assert.doesNotMatch(refused.stdout, /listening on/);
  });
});
