// Pins which host paths a profile's runtime.files may mount: only files and folders under the operator's folders, never the data dir, /proc, /sys or /dev — checked at registration and again at every start, cold or warm.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApp } from "../../src/api/app.ts";
import { FactoryError } from "../../src/core/errors.ts";
import { createFactory } from "../../src/factory/create-factory.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { silentLogger, tempDir, testFactory, until } from "../helpers.ts";
import type { ProfileInput } from "../../src/core/schemas/profile.ts";

const root = resolve(import.meta.dirname, "../..");
const post = (body: unknown): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

/** Asserts `fn` throws a FactoryError with exactly this code, field and message. */
async function refuses(fn: () => unknown, code: string, field: string, message: string | RegExp): Promise<void> {
  await assert.rejects(async () => fn(), (error: unknown) => {
    assert.ok(error instanceof FactoryError, String(error));
    assert.deepEqual([error.code, error.field], [code, field]);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

describe("agent files", () => {
  let allowed: ReturnType<typeof tempDir>;
  let agentsDir: string;
  let factory: Factory;
  let dataDir: string;
  let close: () => Promise<void>;
  let app: OpenAPIHono;
  beforeEach(async () => {
    allowed = tempDir("af-files-");
    // Real paths: the messages name resolved paths (a temp dir may sit behind a symlink).
    agentsDir = realpathSync(allowed.path);
    copyFileSync(join(root, "examples/agents/echo_agent.py"), join(agentsDir, "agent.py"));
    ({ factory, dir: dataDir, close } = await testFactory({ agentFiles: [agentsDir] }));
    dataDir = realpathSync(dataDir);
    app = createApp(factory);
  });
  afterEach(async () => {
    await close();
    allowed.cleanup();
  });

  const profile = (files: string[], extra: Record<string, unknown> = {}): ProfileInput => ({
    name: "py",
    role: "Py",
    runtime: { kind: "process", command: ["python3", "/agent/agent.py"], files },
    pool: { spawnStrategy: "manual" },
    ...extra,
  });

  it("registers a file and a folder under an allowed folder, and mounts both read-only under /agent", async () => {
    mkdirSync(join(agentsDir, "skills"));
    writeFileSync(join(agentsDir, "skills", "note.txt"), "hello");
    const { profile: record } = factory.registerProfile(profile([join(agentsDir, "agent.py"), join(agentsDir, "skills")]));
    assert.deepEqual((record.runtime as { files: string[] }).files, [join(agentsDir, "agent.py"), join(agentsDir, "skills")]);
    const agent = await factory.spawnAgent({ profile: "py" });
    const run = async (input: unknown) => factory.waitForTask((await factory.submitTask({ agentId: agent.id, input })).id, 5_000);
    assert.deepEqual((await run({ text: "ok" })).result, { upper: "OK", by: "python", runs: 1 });
    assert.deepEqual((await run({ read: "/agent/skills/note.txt" })).result, { read: "hello" });
    const write = await run({ write: "/agent/skills/note.txt" });
    assert.deepEqual([write.state, /Read-only file system/.test(write.error?.message ?? "")], ["DEAD", true]);
  });

  it("refuses the factory's environment, its data folder and database, /sys, /dev and a folder holding the data folder", async () => {
    const outside = "is outside the folders agent files may come from";
    await refuses(() => factory.registerProfile(profile(["/proc/self/environ"])), "VALIDATION_FAILED", "runtime.files.0", /^runtime\.files\.0: \/proc\/self\/environ \(\/proc\/\d+\/environ\) is inside \/proc: agents never get the factory's data folder, \/proc, \/sys or \/dev$/);
    await refuses(() => factory.registerProfile(profile([dataDir])), "VALIDATION_FAILED", "runtime.files.0", `runtime.files.0: ${dataDir} is inside ${dataDir}: agents never get the factory's data folder, /proc, /sys or /dev`);
    await refuses(() => factory.registerProfile(profile([join(agentsDir, "agent.py"), join(dataDir, "factory.db")])), "VALIDATION_FAILED", "runtime.files.1", `runtime.files.1: ${join(dataDir, "factory.db")} is inside ${dataDir}: agents never get the factory's data folder, /proc, /sys or /dev`);
    await refuses(() => factory.registerProfile(profile(["/sys/kernel"])), "VALIDATION_FAILED", "runtime.files.0", "runtime.files.0: /sys/kernel is inside /sys: agents never get the factory's data folder, /proc, /sys or /dev");
    await refuses(() => factory.registerProfile(profile(["/dev/null"])), "VALIDATION_FAILED", "runtime.files.0", "runtime.files.0: /dev/null is not a regular file or folder");
    await refuses(() => factory.registerProfile(profile(["/etc/hostname"])), "VALIDATION_FAILED", "runtime.files.0", new RegExp(`^runtime\\.files\\.0: /etc/hostname ${outside} \\(allowed: ${agentsDir}\\); the operator allows a folder with \`serve --agent-files DIR\``));
    // A folder that holds the data folder would mount it too.
    const parent = realpathSync(join(dataDir, ".."));
    await refuses(() => factory.registerProfile(profile([parent])), "VALIDATION_FAILED", "runtime.files.0", new RegExp(`^runtime\\.files\\.0: ${parent} is a folder holding ${dataDir}: `));
    assert.deepEqual(factory.listProfiles(), [], "nothing was registered");
  });

  it("resolves symlinks: one out of the allowed folder is refused, one within it mounts under its declared name", async () => {
    symlinkSync("/proc/self/environ", join(agentsDir, "env"));
    await refuses(() => factory.registerProfile(profile([join(agentsDir, "env")])), "VALIDATION_FAILED", "runtime.files.0", /^runtime\.files\.0: .*\/env \(\/proc\/\d+\/environ\) is inside \/proc: /);
    symlinkSync(join(dataDir, "factory.db"), join(agentsDir, "db"));
    await refuses(() => factory.registerProfile(profile([join(agentsDir, "db")])), "VALIDATION_FAILED", "runtime.files.0", `runtime.files.0: ${join(agentsDir, "db")} (${join(dataDir, "factory.db")}) is inside ${dataDir}: agents never get the factory's data folder, /proc, /sys or /dev`);
    mkdirSync(join(agentsDir, "v2"));
    copyFileSync(join(agentsDir, "agent.py"), join(agentsDir, "v2", "real.py"));
    rmSync(join(agentsDir, "agent.py"));
    symlinkSync(join(agentsDir, "v2", "real.py"), join(agentsDir, "agent.py"));
    factory.registerProfile(profile([join(agentsDir, "agent.py")]));
    const agent = await factory.spawnAgent({ profile: "py" });
    const task = await factory.waitForTask((await factory.submitTask({ agentId: agent.id, input: { text: "link" } })).id, 5_000);
    assert.deepEqual(task.result, { upper: "LINK", by: "python", runs: 1 });
  });

  it("refuses a missing file and a relative path at registration, as a 400 naming the field and the path", async () => {
    const missing = await app.request("/v1/profiles", post(profile([join(agentsDir, "nope.py")])));
    assert.equal(missing.status, 400);
    assert.deepEqual(await missing.json(), { error: { code: "VALIDATION_FAILED", message: `runtime.files.0: ${join(agentsDir, "nope.py")} does not exist`, field: "runtime.files.0" } });
    // `sub/..` is the allowed folder itself, but it would mount at /agent/.. — over the sandbox's root.
    mkdirSync(join(agentsDir, "sub"));
    const dotdot = await app.request("/v1/profiles", post(profile([`${agentsDir}/sub/..`])));
    assert.equal(dotdot.status, 400);
    assert.deepEqual(await dotdot.json(), {
      error: { code: "VALIDATION_FAILED", message: `runtime.files.0: ${agentsDir}/sub/.. ends in '.' or '..': name the file or folder itself, so it has a name under /agent`, field: "runtime.files.0" },
    });
    const relative = await app.request("/v1/profiles", post(profile(["agent.py"])));
    assert.equal(relative.status, 400);
    assert.deepEqual(await relative.json(), {
      error: {
        code: "VALIDATION_FAILED",
        message: "runtime.files.0: agent.py is a relative path: the server cannot know what it is relative to; give an absolute path (profile files read by `serve --profiles` or `agent-factory profiles apply -f` are resolved against their own folder)",
        field: "runtime.files.0",
      },
    });
    // Inline in a spawn request: the field carries its place in the request.
    const spawned = await app.request("/v1/agents", post({ config: profile(["/proc/self/environ"]) }));
    assert.equal(spawned.status, 400);
    assert.equal(((await spawned.json()) as { error: { field: string } }).error.field, "config.runtime.files.0");
  });

  it("checks again at spawn: a file swapped for a symlink to the factory's environment is refused, cold and from a warm sandbox", async () => {
    const file = join(agentsDir, "agent.py");
    factory.registerProfile(profile([file]));
    await factory.spawnAgent({ profile: "py" });
    await until(() => (factory.stats().runtimes.process as { warmReady: number }).warmReady >= 1, "a warm sandbox ready", 10_000);
    rmSync(file);
    symlinkSync("/proc/self/environ", file);
    const expected = new RegExp(`^agent agent_\\w+ \\(py\\) failed to start: runtime\\.files\\.0: ${file} \\(/proc/\\d+/environ\\) is inside /proc: agents never get the factory's data folder, /proc, /sys or /dev$`);
    await refuses(() => factory.spawnAgent({ profile: "py" }), "AGENT_START_FAILED", "runtime.files.0", expected);
    assert.equal((factory.stats().runtimes.process as { warmLeases: number }).warmLeases, 0, "no warm sandbox was handed the file");
    // Cold: a profile whose runtime never qualifies for a warm sandbox.
    rmSync(file);
    copyFileSync(join(root, "examples/agents/echo_agent.py"), file);
    factory.registerProfile(profile([file], { name: "py-cold", runtime: { kind: "process", command: ["python3", "-u", "/agent/agent.py"], files: [file] } }));
    rmSync(file);
    symlinkSync(join(dataDir, "factory.db"), file);
    await refuses(() => factory.spawnAgent({ profile: "py-cold" }), "AGENT_START_FAILED", "runtime.files.0", new RegExp(`^agent agent_\\w+ \\(py-cold\\) failed to start: runtime\\.files\\.0: ${file} \\(${join(dataDir, "factory.db")}\\) is inside ${dataDir}: `));
    const response = await app.request("/v1/agents", post({ profile: "py-cold" }));
    assert.equal(response.status, 422);
  });

  it("leases a warm sandbox only for files any user may read: a root-only file goes cold, where the agent reads as itself", async () => {
    // The factory reads a warm agent's code for it; a file only the factory's user may read must not reach the agent that way.
    const file = join(agentsDir, "agent.py");
    const secret = join(agentsDir, "secret.txt");
    writeFileSync(secret, "for the factory's user only");
    chmodSync(secret, 0o600);
    factory.registerProfile(profile([file]));
    await factory.spawnAgent({ profile: "py" });
    await until(() => (factory.stats().runtimes.process as { warmReady: number }).warmReady >= 1, "a warm sandbox ready", 10_000);
    factory.registerProfile(profile([file, secret], { name: "py-secret" }));
    const agent = await factory.spawnAgent({ profile: "py-secret" });
    assert.equal(agent.state, "READY");
    assert.equal((factory.stats().runtimes.process as { warmLeases: number }).warmLeases, 0, "a root-only file kept the profile off the warm path");
    await factory.spawnAgent({ profile: "py" });
    assert.equal((factory.stats().runtimes.process as { warmLeases: number }).warmLeases, 1, "a readable profile still goes warm");
  });

  it("refuses a device or fifo in an allowed folder, and an agent-files folder that does not exist", async () => {
    execFileSync("mkfifo", [join(agentsDir, "pipe")]);
    await refuses(() => factory.registerProfile(profile([join(agentsDir, "pipe")])), "VALIDATION_FAILED", "runtime.files.0", `runtime.files.0: ${join(agentsDir, "pipe")} is not a regular file or folder`);
    writeFileSync(join(agentsDir, "plain"), "x");
    await refuses(() => createFactory({ dataDir: ":memory:", logger: silentLogger, agentFiles: [join(agentsDir, "plain")] }), "VALIDATION_FAILED", "agentFiles.0", `agentFiles.0: ${join(agentsDir, "plain")} is not a folder`);
    await refuses(() => createFactory({ dataDir: ":memory:", logger: silentLogger, agentFiles: [agentsDir, join(agentsDir, "gone")] }), "VALIDATION_FAILED", "agentFiles.1", `agentFiles.1: the agent-files folder ${join(agentsDir, "gone")} does not exist`);
  });
});
