// Pins agents' tokens on a cluster of two real `serve` nodes sharing PostgreSQL and Redis: both nodes publish the same signing keys, a token issued on one verifies (with `jose`) against the other's JWKS, and an agent's token used at the node that does not run it opens its own crew (forwarded to the crew's node) and nothing else — another crew is 403 CROSS_CREW, an operator route 403 FORBIDDEN.
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { after, describe, it } from "node:test";
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from "jose";
import { PG_SKIP } from "../adapters/postgres-test-schema.ts";
import { REDIS_SKIP } from "../adapters/redis-test-server.ts";
import { until } from "../helpers.ts";
import { clusterRun } from "./cluster-run.ts";

const FIXTURES = resolve(import.meta.dirname, "../fixtures");

async function call(url: string, method: string, bearer: string, body?: unknown): Promise<{ status: number; body: Record<string, any>; node: string | null }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(url, { method, headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { "content-type": "application/json" }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, body: text.length === 0 ? {} : (JSON.parse(text) as Record<string, unknown>), node: res.headers.get("x-agent-factory-node") };
}

describe("agents' tokens on a cluster", { timeout: 120_000, skip: PG_SKIP || REDIS_SKIP }, () => {
  const run = clusterRun();
  after(() => run.close());

  it("one key set for every node; a token works through any node for its own crew only", async () => {
    const [n1, n2] = [await run.node("n1", ["--agent-files", FIXTURES]), await run.node("n2", ["--agent-files", FIXTURES])];
    // No key anywhere yet: the first one (an admin) closes both nodes.
    const made = await fetch(`${n1.url}/v1/keys`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "root", role: "admin" }) });
    assert.equal(made.status, 201);
    const root = ((await made.json()) as { secret: string }).secret;
    await until(async () => (await call(`${n2.url}/v1/nodes`, "GET", root)).body.items?.filter((n: { alive: boolean }) => n.alive).length === 2, "two nodes alive", 10_000);

    const profile = { name: "holder", role: "Holder", runtime: { kind: "process", command: ["node", "/agent/token-agent.mjs"], files: [`${FIXTURES}/token-agent.mjs`] }, health: { heartbeatIntervalMs: 0 }, pool: { spawnStrategy: "manual" } };
    assert.equal((await call(`${n1.url}/v1/profiles`, "POST", root, profile)).status, 201);
    const own = await call(`${n1.url}/v1/crews/assemble`, "POST", root, { manifest: { name: "own", members: [{ profile: "holder" }] } });
    assert.equal(own.status, 201, JSON.stringify(own.body));
    await until(async () => (await call(`${n2.url}/v1/profiles/holder`, "GET", root)).status === 200, "the profile on n2", 5_000);
    const other = await call(`${n2.url}/v1/crews/assemble`, "POST", root, { manifest: { name: "other", members: [{ profile: "holder" }] } });
    assert.equal(other.status, 201, JSON.stringify(other.body));
    const [ownId, otherId, agentId] = [own.body.id as string, other.body.id as string, own.body.agents[0].id as string];

    // The agent's token, as it got it in `initialize` on n1 (the task is submitted through n2).
    const submitted = await call(`${n2.url}/v1/tasks`, "POST", root, { crewId: ownId, role: "Holder", input: {} });
    assert.equal(submitted.status, 202);
    const done = await call(`${n2.url}/v1/tasks/${submitted.body.id}?waitMs=10000`, "GET", root);
    assert.equal(done.body.state, "SUCCEEDED", JSON.stringify(done.body.error));
    const token = (done.body.result as { tokens: string[] }).tokens[0] as string;

    // Both nodes publish the same keys (kept in PostgreSQL); n2's set verifies n1's token.
    const jwks = async (url: string) => (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    assert.deepEqual(await jwks(n2.url), await jwks(n1.url));
    const { payload } = await jwtVerify(token, createLocalJWKSet(await jwks(n2.url)), { issuer: "agent-factory", audience: "agent-factory", algorithms: ["EdDSA"] });
    assert.deepEqual([payload.sub, payload.crew], [agentId, ownId]);

    // Through n2, which does not run it: its own crew's context (n1 answers), nothing else.
    const set = await call(`${n2.url}/v1/crews/${ownId}/context/plan`, "PUT", token, { value: { step: 1 } });
    assert.deepEqual([set.status, set.node], [200, "n1"]);
    assert.deepEqual((await call(`${n2.url}/v1/crews/${ownId}/context/plan`, "GET", token)).body.value, { step: 1 });
    const cross = await call(`${n1.url}/v1/crews/${otherId}/context/stolen`, "PUT", token, { value: 1 });
    assert.deepEqual([cross.status, cross.body.error?.code], [403, "CROSS_CREW"]);
    const crossHere = await call(`${n2.url}/v1/crews/${otherId}/context`, "GET", token);
    assert.deepEqual([crossHere.status, crossHere.body.error?.code], [403, "CROSS_CREW"]);
    const operatorRoute = await call(`${n2.url}/v1/agents`, "GET", token);
    assert.deepEqual([operatorRoute.status, operatorRoute.body.error?.code], [403, "FORBIDDEN"]);
    assert.deepEqual((await call(`${n2.url}/v1/crews/${otherId}/context`, "GET", root)).body.context, {});
  });
});
