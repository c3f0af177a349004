// Pins what scopes mean where they bite: a `reviewer` agent's /workspace is mounted read-only by the sandbox (a write fails with EROFS inside a real bubblewrap sandbox), a `coder` writes; a reviewer cannot run unsandboxed (nothing would enforce it); an unknown scope is refused at registration, naming the scope.
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { isFactoryError } from "../../src/core/errors.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { testFactory } from "../helpers.ts";

const agents = resolve(import.meta.dirname, "../../examples/agents");
const echo = join(agents, "echo_agent.py");

describe("scopes", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  before(async () => {
    ({ factory, close } = await testFactory({ agentFiles: [agents], allowUnsandboxed: true }));
    for (const scope of ["coder", "reviewer"] as const) {
      factory.registerProfile({
        name: `py-${scope}`,
        role: scope === "coder" ? "PyCoder" : "PyReviewer",
        scopes: [scope],
        runtime: { kind: "process", command: ["python3", "/agent/echo_agent.py"], files: [echo] },
        pool: { spawnStrategy: "manual" },
      });
    }
  });
  after(() => close());

  it("a reviewer cannot write its workspace (EROFS, from the sandbox's read-only mount) but still runs tasks that read; a coder writes", async () => {
    const reviewer = await factory.spawnAgent({ profile: "py-reviewer" });
    const coder = await factory.spawnAgent({ profile: "py-coder" });
    const wrote = await factory.waitForTask((await factory.submitTask({ agentId: coder.id, input: { write: "/workspace/notes.txt" } })).id, 10_000);
    assert.deepEqual([wrote.state, wrote.result], ["SUCCEEDED", { wrote: "/workspace/notes.txt" }]);
    const refused = await factory.waitForTask((await factory.submitTask({ agentId: reviewer.id, input: { write: "/workspace/notes.txt" } })).id, 10_000);
    assert.equal(refused.state, "DEAD"); // a retryable error, tried maxAttempts (1) times
    assert.match(JSON.stringify(refused.error), /Read-only file system/);
    // It still works: a task that only reads succeeds.
    const read = await factory.waitForTask((await factory.submitTask({ agentId: reviewer.id, input: { read: "/etc/hostname" } })).id, 10_000);
    assert.equal(read.state, "SUCCEEDED");
  });

  it("a reviewer with sandbox.kind none does not start: nothing would hold its workspace read-only", async () => {
    factory.registerProfile({
      name: "bare-reviewer",
      role: "BareReviewer",
      scopes: ["reviewer"],
      sandbox: { kind: "none" },
      runtime: { kind: "process", command: ["python3", echo] },
      pool: { spawnStrategy: "manual" },
    });
    await assert.rejects(factory.spawnAgent({ profile: "bare-reviewer" }), (error: unknown) => {
      assert.ok(isFactoryError(error));
      assert.equal(error.code, "AGENT_START_FAILED");
      assert.match(error.message, /a reviewer's workspace is read-only, which only a sandbox can enforce/);
      return true;
    });
  });

  it("a crew manifest narrows a member's scopes (a coder-and-reviewer profile as reviewer only: read-only workspace), and may not widen them", async () => {
    factory.registerProfile({ name: "py-both", role: "PyBoth", scopes: ["coder", "reviewer"], runtime: { kind: "process", command: ["python3", "/agent/echo_agent.py"], files: [echo] }, pool: { spawnStrategy: "manual" } });
    const { crew, agents: members } = await factory.assembleCrew({ name: "reviewers", members: [{ profile: "py-both", scopes: ["reviewer"] }] });
    assert.deepEqual(members[0]?.scopes, ["reviewer"]);
    const refused = await factory.waitForTask((await factory.submitTask({ role: "PyBoth", crewId: crew.id, input: { write: "/workspace/x" } })).id, 10_000);
    assert.match(JSON.stringify(refused.error), /Read-only file system/);
    await assert.rejects(factory.assembleCrew({ name: "wider", members: [{ profile: "py-coder", scopes: ["admin"] }] }), (error: unknown) => {
      assert.ok(isFactoryError(error));
      assert.equal(error.code, "VALIDATION_FAILED");
      assert.equal(error.field, "members.0.scopes");
      assert.match(error.message, /'admin' not among profile py-coder's scopes \(coder\); a manifest may narrow scopes, not widen them/);
      return true;
    });
  });

  it("an unknown scope is refused at registration, naming it and the known ones", () => {
    assert.throws(() => factory.registerProfile({ name: "typo", role: "Typo", scopes: ["coderr"] as never, pool: { spawnStrategy: "manual" } }), (error: unknown) => {
      assert.ok(isFactoryError(error));
      assert.equal(error.code, "VALIDATION_FAILED");
      assert.equal(error.field, "scopes.0");
      assert.match(error.message, /unknown scope "coderr" \(known: coder, reviewer, admin\)/);
      return true;
    });
  });
});
