// Pins agents' tokens: EdDSA JWTs signed with keys kept in the store, verified by `jose` against the published key set (the JWKS route's content); rotation keeps old tokens verifiable for their lifetime; a foreign key, an expired token, the wrong audience fail. And a process agent gets its token in `initialize` and a fresh one as `token/refresh` before it expires; a function agent asks with `ctx.token()`.
import assert from "node:assert/strict";
import { dirname, resolve } from "node:path";
import { describe, it } from "node:test";
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JSONWebKeySet } from "jose";
import { createMemoryStore } from "../../src/adapters/store/memory/memory-store.ts";
import { AgentTokens } from "../../src/security/agent-tokens.ts";
import { SigningKeys } from "../../src/security/signing-keys.ts";
import { createApp } from "../../src/api/app.ts";
import { testFactory } from "../helpers.ts";
import type { HandlerContext } from "../../src/runtimes/function/function-handler.ts";

const HOUR = 3_600_000;
const verify = (token: string, jwks: JSONWebKeySet, now: number, audience = "agent-factory") =>
  jwtVerify(token, createLocalJWKSet(jwks), { issuer: "agent-factory", audience, algorithms: ["EdDSA"], currentDate: new Date(now) });

describe("agent tokens", () => {
  it("are EdDSA JWTs naming the agent, its crew and scopes, verified against the published keys; rotation keeps an old token valid for its life", async () => {
    const store = createMemoryStore();
    let now = Date.parse("2026-12-07T12:00:00.000Z");
    const keys = new SigningKeys({ store, rotateAfterMs: 24 * HOUR, keepMs: 15 * 60_000 + 60_000, now: () => now });
    const tokens = new AgentTokens({ keys, issuer: "agent-factory", audience: "agent-factory", lifetimeMs: 15 * 60_000, now: () => now });
    const first = await tokens.issue({ id: "agent_a", crewId: "crew_1", scopes: ["coder"] });
    assert.equal(first.expiresAt, "2026-12-07T12:15:00.000Z");
    const published = { keys: await keys.published() };
    assert.equal(published.keys.length, 1);
    assert.equal(published.keys[0]?.crv, "Ed25519");
    assert.equal((published.keys[0] as { d?: string }).d, undefined, "no private half is published");
    const { payload, protectedHeader } = await verify(first.token, published, now);
    assert.deepEqual([payload.sub, payload.crew, payload.scopes, payload.iss, payload.aud, protectedHeader.alg], ["agent_a", "crew_1", ["coder"], "agent-factory", "agent-factory", "EdDSA"]);
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 15 * 60);

    // A day later a new key signs; the old one stays published while tokens it signed may live.
    now += 24 * HOUR - 10 * 60_000;
    const late = await tokens.issue({ id: "agent_a", crewId: "crew_1", scopes: ["coder"] });
    now += 10 * 60_000 + 1;
    const rotated = await tokens.issue({ id: "agent_b", crewId: null, scopes: [] });
    assert.notEqual((await verify(rotated.token, { keys: await keys.published() }, now)).protectedHeader.kid, (await verify(late.token, { keys: await keys.published() }, now)).protectedHeader.kid);
    assert.equal((await keys.published()).length, 2);
    // Once every token of the old key has expired, it is no longer published.
    now += 17 * 60_000;
    const after = { keys: await keys.published() };
    assert.equal(after.keys.length, 1);
    await assert.rejects(verify(late.token, after, now - 16 * 60_000), { code: "ERR_JWKS_NO_MATCHING_KEY" });
  });

  it("refuses an expired token, the wrong audience, and a token signed by a key the factory never published", async () => {
    const store = createMemoryStore();
    const now = Date.now();
    const keys = new SigningKeys({ store, rotateAfterMs: 24 * HOUR, keepMs: 120_000, now: () => now });
    const tokens = new AgentTokens({ keys, issuer: "agent-factory", audience: "agent-factory", lifetimeMs: 60_000, now: () => now });
    const { token } = await tokens.issue({ id: "agent_x", crewId: null, scopes: [] });
    const jwks = { keys: await keys.published() };
    await assert.rejects(verify(token, jwks, now + 61_000), { code: "ERR_JWT_EXPIRED" });
    await assert.rejects(verify(token, jwks, now, "someone-else"), { code: "ERR_JWT_CLAIM_VALIDATION_FAILED" });
    const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const kid = jwks.keys[0]?.kid as string; // the factory's kid, another key: a forgery
    const forged = await new SignJWT({ crew: "crew_other", scopes: ["admin"] }).setProtectedHeader({ alg: "EdDSA", kid }).setSubject("agent_x").setIssuer("agent-factory").setAudience("agent-factory").setIssuedAt().setExpirationTime("1m").sign(privateKey);
    await assert.rejects(verify(forged, jwks, now), { code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });
    assert.notDeepEqual(await exportJWK(publicKey), jwks.keys[0]);
    // A node's credential names the node; an agent's token (another audience) and a forgery are none.
    assert.equal(await tokens.verifyNode((await tokens.issueNode("n1")).token), "n1");
    assert.equal(await tokens.verifyNode(token), undefined);
    assert.equal(await tokens.verifyNode(forged), undefined);
    assert.equal(await tokens.verifyNode("afk_not_a_jwt"), undefined);
  });

  it("a process agent gets its token in initialize and fresh ones as token/refresh; GET /.well-known/jwks.json verifies them all", async () => {
    const agentFile = resolve(import.meta.dirname, "../fixtures/token-agent.mjs");
    const { factory, close } = await testFactory({ agentFiles: [dirname(agentFile)], tokens: { lifetimeMs: 1_500 }, handlers: { whoami: (_input: unknown, ctx: HandlerContext) => ctx.token() } });
    try {
      factory.registerProfile({ name: "holder", role: "Holder", scopes: ["reviewer"], runtime: { kind: "process", command: ["node", "/agent/token-agent.mjs"], files: [agentFile] }, health: { heartbeatIntervalMs: 0 }, pool: { spawnStrategy: "manual" } });
      const agent = await factory.spawnAgent({ profile: "holder" });
      await new Promise((r) => setTimeout(r, 2_300)); // two refreshes: at ~1.0 s and ~1.7 s
      const done = await factory.waitForTask((await factory.submitTask({ agentId: agent.id, input: {} })).id, 5_000);
      const got = (done.result as { tokens: string[] }).tokens;
      assert.ok(got.length >= 3, `initialize and at least two refreshes, got ${got.length}`);
      assert.equal(new Set(got).size, got.length, "each token is new");
      const res = await createApp(factory).request("/.well-known/jwks.json");
      assert.equal(res.status, 200);
      const jwks = (await res.json()) as JSONWebKeySet;
      const last = await verify(got.at(-1) as string, jwks, Date.now());
      assert.deepEqual([last.payload.sub, last.payload.crew, last.payload.scopes], [agent.id, null, ["reviewer"]]);
      // A function agent asks for its own with ctx.token().
      factory.registerProfile({ name: "fn", role: "Fn", scopes: ["coder"], runtime: { kind: "function", handler: "whoami" }, pool: { spawnStrategy: "manual" } });
      const fn = await factory.spawnAgent({ profile: "fn" });
      const asked = await factory.waitForTask((await factory.submitTask({ agentId: fn.id, input: {} })).id, 5_000);
      assert.deepEqual((await verify(asked.result as string, jwks, Date.now())).payload.sub, fn.id);
      // The first one was valid for 1.5 s only: expired by now.
      await assert.rejects(verify(got[0] as string, jwks, Date.now()), { code: "ERR_JWT_EXPIRED" });
    } finally {
      await close();
    }
  });
});
