// Pins that `sandbox: { kind: none }` (a plain child process on the host) is refused unless the operator allowed unsandboxed agents — at registration and at spawn.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { createApp } from "../../src/api/app.ts";
import { FactoryError } from "../../src/core/errors.ts";
import { createFactory } from "../../src/factory/create-factory.ts";
import { silentLogger, tempDir, testFactory } from "../helpers.ts";
import { cli } from "../e2e/serve.ts";
import type { ProfileInput } from "../../src/core/schemas/profile.ts";

const root = resolve(import.meta.dirname, "../..");
const post = (body: unknown): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const REFUSAL =
  "sandbox.kind: 'none' would run the program on the host, unsandboxed, as the factory's user; this server does not allow it (start it with --allow-unsandboxed, or createFactory({ allowUnsandboxed: true }))";

const plain: ProfileInput = {
  name: "plain",
  role: "Plain",
  runtime: { kind: "process", command: ["python3", join(root, "examples/agents/echo_agent.py")] },
  sandbox: { kind: "none" },
  pool: { spawnStrategy: "manual" },
};

describe("unsandboxed agents", () => {
  it("are refused by default: POST /v1/profiles and an inline spawn answer 400 naming sandbox.kind and the flag; nothing is registered", async () => {
    const { factory, close } = await testFactory();
    try {
      const app = createApp(factory);
      const registered = await app.request("/v1/profiles", post(plain));
      assert.equal(registered.status, 400);
      assert.deepEqual(await registered.json(), { error: { code: "VALIDATION_FAILED", message: REFUSAL, field: "sandbox.kind" } });
      const spawned = await app.request("/v1/agents", post({ config: plain }));
      assert.equal(spawned.status, 400);
      assert.deepEqual(await spawned.json(), { error: { code: "VALIDATION_FAILED", message: `config.${REFUSAL}`, field: "config.sandbox.kind" } });
      const crew = await app.request("/v1/crews/assemble", post({ manifest: { name: "c", members: [{ config: plain }] } }));
      assert.equal(crew.status, 400);
      assert.equal(((await crew.json()) as { error: { field: string } }).error.field, "members.0.config.sandbox.kind");
      assert.deepEqual(factory.listProfiles(), []);
      assert.deepEqual(await factory.listAgents(), []);
    } finally {
      await close();
    }
  });

  it("a profile registered while allowed cannot spawn after a restart without the permission", async () => {
    const dir = tempDir();
    try {
      const open = await createFactory({ dataDir: dir.path, logger: silentLogger, allowUnsandboxed: true });
      open.registerProfile(plain);
      const agent = await open.spawnAgent({ profile: "plain" });
      assert.equal(agent.state, "READY");
      await open.close({ force: true });
      const closed = await createFactory({ dataDir: dir.path, logger: silentLogger });
      try {
        await assert.rejects(closed.spawnAgent({ profile: "plain" }), (error: unknown) => {
          assert.ok(error instanceof FactoryError);
          assert.deepEqual([error.code, error.field], ["AGENT_START_FAILED", "sandbox.kind"]);
          assert.match(error.message, new RegExp(`^agent agent_\\w+ \\(plain\\) failed to start: ${REFUSAL.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`));
          return true;
        });
        // The agent that ran before the restart was not brought back unsandboxed either.
        assert.equal((await closed.getAgent(agent.id)).state, "TERMINATED");
      } finally {
        await closed.close({ force: true });
      }
    } finally {
      dir.cleanup();
    }
  });
});

describe("agents with egress", () => {
  // An agent on the host's network reaches its loopback, and a keyless API there is an admin's.
  const EGRESS_REFUSAL =
    "sandbox.allowEgress: the agent would share this host's network, loopback included (this factory's API, local databases); this server does not allow it (start it with --allow-egress and an AGENT_FACTORY_API_KEY, or createFactory({ allowEgress: true }))";
  const egress: ProfileInput = { name: "net", role: "Net", sandbox: { allowEgress: true }, runtime: { kind: "process", command: ["python3", "/agent/echo_agent.py"] }, pool: { spawnStrategy: "manual" } };

  it("are refused by default: POST /v1/profiles answers 400 naming sandbox.allowEgress and the flag; allowed with createFactory({ allowEgress: true })", async () => {
    const refused = await testFactory();
    try {
      const registered = await createApp(refused.factory).request("/v1/profiles", post(egress));
      assert.equal(registered.status, 400);
      assert.deepEqual(await registered.json(), { error: { code: "VALIDATION_FAILED", message: EGRESS_REFUSAL, field: "sandbox.allowEgress" } });
      assert.deepEqual(refused.factory.listProfiles(), []);
    } finally {
      await refused.close();
    }
    const allowed = await testFactory({ allowEgress: true });
    try {
      assert.equal((await createApp(allowed.factory).request("/v1/profiles", post(egress))).status, 201);
    } finally {
      await allowed.close();
    }
  });
});

describe("serve --allow-egress", () => {
  it("refuses to start without AGENT_FACTORY_API_KEY (exit 2, saying why), before it opens anything", async () => {
    const data = tempDir();
    try {
      const refused = await cli("http://127.0.0.1:1", "serve", "--port", "0", "--data", data.path, "--allow-egress");
      assert.equal(refused.code, 2);
      assert.equal(refused.stderr.trim(), "error: --allow-egress needs AGENT_FACTORY_API_KEY: an agent with egress shares this host's loopback and could drive a keyless API");
      assert.equal(existsSync(join(data.path, "factory.db")), false);
    } finally {
      data.cleanup();
    }
  });
});
