// Pins operator keys and agents' tokens in-process: the /v1/keys contract, and a caller × route matrix generated from the OpenAPI document and the one access table — every operation × {own crew, another crew, no crew} × {agent token (plain, admin scope, in no crew), crew-limited key, viewer, operator, admin, no key, revoked key, expired token, token signed by another key} — with zero cross-crew successes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { generateKeyPair, SignJWT } from "jose";
import { ACCESS, accessOf, agentAccessOf } from "../../src/api/access.ts";
import { createMemoryStore } from "../../src/adapters/store/memory/memory-store.ts";
import type { Store } from "../../src/core/ports/store.ts";
import { AgentTokens } from "../../src/security/agent-tokens.ts";
import { SigningKeys } from "../../src/security/signing-keys.ts";
import { createApp } from "../../src/api/app.ts";
import { OPERATOR_ROLES, roleAllows, type OperatorRole } from "../../src/core/operator-key.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { testFactory } from "../helpers.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ROOT = "root-env-key";
const json = (method: string, body: unknown, key?: string): RequestInit => ({
  method,
  headers: { "content-type": "application/json", ...(key === undefined ? {} : { authorization: `Bearer ${key}` }) },
  body: JSON.stringify(body),
});
const get = (key?: string): RequestInit => ({ headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });

async function call(app: OpenAPIHono, path: string, init?: RequestInit): Promise<{ status: number; body: Json }> {
  const response = await app.request(path, init);
  // The event stream never ends: its status is the answer.
  if ((response.headers.get("content-type") ?? "").includes("text/event-stream")) {
    await response.body?.cancel();
    return { status: response.status, body: {} };
  }
  const text = await response.text();
  // The metrics are text: their status is the answer.
  if (!(response.headers.get("content-type") ?? "").includes("json")) return { status: response.status, body: {} };
  return { status: response.status, body: text.length === 0 ? {} : (JSON.parse(text) as Json) };
}

describe("operator keys: the contract", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let app: OpenAPIHono;
  before(async () => {
    ({ factory, close } = await testFactory());
    app = createApp(factory);
  });
  after(async () => close());

  it("with no key anywhere /v1 is open; the first key closes it; /health, /ready and /openapi.json stay open", async () => {
    assert.equal((await call(app, "/v1/profiles")).status, 200);
    const created = await call(app, "/v1/keys", json("POST", { name: "dashboard", role: "viewer" }));
    assert.equal(created.status, 201);
    assert.deepEqual(Object.keys(created.body).sort(), ["createdAt", "crews", "id", "name", "role", "secret"]);
    assert.deepEqual([created.body.name, created.body.role, created.body.crews], ["dashboard", "viewer", null]);
    assert.match(created.body.secret, new RegExp(`^afk_${created.body.id}_[A-Za-z0-9_-]{43}$`));
    const refused = await call(app, "/v1/profiles");
    assert.deepEqual([refused.status, refused.body.error.code], [401, "UNAUTHORIZED"]);
    assert.equal((await call(app, "/v1/profiles", get(created.body.secret))).status, 200);
    assert.equal((await call(app, "/v1/profiles", get(`${created.body.secret.slice(0, -1)}x`))).status, 401);
    for (const open of ["/health", "/ready", "/openapi.json"]) assert.equal((await call(app, open)).status, 200, open);
    const doc = (await call(app, "/openapi.json")).body;
    assert.deepEqual(doc.security, [{ apiKey: [] }]);
  });

  it("an admin key creates, lists (never a secret) and revokes keys; a revoked key is refused at once; a viewer cannot manage keys", async () => {
    const admin = (await call(app, "/v1/keys", json("POST", { name: "root", role: "admin" }, undefined))).body;
    // Keys exist now (the test above made one), so making another needs an admin key: the first test's viewer may not.
    assert.equal(admin.error?.code, "UNAUTHORIZED");
    const viewer = (await factory.createOperatorKey({ name: "v", role: "viewer" })).secret;
    const rootKey = (await factory.createOperatorKey({ name: "root", role: "admin" })).secret;
    const denied = await call(app, "/v1/keys", json("POST", { name: "x", role: "viewer" }, viewer));
    assert.deepEqual([denied.status, denied.body.error.code, denied.body.error.details], [403, "FORBIDDEN", { required: "admin", role: "viewer" }]);
    const made = await call(app, "/v1/keys", json("POST", { name: "ops", role: "operator" }, rootKey));
    assert.equal(made.status, 201);
    const listed = await call(app, "/v1/keys", get(rootKey));
    assert.equal(listed.status, 200);
    assert.ok(listed.body.items.some((k: Json) => k.id === made.body.id && k.role === "operator"));
    assert.ok(listed.body.items.every((k: Json) => !("secret" in k) && !("secretHash" in k)));
    assert.equal(JSON.stringify(listed.body).includes(made.body.secret), false);
    assert.equal((await call(app, "/v1/agents", get(made.body.secret))).status, 200);
    assert.equal((await call(app, `/v1/keys/${made.body.id}`, { method: "DELETE", ...get(rootKey) })).status, 204);
    const gone = await call(app, "/v1/agents", get(made.body.secret));
    assert.deepEqual([gone.status, gone.body.error.code], [401, "UNAUTHORIZED"]);
    const again = await call(app, `/v1/keys/${made.body.id}`, { method: "DELETE", ...get(rootKey) });
    assert.deepEqual([again.status, again.body.error.code], [404, "NOT_FOUND"]);
  });

  it("refuses bad keys by name: an unknown role, an admin limited to crews, a crew that does not exist", async () => {
    const rootKey = (await factory.createOperatorKey({ name: "root2", role: "admin" })).secret;
    const role = await call(app, "/v1/keys", json("POST", { name: "x", role: "owner" }, rootKey));
    assert.deepEqual([role.status, role.body.error.field], [400, "role"]);
    const adminCrews = await call(app, "/v1/keys", json("POST", { name: "x", role: "admin", crews: ["crew_x"] }, rootKey));
    assert.deepEqual([adminCrews.status, adminCrews.body.error.field], [400, "crews"]);
    const ghost = await call(app, "/v1/keys", json("POST", { name: "x", role: "viewer", crews: ["crew_ghost"] }, rootKey));
    assert.deepEqual([ghost.status, ghost.body.error.code, ghost.body.error.field], [404, "CREW_NOT_FOUND", "crews.0"]);
  });

  it("records refusals as security.denied events: the key id, role, operation and reason, never the secret", async () => {
    const viewer = await factory.createOperatorKey({ name: "v2", role: "viewer" });
    await call(app, "/v1/profiles", json("POST", { name: "p", role: "P" }, viewer.secret));
    await call(app, "/v1/profiles", get("afk_nope"));
    const events = (await factory.listEvents({ types: ["security.denied"] })).map((e) => e.data as Json);
    assert.ok(events.some((d) => d.code === "FORBIDDEN" && d.keyId === viewer.id && d.role === "viewer" && d.operation === "registerProfile"));
    assert.ok(events.some((d) => d.code === "UNAUTHORIZED" && d.keyId === null && d.reason === "unknown or revoked key"));
    assert.equal(JSON.stringify(events).includes(viewer.secret), false);
  });
});

describe("operator keys: a crew-limited key and what is shared between crews", () => {
  it("reusing another crew's idempotency key does not hand back its task: 409 IDEMPOTENCY_KEY_REUSED, for a crew-limited key and an unlimited one alike", async () => {
    const { factory, close } = await testFactory();
    try {
      const app = createApp(factory, { apiKey: ROOT });
      const fx = await fixtures(factory, app);
      const theirs = await call(app, "/v1/tasks", json("POST", { crewId: fx.b.crew, role: "W", idempotencyKey: "shared-key" }, ROOT));
      assert.equal(theirs.status, 202);
      const mine = await call(app, "/v1/tasks", json("POST", { crewId: fx.a.crew, role: "W", idempotencyKey: "shared-key" }, fx.keys.crewOperator));
      assert.deepEqual([mine.status, mine.body.error?.code, JSON.stringify(mine.body).includes(theirs.body.id)], [409, "IDEMPOTENCY_KEY_REUSED", false]);
      const unlimited = await call(app, "/v1/tasks", json("POST", { crewId: fx.a.crew, role: "W", idempotencyKey: "shared-key" }, ROOT));
      assert.deepEqual([unlimited.status, unlimited.body.error?.code, JSON.stringify(unlimited.body).includes(theirs.body.id)], [409, "IDEMPOTENCY_KEY_REUSED", false]);
      // The same crew replaying its own key gets its task back.
      const again = await call(app, "/v1/tasks", json("POST", { crewId: fx.b.crew, role: "W", idempotencyKey: "shared-key" }, ROOT));
      assert.deepEqual([again.status, again.body.id], [200, theirs.body.id]);
      // A sub-task names a parent of its own crew only.
      const parent = await call(app, "/v1/tasks", json("POST", { crewId: fx.a.crew, role: "W", parentTaskId: theirs.body.id }, fx.keys.crewOperator));
      assert.deepEqual([parent.status, parent.body.error?.code, parent.body.error?.field], [403, "CROSS_CREW", "parentTaskId"]);
    } finally {
      await close();
    }
  });

  it("a crew-limited key's lists hold only its crews' things, even unfiltered, and a filter naming another crew is 403", async () => {
    const { factory, close } = await testFactory();
    try {
      const app = createApp(factory, { apiKey: ROOT });
      const fx = await fixtures(factory, app);
      const key = fx.keys.crewViewer;
      assert.deepEqual((await call(app, "/v1/crews", get(key))).body.items.map((c: Json) => c.id), [fx.a.crew]);
      assert.deepEqual((await call(app, "/v1/agents", get(key))).body.items.map((a: Json) => a.id), [fx.a.agent]);
      assert.deepEqual((await call(app, "/v1/tasks", get(key))).body.items.map((t: Json) => t.id), [fx.a.task]);
      assert.deepEqual((await call(app, "/v1/budgets", get(key))).body.items.map((b: Json) => b.key), [`crew:${fx.a.crew}`]);
      assert.ok((await call(app, "/v1/ledger", get(key))).body.items.every((e: Json) => e.crewId === fx.a.crew));
      // An admin sees both.
      assert.equal((await call(app, "/v1/crews", get(ROOT))).body.items.length, 2);
      const other = await call(app, `/v1/tasks?crewId=${fx.b.crew}`, get(key));
      assert.deepEqual([other.status, other.body.error.code], [403, "CROSS_CREW"]);
    } finally {
      await close();
    }
  });
});

describe("operator keys: paging with a crew-limited key", () => {
  it("every page and every cursor of its lists is of its own crew: filtered before paging, not cut after", async () => {
    const { factory, close } = await testFactory();
    try {
      const app = createApp(factory, { apiKey: ROOT });
      const fx = await fixtures(factory, app);
      // Interleaved: newest first, another crew's items sit between the key's own.
      for (let i = 0; i < 3; i++) {
        for (const crew of [fx.a.crew, fx.b.crew]) {
          assert.equal((await call(app, "/v1/tasks", json("POST", { crewId: crew, role: "W", input: { i } }, ROOT))).status, 202);
          await factory.spawnCrewMember(crew, "w");
        }
      }
      const key = fx.keys.crewViewer;
      const decode = (cursor: string): [string, string] => JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as [string, string];
      for (const [path, ownIds] of [
        ["/v1/tasks", new Set((await factory.listTasks({ crewId: fx.a.crew })).map((t) => t.id))],
        ["/v1/agents", new Set((await factory.listAgents({ crewId: fx.a.crew })).map((a) => a.id))],
        ["/v1/crews", new Set([fx.a.crew])],
      ] as const) {
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const page = await call(app, `${path}?limit=1${cursor === null ? "" : `&cursor=${cursor}`}`, get(key));
          assert.equal(page.status, 200, JSON.stringify(page.body));
          seen.push(...(page.body.items as Json[]).map((item) => item.id as string));
          cursor = page.body.nextCursor as string | null;
          if (cursor !== null) assert.ok(ownIds.has(decode(cursor)[1]), `${path}: a cursor names ${decode(cursor)[1]}, not one of the key's crew's`);
        } while (cursor !== null);
        assert.deepEqual(new Set(seen), ownIds, path);
      }
    } finally {
      await close();
    }
  });
});

/** The things of one crew a request is about. */
interface Side {
  crew: string;
  agent: string;
  agentWallet: string;
  wallet: string;
  task: string;
}

type Sample = (side: Side, fx: { spareKey: string }) => { path: string; init?: RequestInit; otherQuery?: string };

/** A request for each operation, about `side`'s things; the operations themselves come from the document. */
const SAMPLES: Record<string, Sample> = {
  registerProfile: () => ({ path: "/v1/profiles", init: json("POST", { name: "p2", role: "R" }) }),
  listProfiles: () => ({ path: "/v1/profiles" }),
  getProfile: () => ({ path: "/v1/profiles/w" }),
  listProfileVersions: () => ({ path: "/v1/profiles/w/versions" }),
  spawnAgent: () => ({ path: "/v1/agents", init: json("POST", { profile: "w" }) }),
  listAgents: () => ({ path: "/v1/agents" }),
  getAgent: (s) => ({ path: `/v1/agents/${s.agent}` }),
  terminateAgent: (s) => ({ path: `/v1/agents/${s.agent}`, init: { method: "DELETE" } }),
  cloneAgent: (s) => ({ path: `/v1/agents/${s.agent}/clone`, init: { method: "POST" } }),
  hibernateAgent: (s) => ({ path: `/v1/agents/${s.agent}/hibernate`, init: { method: "POST" } }),
  wakeAgent: (s) => ({ path: `/v1/agents/${s.agent}/wake`, init: { method: "POST" } }),
  callAgentModel: (s) => ({ path: `/v1/agents/${s.agent}/model-calls`, init: json("POST", { taskId: s.task, messages: [{ role: "user", content: "hi" }] }) }),
  getWallet: (s) => ({ path: `/v1/wallets/${s.wallet}` }),
  assembleCrew: () => ({ path: "/v1/crews/assemble", init: json("POST", { manifest: { name: "n", members: [{ profile: "w" }] } }) }),
  listCrews: () => ({ path: "/v1/crews" }),
  getCrew: (s) => ({ path: `/v1/crews/${s.crew}` }),
  disbandCrew: (s) => ({ path: `/v1/crews/${s.crew}`, init: { method: "DELETE" } }),
  spawnCrewMember: (s) => ({ path: `/v1/crews/${s.crew}/members`, init: json("POST", { profile: "w" }) }),
  broadcastToCrew: (s) => ({ path: `/v1/crews/${s.crew}/broadcast`, init: json("POST", { signal: "PING" }) }),
  listCrewMessages: (s) => ({ path: `/v1/crews/${s.crew}/messages` }),
  publishCrewMessage: (s) => ({ path: `/v1/crews/${s.crew}/messages`, init: json("POST", { topic: "t", payload: 1 }) }),
  getCrewContext: (s) => ({ path: `/v1/crews/${s.crew}/context` }),
  getCrewContextKey: (s) => ({ path: `/v1/crews/${s.crew}/context/k` }),
  setCrewContextKey: (s) => ({ path: `/v1/crews/${s.crew}/context/k`, init: json("PUT", { value: 2 }) }),
  deleteCrewContextKey: (s) => ({ path: `/v1/crews/${s.crew}/context/k`, init: { method: "DELETE" } }),
  submitTask: (s) => ({ path: "/v1/tasks", init: json("POST", { crewId: s.crew, role: "W", input: {} }) }),
  listTasks: () => ({ path: "/v1/tasks" }),
  getTask: (s) => ({ path: `/v1/tasks/${s.task}` }),
  retryTask: (s) => ({ path: `/v1/tasks/${s.task}/retry`, init: { method: "POST" } }),
  cancelTask: (s) => ({ path: `/v1/tasks/${s.task}/cancel`, init: { method: "POST" } }),
  listTools: () => ({ path: "/v1/tools" }),
  callTool: (s) => ({ path: "/v1/tools/call", init: json("POST", { agentId: s.agent, server: "fs", tool: "read_file", arguments: {} }) }),
  listPools: () => ({ path: "/v1/pools" }),
  getPool: () => ({ path: "/v1/pools/w" }),
  listNodes: () => ({ path: "/v1/nodes" }),
  getFleetStats: () => ({ path: "/v1/stats" }),
  listLedgerEntries: () => ({ path: "/v1/ledger" }),
  getLedgerReport: (s) => ({ path: `/v1/ledger/report?by=crew&crewId=${s.crew}` }),
  grantCredits: (s) => ({ path: "/v1/ledger/grants", init: json("POST", { wallet: s.wallet, amount: 1 }) }),
  transferCredits: (s) => ({ path: "/v1/ledger/transfers", init: json("POST", { from: s.wallet, to: s.agentWallet, amount: 1 }) }),
  getModels: () => ({ path: "/v1/models" }),
  routeModel: (s) => ({ path: "/v1/models/route", init: json("POST", { estimatedInputTokens: 10, crewId: s.crew }) }),
  listBudgets: () => ({ path: "/v1/budgets" }),
  setBudget: (s) => ({ path: `/v1/budgets/crew:${s.crew}`, init: json("PUT", { credits: 5 }) }),
  removeBudget: (s) => ({ path: `/v1/budgets/crew:${s.crew}`, init: { method: "DELETE" } }),
  streamEvents: (s) => ({ path: `/v1/events?crewId=${s.crew}` }),
  getMetrics: () => ({ path: "/metrics" }),
  createKey: () => ({ path: "/v1/keys", init: json("POST", { name: "x", role: "viewer" }) }),
  listKeys: () => ({ path: "/v1/keys" }),
  revokeKey: (_s, fx) => ({ path: `/v1/keys/${fx.spareKey}`, init: { method: "DELETE" } }),
  chaosKill: (s) => ({ path: "/v1/chaos/kill", init: json("POST", { agentId: s.agent }) }),
  chaosFreeze: (s) => ({ path: "/v1/chaos/freeze", init: json("POST", { agentId: s.agent, ms: 1 }) }),
  chaosLatency: () => ({ path: "/v1/chaos/latency", init: json("PUT", { ms: 0 }) }),
  hostCrewMember: (s) => ({ path: `/v1/cluster/crews/${s.crew}/members`, init: json("POST", {}) }),
  deliverCrewSignal: (s) => ({ path: `/v1/cluster/crews/${s.crew}/signals`, init: json("POST", { agentIds: [], signal: "X", at: new Date().toISOString() }) }),
  callModelForMember: () => ({ path: "/v1/cluster/model-calls", init: json("POST", {}) }),
};

/**
 * A caller of the matrix: an operator key (its role, whether crew-limited), an agent's token
 * (a plain member, an admin-scoped member, an agent in no crew), or a token that must not pass
 * (expired, signed by another key); and whether it acts on its own crew's things (A) or another's (B).
 */
interface Caller {
  name: string;
  role: OperatorRole | null;
  limited: boolean;
  side: "A" | "B";
  key: (k: Keys) => string | undefined;
  /** An agent's token: its agent and that agent's scopes. */
  agent?: { id: (k: Keys) => string; scopes: readonly string[] };
}
interface Keys {
  env: string; admin: string; operator: string; viewer: string; revoked: string; crewOperator: string; crewViewer: string;
  /** Agents' tokens: a member of crew A, an admin-scoped member of crew A, an agent in no crew; an expired one; one signed by a key the factory never had. */
  member: string; adminAgent: string; crewless: string; expired: string; foreign: string;
  memberId: string; adminAgentId: string; crewlessId: string;
}

const AGENT_CALLERS: Caller[] = [
  { name: "expired agent token", role: null, limited: false, side: "A", key: (k) => k.expired },
  { name: "agent token signed by another key", role: null, limited: false, side: "A", key: (k) => k.foreign },
  { name: "agent token, own crew", role: "operator", limited: true, side: "A", key: (k) => k.member, agent: { id: (k) => k.memberId, scopes: [] } },
  { name: "agent token, another crew", role: "operator", limited: true, side: "B", key: (k) => k.member, agent: { id: (k) => k.memberId, scopes: [] } },
  { name: "admin agent token, own crew", role: "operator", limited: true, side: "A", key: (k) => k.adminAgent, agent: { id: (k) => k.adminAgentId, scopes: ["admin"] } },
  { name: "admin agent token, another crew", role: "operator", limited: true, side: "B", key: (k) => k.adminAgent, agent: { id: (k) => k.adminAgentId, scopes: ["admin"] } },
  { name: "agent token, no crew", role: "operator", limited: true, side: "A", key: (k) => k.crewless, agent: { id: (k) => k.crewlessId, scopes: ["admin"] } },
];

const CALLERS: Caller[] = [
  { name: "no key", role: null, limited: false, side: "A", key: () => undefined },
  { name: "revoked key", role: null, limited: false, side: "A", key: (k) => k.revoked },
  // Agents first: what operators do later (disband a crew, terminate its agents) would end their tokens.
  ...AGENT_CALLERS,
  { name: "crew-limited operator, another crew", role: "operator", limited: true, side: "B", key: (k) => k.crewOperator },
  { name: "crew-limited viewer, another crew", role: "viewer", limited: true, side: "B", key: (k) => k.crewViewer },
  { name: "viewer", role: "viewer", limited: false, side: "A", key: (k) => k.viewer },
  { name: "crew-limited viewer, own crew", role: "viewer", limited: true, side: "A", key: (k) => k.crewViewer },
  { name: "crew-limited operator, own crew", role: "operator", limited: true, side: "A", key: (k) => k.crewOperator },
  { name: "operator", role: "operator", limited: false, side: "A", key: (k) => k.operator },
  { name: "admin key", role: "admin", limited: false, side: "A", key: (k) => k.admin },
  { name: "AGENT_FACTORY_API_KEY", role: "admin", limited: false, side: "A", key: (k) => k.env },
];

/** The routes behind the keys: /v1 and the metrics. */
const keyed = (path: string): boolean => path.startsWith("/v1/") || path === "/metrics";

type Expected = { status: 401 | 403; code: string } | "allowed" | "own-crews-only";

/** What the access table says a caller gets. */
function expected(operationId: string, caller: Caller, keys: Keys, side: Side): Expected {
  const access = accessOf(operationId);
  if (caller.role === null) return { status: 401, code: "UNAUTHORIZED" };
  if (caller.agent !== undefined) {
    const needs = agentAccessOf(operationId);
    if (needs === undefined) return { status: 403, code: "FORBIDDEN" };
    if (needs.scope !== undefined && !caller.agent.scopes.includes(needs.scope)) return { status: 403, code: "FORBIDDEN" };
    if (needs.self === true && side.agent !== caller.agent.id(keys)) return { status: 403, code: "FORBIDDEN" };
  }
  if (!roleAllows(caller.role, access.role)) return { status: 403, code: "FORBIDDEN" };
  if (!caller.limited) return "allowed";
  if (access.crews === "crewless") return { status: 403, code: "CROSS_CREW" };
  if (["crewList", "itemList", "budgetList"].includes(access.crews)) return "own-crews-only";
  // An agent in no crew has no crew's things to reach.
  if (caller.name === "agent token, no crew") return { status: 403, code: "CROSS_CREW" };
  return caller.side === "A" ? "allowed" : { status: 403, code: "CROSS_CREW" };
}

/** A refusal by who the caller is (not by what the operation found: NOT_YOUR_TASK, a 409, a 404 are answers). */
const refusedByAccess = (status: number, code: unknown): boolean => status === 401 || (status === 403 && (code === "FORBIDDEN" || code === "CROSS_CREW"));

describe("operator keys and agents' tokens: the caller × route matrix, from the access table", () => {
  let operations: Array<{ method: string; path: string; operationId: string; role: string }>;
  const results: Array<{ operationId: string; caller: string; status: number; crossCrewSuccess: boolean }> = [];

  before(async () => {
    const { factory, close } = await testFactory({ chaos: true });
    try {
      const doc = (await call(createApp(factory, { apiKey: ROOT }), "/openapi.json")).body;
      operations = Object.entries(doc.paths as Json).flatMap(([path, item]) =>
        Object.entries(item as Json).map(([method, op]) => ({ method, path, operationId: (op as Json).operationId, role: (op as Json)["x-required-role"] })),
      );
    } finally {
      await close();
    }
  });

  it("every /v1 operation in the document declares the role the table gives it, and the table names no operation the app lacks", () => {
    const v1 = operations.filter((o) => keyed(o.path));
    for (const o of v1) {
      assert.ok(Object.hasOwn(ACCESS, o.operationId), `${o.operationId} is not in ACCESS`);
      assert.ok((OPERATOR_ROLES as readonly string[]).includes(o.role), `${o.operationId}: x-required-role ${o.role}`);
      assert.equal(o.role, accessOf(o.operationId).role, o.operationId);
      // Reads are for viewers; a viewer changes nothing (routeModel is a POST that only explains).
      if (o.method === "get") assert.ok(["viewer", "admin"].includes(o.role), o.operationId);
      else if (o.operationId !== "routeModel") assert.notEqual(o.role, "viewer", o.operationId);
    }
    assert.deepEqual(Object.keys(ACCESS).sort(), v1.map((o) => o.operationId).sort());
    assert.deepEqual(Object.keys(SAMPLES).sort(), v1.map((o) => o.operationId).sort());
  });

  it("answers every caller of every operation as the table says, with zero cross-crew successes", async () => {
    for (const op of operations.filter((o) => keyed(o.path))) {
      const store = createMemoryStore();
      const { factory, close } = await testFactory({ chaos: true, store });
      try {
        const app = createApp(factory, { apiKey: ROOT });
        const fx = await fixtures(factory, app);
        await agentTokens(factory, store, fx);
        for (const caller of CALLERS) {
          const side = caller.side === "A" ? fx.a : fx.b;
          const sample = (SAMPLES[op.operationId] as Sample)(side, fx);
          let path = sample.path;
          // A list asked for the other crew by name is refused, not cut.
          if (caller.side === "B" && ["listAgents", "listTasks", "listLedgerEntries"].includes(op.operationId)) path += `?crewId=${fx.b.crew}`;
          const key = caller.key(fx.keys);
          const init = sample.init ?? {};
          const headers = { ...(init.headers as Record<string, string> | undefined), ...(key === undefined ? {} : { authorization: `Bearer ${key}` }) };
          const answer = await call(app, path, { ...init, method: init.method ?? "GET", headers });
          const want = expected(op.operationId, caller, fx.keys, side);
          const where = `${op.operationId} as ${caller.name}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`;
          let crossCrewSuccess = false;
          if (want === "allowed") {
            assert.ok(!refusedByAccess(answer.status, answer.body.error?.code), where);
          } else if (want === "own-crews-only") {
            if (caller.side === "B" && path.includes("crewId=")) assert.deepEqual([answer.status, answer.body.error?.code], [403, "CROSS_CREW"], where);
            else {
              assert.equal(answer.status, 200, where);
              const crewOf = (item: Json): string | null => (op.operationId === "listCrews" ? item.id : op.operationId === "listBudgets" ? String(item.key).replace(/^crew:/, "") : item.crewId);
              // An agent in no crew may see nothing of any crew's.
              const own = caller.name === "agent token, no crew" ? null : fx.a.crew;
              crossCrewSuccess = (answer.body.items as Json[]).some((item) => crewOf(item) !== own);
              assert.equal(crossCrewSuccess, false, where);
            }
          } else {
            crossCrewSuccess = caller.side === "B" && answer.status < 300;
            assert.deepEqual([answer.status, answer.body.error?.code], [want.status, want.code], where);
          }
          results.push({ operationId: op.operationId, caller: caller.name, status: answer.status, crossCrewSuccess });
          // The same body under other media types (the validator takes any application/<x>+json): refused just the same.
          if (caller.side === "B" && caller.limited && init.body !== undefined) {
            for (const type of ["application/vnd.evil+json", "application/json-patch+json", "text/plain"]) {
              const again = await call(app, path, { ...init, method: init.method ?? "GET", headers: { ...headers, "content-type": type } });
              const sneaked = again.status < 300;
              assert.equal(sneaked, false, `${op.operationId} as ${caller.name} with content-type ${type}: ${again.status} ${JSON.stringify(again.body).slice(0, 200)}`);
              results.push({ operationId: op.operationId, caller: `${caller.name} (${type})`, status: again.status, crossCrewSuccess: sneaked });
            }
          }
        }
      } finally {
        await close();
      }
    }
    assert.ok(results.length > operations.filter((o) => keyed(o.path)).length * CALLERS.length);
    assert.deepEqual(results.filter((r) => r.crossCrewSuccess), []);
    if (process.env.KEYS_MATRIX_DUMP === "1") for (const r of results) console.log(`${r.operationId}\t${r.caller}\t${r.status}`);
    // Not a matrix of refusals only: a crew-limited key does real work in its own crew.
    const ownOk = (id: string) => results.find((r) => r.operationId === id && r.caller === "crew-limited operator, own crew")?.status;
    assert.deepEqual(["getAgent", "getCrew", "getTask", "getWallet", "submitTask", "setCrewContextKey", "listAgents", "listTasks", "setBudget", "grantCredits"].map(ownOk), [200, 200, 200, 200, 202, 200, 200, 200, 200, 201]);
    // And an agent in its own crew: context, bus, tasks; with the admin scope, members.
    const agentOk = (id: string, caller = "agent token, own crew") => results.find((r) => r.operationId === id && r.caller === caller)?.status;
    assert.deepEqual(["getCrew", "setCrewContextKey", "publishCrewMessage", "submitTask", "getTask"].map((id) => agentOk(id)), [200, 200, 202, 202, 200]);
    assert.deepEqual(["spawnCrewMember", "terminateAgent"].map((id) => agentOk(id, "admin agent token, own crew")), [201, 200]);
    // The matrix's size, for the closing note.
    if (process.env.KEYS_MATRIX_DUMP === "1") console.log(`matrix: ${results.length} calls, ${results.filter((r) => refusedByAccess(r.status, "FORBIDDEN")).length} refused`);
  });
});

/** Two crews (A, B) with a member, a task, credits, a budget and a context key each; the keys of the matrix. */
async function fixtures(factory: Factory, app: OpenAPIHono): Promise<{ a: Side; b: Side; keys: Keys; spareKey: string }> {
  const admin = (method: string, path: string, body?: unknown) => call(app, path, body === undefined ? { method, ...get(ROOT) } : json(method, body, ROOT));
  assert.equal((await admin("POST", "/v1/profiles", { name: "w", role: "W" })).status, 201);
  const side = async (name: string): Promise<Side> => {
    const crew = (await admin("POST", "/v1/crews/assemble", { manifest: { name, budget: 20, members: [{ profile: "w" }] } })).body;
    const task = (await admin("POST", "/v1/tasks", { crewId: crew.id, role: "W", input: {} })).body;
    await admin("PUT", `/v1/crews/${crew.id}/context/k`, { value: 1 });
    await admin("PUT", `/v1/budgets/crew:${crew.id}`, { credits: 100 });
    await factory.waitForTask(task.id, 2_000);
    return { crew: crew.id, agent: crew.agents[0].id, agentWallet: crew.agents[0].walletAddress, wallet: crew.walletAddress, task: task.id };
  };
  const a = await side("a");
  const b = await side("b");
  const make = async (role: OperatorRole, crews?: string[]) => (await factory.createOperatorKey({ name: role, role, ...(crews === undefined ? {} : { crews }) })).secret;
  const revoked = await factory.createOperatorKey({ name: "gone", role: "admin" });
  await factory.revokeOperatorKey(revoked.id);
  const spare = await factory.createOperatorKey({ name: "spare", role: "viewer" });
  const keys: Keys = {
    env: ROOT,
    admin: await make("admin"),
    operator: await make("operator"),
    viewer: await make("viewer"),
    revoked: revoked.secret,
    crewOperator: await make("operator", [a.crew]),
    crewViewer: await make("viewer", [a.crew]),
    // Filled by agentTokens (the matrix only: other tests count crew A's members).
    member: "", adminAgent: "", crewless: "", expired: "", foreign: "", memberId: "", adminAgentId: "", crewlessId: "",
  };
  return { a, b, keys, spareKey: spare.id };
}

/**
 * Agents' tokens for the matrix, signed with the factory's own stored key (as it signs them):
 * crew A's member; an admin-scoped member spawned into crew A; an agent in no crew (admin-scoped:
 * its scope takes it no further than its crew, which it has not); crew A's member's token issued
 * an hour ago (expired); and one signed by a key the factory never had.
 */
async function agentTokens(factory: Factory, store: Store, fx: { a: Side; keys: Keys }): Promise<void> {
  factory.registerProfile({ name: "wa", role: "WA", scopes: ["admin"], runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual" } });
  const admin = await factory.spawnCrewMember(fx.a.crew, "wa");
  const crewless = await factory.spawnAgent({ profile: "wa" });
  await factory.jwks(); // the factory makes its signing key
  const keys = new SigningKeys({ store, rotateAfterMs: 24 * 3_600_000, keepMs: 3_600_000 });
  const options = { keys, issuer: "agent-factory", audience: "agent-factory", lifetimeMs: 15 * 60_000 };
  const now = new AgentTokens(options);
  const hourAgo = new AgentTokens({ ...options, now: () => Date.now() - 3_600_000 });
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  Object.assign(fx.keys, {
    member: (await now.issue({ id: fx.a.agent, crewId: fx.a.crew, scopes: [] })).token,
    adminAgent: (await now.issue({ id: admin.id, crewId: fx.a.crew, scopes: ["admin"] })).token,
    crewless: (await now.issue({ id: crewless.id, crewId: null, scopes: ["admin"] })).token,
    expired: (await hourAgo.issue({ id: fx.a.agent, crewId: fx.a.crew, scopes: [] })).token,
    foreign: await new SignJWT({ crew: fx.a.crew, scopes: [] }).setProtectedHeader({ alg: "EdDSA", kid: "foreign" }).setSubject(fx.a.agent).setIssuer("agent-factory").setAudience("agent-factory").setIssuedAt().setExpirationTime("10m").sign(privateKey),
    memberId: fx.a.agent,
    adminAgentId: admin.id,
    crewlessId: crewless.id,
  });
}
