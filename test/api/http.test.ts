// Pins the HTTP contract in-process (no port): shapes and statuses, bad input as named 4xx, auth, OpenAPI, SSE.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApp } from "../../src/api/app.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { testFactory } from "../helpers.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const post = (body: unknown): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("HTTP API", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let app: OpenAPIHono;
  const call = async (path: string, init?: RequestInit): Promise<{ status: number; body: Json }> => {
    const response = await app.request(path, init);
    const text = await response.text();
    return { status: response.status, body: text.length === 0 ? {} : (JSON.parse(text) as Json) };
  };

  beforeEach(async () => {
    ({ factory, close } = await testFactory());
    app = createApp(factory);
  });
  afterEach(async () => close());

  describe("contract", () => {
    it("POST /v1/profiles → 201 with name and version; the same again → 200; a change → version 2", async () => {
      const first = await call("/v1/profiles", post({ name: "coder", role: "Coder" }));
      assert.equal(first.status, 201);
      assert.deepEqual([first.body.name, first.body.version, first.body.cognitiveLoadLimit], ["coder", 1, 1]);
      assert.equal((await call("/v1/profiles", post({ name: "coder", role: "Coder" }))).status, 200);
      const changed = await call("/v1/profiles", post({ name: "coder", role: "Coder", cognitiveLoadLimit: 4 }));
      assert.deepEqual([changed.status, changed.body.version], [201, 2]);
      assert.equal((await call("/v1/profiles/coder?version=1")).body.cognitiveLoadLimit, 1);
      assert.deepEqual((await call("/v1/profiles/coder/versions")).body.items.map((p: Json) => p.version), [1, 2]);
    });

    it("POST /v1/agents by profile or inline config → 201 with the agent; list, filter, get, delete", async () => {
      await call("/v1/profiles", post({ name: "coder", role: "Coder", capabilities: ["ts"] }));
      const byName = await call("/v1/agents", post({ profile: "coder" }));
      assert.equal(byName.status, 201);
      for (const key of ["id", "name", "role", "state", "walletAddress", "spawnedAt", "crewId", "capabilities"]) assert.ok(key in byName.body, key);
      assert.deepEqual([byName.body.state, byName.body.crewId, byName.body.capabilities], ["READY", null, ["ts"]]);
      const inline = await call("/v1/agents", post({ config: { name: "rev", role: "Reviewer" }, name: "rev-x" }));
      assert.deepEqual([inline.status, inline.body.name, inline.body.role], [201, "rev-x", "Reviewer"]);
      assert.equal((await call("/v1/agents")).body.items.length, 2);
      assert.deepEqual((await call("/v1/agents?role=Reviewer")).body.items.map((a: Json) => a.id), [inline.body.id]);
      assert.equal((await call("/v1/agents?state=BUSY")).body.items.length, 0);
      assert.equal((await call(`/v1/agents/${byName.body.id}`)).body.id, byName.body.id);
      const deleted = await call(`/v1/agents/${byName.body.id}`, { method: "DELETE" });
      assert.deepEqual([deleted.status, deleted.body.state], [200, "TERMINATED"]);
      assert.deepEqual((await call("/v1/agents?state=TERMINATED")).body.items.map((a: Json) => a.id), [byName.body.id]);
      const wallet = await call(`/v1/wallets/${byName.body.walletAddress}`);
      assert.deepEqual([wallet.status, wallet.body.balance, wallet.body.achievementTokens, "tokens" in wallet.body], [200, 0, 1000, false]);
    });

    it("assembles a crew (201 with agents), broadcasts (202 with delivered), lists messages, disbands (202)", async () => {
      const crew = await call("/v1/crews/assemble", post({ manifest: { name: "team", budget: 50, members: [{ profile: { name: "c", role: "Coder" }, count: 3 }] } }));
      assert.equal(crew.status, 201);
      assert.deepEqual([crew.body.state, crew.body.agents.length, crew.body.budget], ["ACTIVE", 3, 50]);
      assert.ok(crew.body.agents.every((a: Json) => a.state === "READY" && a.crewId === crew.body.id));
      const sent = await call(`/v1/crews/${crew.body.id}/broadcast`, post({ signal: "MISSION_START", payload: { goal: 1 } }));
      assert.deepEqual([sent.status, sent.body.delivered], [202, 3]);
      const published = await call(`/v1/crews/${crew.body.id}/messages`, post({ topic: "plans/draft", payload: "v1" }));
      assert.equal(published.status, 202);
      const messages = await call(`/v1/crews/${crew.body.id}/messages`);
      assert.deepEqual(messages.body.items.map((m: Json) => [m.topic, m.signal, m.payload]), [["signals", "MISSION_START", { goal: 1 }], ["plans/draft", null, "v1"]]);
      assert.equal((await call(`/v1/crews/${crew.body.id}/messages?topic=signals`)).body.items.length, 1);
      const put = await call(`/v1/crews/${crew.body.id}/context/plan`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ value: [1, 2] }) });
      assert.deepEqual([put.status, put.body], [200, { key: "plan", value: [1, 2] }]);
      assert.deepEqual((await call(`/v1/crews/${crew.body.id}/context`)).body, { context: { plan: [1, 2] } });
      assert.equal((await call(`/v1/crews/${crew.body.id}/context/plan`, { method: "DELETE" })).status, 204);
      assert.equal((await call(`/v1/crews/${crew.body.id}/context/plan`)).status, 404);
      const disbanded = await call(`/v1/crews/${crew.body.id}`, { method: "DELETE" });
      assert.deepEqual([disbanded.status, disbanded.body.state], [202, "DISBANDED"]);
      assert.equal((await call(`/v1/crews/${crew.body.id}`, { method: "DELETE" })).status, 409);
    });

    it("POST /v1/tasks → 202; GET with waitMs long-polls to the final state; cancel → 202", async () => {
      await call("/v1/agents", post({ config: { name: "s", role: "Sleeper", runtime: { kind: "function", handler: "sleep" } } }));
      const submitted = await call("/v1/tasks", post({ role: "Sleeper", input: { ms: 30 }, priority: 1 }));
      assert.equal(submitted.status, 202);
      assert.match(submitted.body.id, /^task_/);
      const done = await call(`/v1/tasks/${submitted.body.id}?waitMs=2000`);
      assert.deepEqual([done.status, done.body.state, done.body.result, done.body.attempts], [200, "SUCCEEDED", { ms: 30 }, 1]);
      for (const key of ["agentId", "createdAt", "startedAt", "finishedAt"]) assert.equal(typeof done.body[key], "string", key);
      // A profile with no agent: its task waits.
      await call("/v1/profiles", post({ name: "idle", role: "Idle", pool: { spawnStrategy: "manual" } }));
      const waiting = await call("/v1/tasks", post({ role: "Idle" }));
      const started = Date.now();
      const still = await call(`/v1/tasks/${waiting.body.id}?waitMs=100`);
      assert.ok(Date.now() - started >= 95);
      assert.equal(still.body.state, "QUEUED");
      const cancelled = await call(`/v1/tasks/${waiting.body.id}/cancel`, { method: "POST" });
      assert.deepEqual([cancelled.status, cancelled.body.state], [202, "CANCELLED"]);
      assert.equal((await call(`/v1/tasks/${waiting.body.id}/cancel`, { method: "POST" })).status, 409);
      assert.equal((await call("/v1/tasks?state=CANCELLED")).body.items.length, 1);
    });

    it("answers /health, /ready and /openapi.json documenting every route", async () => {
      assert.deepEqual((await call("/health")).body, { status: "ok" });
      const ready = await call("/ready");
      assert.deepEqual([ready.status, ready.body.status], [200, "ready"]);
      const doc = (await call("/openapi.json")).body;
      assert.equal(doc.openapi, "3.1.0");
      const documented = Object.entries(doc.paths as Record<string, Json>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
      const served = app.routes
        .filter((r) => (r.path.startsWith("/v1/") || r.path === "/health" || r.path === "/ready" || r.path === "/metrics" || r.path === "/.well-known/jwks.json" || r.path === "/ui" || r.path.startsWith("/ui/") || r.path === "/docs") && r.method !== "ALL")
        .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
      assert.deepEqual([...new Set(documented)].sort(), [...new Set(served)].sort());
      assert.ok(doc.components.schemas.Profile, "Profile schema is documented");
    });
  });

  describe("bad input", () => {
    const expectError = async (path: string, init: RequestInit | undefined, status: number, code: string, field?: string) => {
      const { status: got, body } = await call(path, init);
      assert.equal(got, status, JSON.stringify(body));
      assert.equal(body.error?.code, code);
      assert.equal(typeof body.error?.message, "string");
      if (field !== undefined) assert.equal(body.error.field, field);
      return body.error as Json;
    };

    it("malformed JSON → 400 MALFORMED_JSON", async () => {
      await expectError("/v1/profiles", { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" }, 400, "MALFORMED_JSON");
    });

    it("a field of the wrong type or an unknown field → 400 naming it", async () => {
      const wrong = await expectError("/v1/profiles", post({ name: "c", role: "Coder", cognitiveLoadLimit: "2" }), 400, "VALIDATION_FAILED", "cognitiveLoadLimit");
      assert.match(wrong.message, /cognitiveLoadLimit/);
      await expectError("/v1/profiles", post({ name: "c", role: "Coder", colour: "red" }), 400, "VALIDATION_FAILED", "colour");
      await expectError("/v1/tasks", post({ role: "Coder", priority: -1 }), 400, "VALIDATION_FAILED", "priority");
      await expectError("/v1/crews/assemble", post({ manifest: { name: "t", members: [{ profile: "c", count: "many" }] } }), 400, "VALIDATION_FAILED", "manifest.members.0.count");
      await expectError("/v1/agents", post({ profile: "a", config: { name: "b", role: "B" } }), 400, "VALIDATION_FAILED", "profile");
      await expectError("/v1/tasks/task_x?waitMs=lots", undefined, 400, "VALIDATION_FAILED", "waitMs");
      await expectError("/v1/agents?state=SLEEPY", undefined, 400, "VALIDATION_FAILED", "state");
    });

    it("a body over 1 MiB → 413, and nothing of it is kept", async () => {
      await expectError("/v1/profiles", post({ name: "big", role: "Coder", description: "x".repeat(1_100_000) }), 413, "PAYLOAD_TOO_LARGE");
      assert.equal((await call("/v1/profiles")).body.items.length, 0);
    });

    it("a body that is not JSON → 415 naming the content type", async () => {
      const error = await expectError("/v1/profiles", { method: "POST", headers: { "content-type": "text/plain" }, body: "name: c" }, 415, "UNSUPPORTED_MEDIA_TYPE");
      assert.match(error.message, /text\/plain/);
    });

    it("unknown profile, crew, agent or task → 404 with its code", async () => {
      await expectError("/v1/agents", post({ profile: "ghost" }), 404, "PROFILE_NOT_FOUND", "profile");
      await expectError("/v1/crews/assemble", post({ manifest: { name: "t", members: [{ profile: "ghost" }] } }), 404, "PROFILE_NOT_FOUND", "members.0.profile");
      await expectError("/v1/tasks", post({ role: "Coder", crewId: "crew_nope" }), 404, "CREW_NOT_FOUND", "crewId");
      await expectError("/v1/crews/crew_nope/broadcast", post({ signal: "PAUSE" }), 404, "CREW_NOT_FOUND");
      await expectError("/v1/agents/agent_nope", undefined, 404, "AGENT_NOT_FOUND");
      await expectError("/v1/tasks/task_nope", undefined, 404, "TASK_NOT_FOUND");
      await expectError("/v1/nowhere", undefined, 404, "NOT_FOUND");
    });

    it("an illegal transition → 409 naming the current and requested state", async () => {
      const agent = (await call("/v1/agents", post({ config: { name: "c", role: "Coder" } }))).body;
      await call(`/v1/agents/${agent.id}`, { method: "DELETE" });
      const error = await expectError(`/v1/agents/${agent.id}`, { method: "DELETE" }, 409, "ILLEGAL_TRANSITION");
      assert.deepEqual(error.details, { current: "TERMINATED", requested: "DRAINING" });
      assert.match(error.message, /TERMINATED to DRAINING/);
    });

    it("an unknown handler → 400 naming runtime.handler; a bad signal name → 400", async () => {
      await expectError("/v1/profiles", post({ name: "x", role: "X", runtime: { kind: "function", handler: "gpt" } }), 400, "UNKNOWN_HANDLER", "runtime.handler");
      const crew = (await call("/v1/crews/assemble", post({ manifest: { name: "t", members: [{ config: { name: "c", role: "C" } }] } }))).body;
      await expectError(`/v1/crews/${crew.id}/broadcast`, post({ signal: "no spaces" }), 400, "VALIDATION_FAILED", "signal");
    });

    it("JSON nested deeper than 64 levels → 400 naming the field, and the store keeps working", async () => {
      const deep = (n: number): unknown => (n === 0 ? 1 : [deep(n - 1)]);
      await call("/v1/profiles", post({ name: "coder", role: "Coder", pool: { spawnStrategy: "manual" } }));
      const bomb = `{"role":"Coder","input":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
      await expectError("/v1/tasks", { method: "POST", headers: { "content-type": "application/json" }, body: bomb }, 400, "VALIDATION_FAILED", "input");
      await expectError("/v1/tasks", post({ role: "Coder", input: deep(65) }), 400, "VALIDATION_FAILED", "input");
      assert.equal((await call("/v1/tasks", post({ role: "Coder", input: deep(60) }))).status, 202);
      const crew = (await call("/v1/crews/assemble", post({ manifest: { name: "t", members: [{ config: { name: "c", role: "C" } }] } }))).body;
      const put = { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ value: deep(70) }) };
      await expectError(`/v1/crews/${crew.id}/context/k`, put, 400, "VALIDATION_FAILED", "value");
      await expectError(`/v1/crews/${crew.id}/messages`, post({ topic: "t", payload: deep(70) }), 400, "VALIDATION_FAILED", "payload");
      assert.equal((await call("/ready")).status, 200);
      assert.equal((await call("/v1/tasks", post({ role: "Coder", input: 1 }))).status, 202);
    });

    it("unknown query parameters, unknown event types and lower-case signals → 400 naming them", async () => {
      await expectError("/v1/agents?stat=READY", undefined, 400, "VALIDATION_FAILED", "stat");
      await expectError("/v1/events?types=bogus", undefined, 400, "VALIDATION_FAILED", "types");
      const crew = (await call("/v1/crews/assemble", post({ manifest: { name: "t", members: [{ config: { name: "c", role: "C" } }] } }))).body;
      const error = await expectError(`/v1/crews/${crew.id}/broadcast`, post({ signal: "pause" }), 400, "VALIDATION_FAILED", "signal");
      assert.match(error.message, /UPPER_CASE/);
      assert.equal((await call(`/v1/crews/${crew.id}`)).body.state, "ACTIVE");
    });

    it("a typo in a manifest's top-level field is named (not the field it hides)", async () => {
      const error = await expectError("/v1/crews/assemble", post({ manifest: { name: "t", memebers: [] } }), 400, "VALIDATION_FAILED", "manifest.memebers");
      assert.match(error.message, /unknown field 'memebers'/);
    });

    it("keeps what was accepted when bad requests arrive in between", async () => {
      await call("/v1/profiles", post({ name: "c", role: "Coder", pool: { spawnStrategy: "manual" } }));
      const task = (await call("/v1/tasks", post({ role: "Coder" }))).body;
      await call("/v1/tasks", { method: "POST", headers: { "content-type": "application/json" }, body: "[" });
      await call("/v1/tasks", post({ role: 7 }));
      assert.equal((await call(`/v1/tasks/${task.id}`)).body.state, "QUEUED");
      assert.equal((await call("/v1/profiles")).body.items.length, 1);
    });
  });

  describe("scheduling", () => {
    it("a full queue → 429 QUEUE_FULL with Retry-After; an idempotency key repeated → 200 with the first task", async () => {
      await call("/v1/profiles", post({ name: "q", role: "Q", pool: { spawnStrategy: "manual", queueDepth: 1 } }));
      assert.equal((await call("/v1/tasks", post({ role: "Q" }))).status, 202);
      const response = await app.request("/v1/tasks", post({ role: "Q" }));
      assert.equal(response.status, 429);
      assert.match(response.headers.get("retry-after") ?? "", /^\d+$/);
      assert.equal(((await response.json()) as Json).error.code, "QUEUE_FULL");
      const first = await call("/v1/tasks", post({ role: "Q", profile: "q", idempotencyKey: "k-1" }));
      const again = await call("/v1/tasks", post({ role: "Q", profile: "q", idempotencyKey: "k-1" }));
      assert.deepEqual([first.status, again.status, again.body.id], [202, 200, first.body.id]);
    });

    it("lists dead letters and re-drives one; clones an agent; shows pools", async () => {
      const agent = (await call("/v1/agents", post({ config: { name: "f", role: "F", runtime: { kind: "function", handler: "fail" }, pool: { spawnStrategy: "manual" } } }))).body;
      const task = (await call("/v1/tasks", post({ role: "F", input: { message: "nope" } }))).body;
      assert.equal((await call(`/v1/tasks/${task.id}?waitMs=2000`)).body.state, "DEAD");
      assert.deepEqual((await call("/v1/tasks?state=DEAD")).body.items.map((t: Json) => t.id), [task.id]);
      const redriven = await call(`/v1/tasks/${task.id}/retry`, { method: "POST" });
      assert.deepEqual([redriven.status, redriven.body.redrives], [202, 1]);
      await call("/v1/profiles", post({ name: "nobody", role: "Nobody", pool: { spawnStrategy: "manual" } }));
      const waiting = (await call("/v1/tasks", post({ role: "Nobody" }))).body;
      const notDead = await call(`/v1/tasks/${waiting.id}/retry`, { method: "POST" });
      assert.deepEqual([notDead.status, notDead.body.error.code], [409, "TASK_NOT_DEAD"]);
      const clone = await call(`/v1/agents/${agent.id}/clone`, { method: "POST" });
      assert.deepEqual([clone.status, clone.body.profile, clone.body.state], [201, "f", "READY"]);
      const pools = await call("/v1/pools");
      assert.deepEqual(pools.body.items.map((p: Json) => [p.profile, p.spawnStrategy, p.size, p.queued]), [["f", "manual", 2, 0], ["nobody", "manual", 0, 1]]);
      assert.equal((await call("/v1/pools/f")).body.size, 2);
      assert.equal((await call("/v1/pools/ghost")).status, 404);
    });
  });

  describe("auth", () => {
    it("requires the bearer key on /v1 when one is set, and not on /health", async () => {
      const secured = createApp(factory, { apiKey: "s3cret" });
      const denied = await secured.request("/v1/agents");
      assert.equal(denied.status, 401);
      assert.equal(((await denied.json()) as Json).error.code, "UNAUTHORIZED");
      assert.equal((await secured.request("/v1/agents", { headers: { authorization: "Bearer wrong!" } })).status, 401);
      assert.equal((await secured.request("/v1/agents", { headers: { authorization: "Bearer s3cret" } })).status, 200);
      assert.equal((await secured.request("/health")).status, 200);
    });
  });

  describe("events", () => {
    it("streams state changes as SSE, and replays stored ones after a seq", async () => {
      const controller = new AbortController();
      const response = await app.request("/v1/events?types=agent.state", { signal: controller.signal });
      assert.equal(response.headers.get("content-type"), "text/event-stream");
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let text = "";
      const readUntil = async (pattern: RegExp) => {
        while (!pattern.test(text)) {
          const { value, done } = await reader.read();
          if (done) break;
          text += decoder.decode(value);
        }
      };
      await readUntil(/event: ready/);
      const agent = (await call("/v1/agents", post({ config: { name: "c", role: "Coder" } }))).body;
      await readUntil(/"to":"READY"/);
      controller.abort();
      const states = [...text.matchAll(/^data: (\{.*"type":"agent\.state".*\})$/gm)].map((m) => JSON.parse(m[1] as string) as Json);
      assert.deepEqual(states.filter((e) => e.agentId === agent.id).map((e) => e.to), ["PROVISIONING", "WARMING", "READY"]);

      const replay = await app.request(`/v1/events?types=agent.state&after=0`);
      const replayReader = (replay.body as ReadableStream<Uint8Array>).getReader();
      let replayed = "";
      while (!/event: ready/.test(replayed)) replayed += decoder.decode((await replayReader.read()).value);
      await replayReader.cancel();
      assert.equal((replayed.match(/^event: agent\.state$/gm) ?? []).length, 3);
      assert.match(replayed, /^id: \d+$/m);
    });
  });
});
