// Pins profile, manifest and task schemas: defaults from seed 003, and errors that name the field.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FactoryError } from "../../src/core/errors.ts";
import { CrewManifestSchema } from "../../src/core/schemas/manifest.ts";
import { parseWith } from "../../src/core/schemas/parse.ts";
import { ProfileSchema } from "../../src/core/schemas/profile.ts";
import { TaskSubmitSchema } from "../../src/core/schemas/task.ts";

function fieldOf(fn: () => unknown): { field: string | undefined; message: string } {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof FactoryError);
    assert.equal(error.code, "VALIDATION_FAILED");
    return { field: error.field, message: error.message };
  }
  assert.fail("expected a validation error");
}

describe("profile schema", () => {
  it("applies the documented defaults", () => {
    const profile = parseWith(ProfileSchema, { name: "coder", role: "Coder" }, "profile");
    assert.deepEqual(profile, {
      name: "coder",
      role: "Coder",
      capabilities: [],
      cognitiveLoadLimit: 1,
      runtime: { kind: "function", handler: "echo" },
      scopes: [],
      pool: {
        maxSize: 16,
        warmSize: 3,
        idleTimeoutMs: 60_000,
        spawnRatePerSec: 10,
        healthIntervalMs: 5_000,
        stuckThresholdMs: 30_000,
        queueDepth: 100,
        balancer: "least-loaded",
        spawnStrategy: "on-demand",
      },
      // Heartbeat every second, three missed → UNHEALTHY (issue 5); quality over 20 outcomes.
      health: { heartbeatIntervalMs: 1_000, missedHeartbeats: 3, minSuccessRate: 0.5, qualityWindow: 20 },
    });
  });

  it("names a field of the wrong type", () => {
    const { field, message } = fieldOf(() => parseWith(ProfileSchema, { name: "c", role: "Coder", cognitiveLoadLimit: "two" }, "profile"));
    assert.equal(field, "cognitiveLoadLimit");
    assert.match(message, /^invalid profile: cognitiveLoadLimit: /);
  });

  it("names an unknown field (a typo is not silently ignored)", () => {
    const { field, message } = fieldOf(() => parseWith(ProfileSchema, { name: "c", role: "Coder", cognitveLoadLimit: 2 }, "profile"));
    assert.equal(field, "cognitveLoadLimit");
    assert.match(message, /unknown field 'cognitveLoadLimit'/);
  });

  it("names nested fields", () => {
    assert.equal(fieldOf(() => parseWith(ProfileSchema, { name: "c", role: "Coder", pool: { maxSize: 0 } }, "profile")).field, "pool.maxSize");
    assert.equal(fieldOf(() => parseWith(ProfileSchema, { name: "c", role: "Coder", runtime: { kind: "docker" } }, "profile")).field, "runtime.kind");
    assert.equal(fieldOf(() => parseWith(ProfileSchema, { name: "c", role: "Coder", capabilities: ["ok", 3] }, "profile")).field, "capabilities.1");
  });

  it("rejects a role that cannot be part of a wallet address, and a missing name", () => {
    assert.equal(fieldOf(() => parseWith(ProfileSchema, { name: "c", role: "code reviewer" }, "profile")).field, "role");
    assert.equal(fieldOf(() => parseWith(ProfileSchema, { role: "Coder" }, "profile")).field, "name");
  });
});

describe("crew manifest schema", () => {
  it("accepts named and inline members, count defaulting to 1", () => {
    const manifest = parseWith(
      CrewManifestSchema,
      { name: "team", members: [{ profile: "coder", count: 2 }, { profile: { name: "doc", role: "DocAgent" } }, { config: { name: "x", role: "X" } }] },
      "manifest",
    );
    assert.deepEqual(
      manifest.members.map((m) => m.count),
      [2, 1, 1],
    );
  });

  it("requires exactly one of profile and config, and at least one member", () => {
    assert.equal(fieldOf(() => parseWith(CrewManifestSchema, { name: "t", members: [{ count: 1 }] }, "manifest")).field, "members.0.profile");
    assert.equal(fieldOf(() => parseWith(CrewManifestSchema, { name: "t", members: [] }, "manifest")).field, "members");
    assert.equal(fieldOf(() => parseWith(CrewManifestSchema, { name: "t", members: [{ profile: "a", count: 0 }] }, "manifest")).field, "members.0.count");
  });
});

describe("task schema", () => {
  it("needs someone to run it", () => {
    const { field, message } = fieldOf(() => parseWith(TaskSubmitSchema, { input: 1 }, "task"));
    assert.equal(field, "role");
    assert.match(message, /'role', 'profile', 'capabilities' or 'agentId'/);
  });

  it("defaults priority 5 and one attempt, and bounds priority to 0-9", () => {
    const task = parseWith(TaskSubmitSchema, { role: "Coder" }, "task");
    assert.equal(task.priority, 5);
    assert.equal(task.maxAttempts, 1);
    assert.equal(fieldOf(() => parseWith(TaskSubmitSchema, { role: "Coder", priority: 10 }, "task")).field, "priority");
  });
});
