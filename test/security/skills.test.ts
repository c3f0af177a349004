// Pins skill packs (profile `skills: [{ name, path }]`): an agent runs a script from /skills/<name> in a real bubblewrap sandbox and cannot write there (EROFS); registration refuses, naming the field, a missing folder, a file, a system folder, a folder outside the operator's agent-files folders, a name given twice, an unsafe name, and packs on an unsandboxed or function profile; a profile file's relative pack path is resolved against its folder.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApp } from "../../src/api/app.ts";
import { isFactoryError } from "../../src/core/errors.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { resolveProfileFiles } from "../../src/factory/profile-files.ts";
import { tempDir, testFactory } from "../helpers.ts";

const fixtures = resolve(import.meta.dirname, "../fixtures");
const agentFile = resolve(fixtures, "net-agent.mjs");
const runtime = { kind: "process" as const, command: ["node", "/agent/net-agent.mjs"], files: [agentFile] };

describe("skill packs", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let app: OpenAPIHono;
  const packs = tempDir();
  const tools = join(packs.path, "tools");

  const register = async (profile: Record<string, unknown>): Promise<{ status: number; error: { code: string; field?: string; message: string } }> => {
    const response = await app.request("/v1/profiles", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ role: "Skilled", runtime, pool: { spawnStrategy: "manual" }, ...profile }) });
    return { status: response.status, error: ((await response.json()) as { error: { code: string; field?: string; message: string } }).error };
  };

  before(async () => {
    mkdirSync(tools);
    writeFileSync(join(tools, "hello.sh"), "echo hello from the pack\n");
    chmodSync(join(tools, "hello.sh"), 0o755);
    writeFileSync(join(packs.path, "a-file"), "x");
    ({ factory, close } = await testFactory({ agentFiles: [fixtures, packs.path], allowUnsandboxed: true }));
    app = createApp(factory);
  });
  after(async () => {
    await close();
    packs.cleanup();
  });

  it("an agent runs a script from /skills/<name>, and cannot write there (EROFS)", async () => {
    factory.registerProfile({ name: "skilled", role: "Skilled", runtime, skills: [{ name: "tools", path: tools }], pool: { spawnStrategy: "manual" } });
    const agent = await factory.spawnAgent({ profile: "skilled" });
    const ran = await factory.waitForTask((await factory.submitTask({ agentId: agent.id, input: { run: ["sh", "/skills/tools/hello.sh"] } })).id, 10_000);
    assert.deepEqual([ran.state, ran.result], ["SUCCEEDED", { status: 0, stdout: "hello from the pack\n" }]);
    const read = await factory.waitForTask((await factory.submitTask({ agentId: agent.id, input: { read: "/skills/tools/hello.sh" } })).id, 10_000);
    assert.deepEqual(read.result, { text: "echo hello from the pack\n" });
    const wrote = await factory.waitForTask((await factory.submitTask({ agentId: agent.id, input: { write: "/skills/tools/new.sh" } })).id, 10_000);
    assert.equal(wrote.state, "DEAD");
    assert.match(JSON.stringify(wrote.error), /EROFS/);
    await factory.terminateAgent(agent.id);
  });

  it("registration refuses a missing folder with a 400 naming skills.0.path", async () => {
    const missing = await register({ name: "s1", skills: [{ name: "gone", path: join(packs.path, "nope") }] });
    assert.deepEqual([missing.status, missing.error.code, missing.error.field], [400, "VALIDATION_FAILED", "skills.0.path"]);
    assert.match(missing.error.message, /skills\.0\.path: .*nope does not exist/);
  });

  it("registration refuses a file, a folder the operator did not allow (/etc), unsafe and repeated names, packs on an unsandboxed or a function profile, each naming the field", async () => {
    const file = await register({ name: "s2", skills: [{ name: "f", path: join(packs.path, "a-file") }] });
    assert.deepEqual([file.status, file.error.field], [400, "skills.0.path"]);
    assert.match(file.error.message, /is not a folder/);
    const outside = await register({ name: "s3", skills: [{ name: "ok", path: tools }, { name: "etc", path: "/etc" }] });
    assert.deepEqual([outside.status, outside.error.field], [400, "skills.1.path"]);
    assert.match(outside.error.message, /outside the folders agent files may come from/);
    const unsafe = await register({ name: "s4", skills: [{ name: "../up", path: tools }] });
    assert.deepEqual([unsafe.status, unsafe.error.field], [400, "skills.0.name"]);
    const twice = await register({ name: "s5", skills: [{ name: "t", path: tools }, { name: "t", path: tools }] });
    assert.deepEqual([twice.status, twice.error.field], [400, "skills.1.name"]);
    assert.match(twice.error.message, /skill name 't' is given twice/);
    const bare = await register({ name: "s6", sandbox: { kind: "none" }, runtime: { kind: "process", command: ["node", agentFile] }, skills: [{ name: "t", path: tools }] });
    assert.deepEqual([bare.status, bare.error.field], [400, "skills"]);
    assert.match(bare.error.message, /an unsandboxed agent \(sandbox.kind none\) has none/);
    const fn = await register({ name: "s7", runtime: { kind: "function", handler: "echo" }, skills: [{ name: "t", path: tools }] });
    assert.deepEqual([fn.status, fn.error.field], [400, "skills"]);
  });

  it("a system folder is refused even inside an allowed folder", async () => {
    const { factory: rooted, close: closeRooted } = await testFactory({ agentFiles: ["/"] });
    try {
      assert.throws(() => rooted.registerProfile({ name: "sys", role: "Sys", runtime: { kind: "process", command: ["true"] }, skills: [{ name: "usr", path: "/usr" }] }), (error: unknown) => {
        assert.ok(isFactoryError(error));
        assert.deepEqual([error.code, error.field], ["VALIDATION_FAILED", "skills.0.path"]);
        assert.match(error.message, /is a system folder/);
        return true;
      });
    } finally {
      await closeRooted();
    }
  });

  it("a profile file's relative pack path is resolved against the file's folder, like runtime.files", () => {
    assert.deepEqual(resolveProfileFiles({ name: "p", skills: [{ name: "t", path: "packs/tools" }, { name: "a", path: "/abs" }] }, "/srv/profiles"), {
      name: "p",
      skills: [
        { name: "t", path: "/srv/profiles/packs/tools" },
        { name: "a", path: "/abs" },
      ],
    });
  });
});
