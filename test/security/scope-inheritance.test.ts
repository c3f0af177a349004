// Pins that scopes never widen after a crew is assembled: a clone keeps its source's scopes, a member added later (by an operator or an admin agent) gets no more than the manifest gave that profile's members, and none its spawning agent lacks.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createApp } from "../../src/api/app.ts";
import type { Factory } from "../../src/factory/factory.ts";
import type { HandlerContext } from "../../src/runtimes/function/function-handler.ts";
import { testFactory } from "../helpers.ts";

describe("scopes after assembly", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let app: ReturnType<typeof createApp>;
  before(async () => {
    ({ factory, close } = await testFactory({ handlers: { whoami: (_i: unknown, ctx: HandlerContext) => ctx.token() } }));
    app = createApp(factory);
    factory.registerProfile({ name: "coder", role: "Coder", scopes: ["coder", "reviewer", "admin"], runtime: { kind: "function", handler: "whoami" }, pool: { spawnStrategy: "manual" } });
    factory.registerProfile({ name: "lead", role: "Lead", scopes: ["admin"], runtime: { kind: "function", handler: "whoami" }, pool: { spawnStrategy: "manual" } });
  });
  after(() => close());

  it("a manifest's narrowing holds for clones and for members added later", async () => {
    const { crew, agents } = await factory.assembleCrew({ name: "narrow", members: [{ profile: "coder", scopes: ["reviewer"] }] });
    assert.deepEqual(agents[0]?.scopes, ["reviewer"]);
    assert.deepEqual(crew.memberScopes, { coder: ["reviewer"] });
    const clone = await factory.cloneAgent(agents[0]?.id);
    assert.deepEqual(clone.scopes, ["reviewer"]);
    const added = await app.request(`/v1/crews/${crew.id}/members`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ profile: "coder" }) });
    assert.equal(added.status, 201);
    assert.deepEqual(((await added.json()) as { scopes: string[] }).scopes, ["reviewer"]);
    // The narrowing outlives a read from the store.
    assert.deepEqual((await factory.getCrew(crew.id)).memberScopes, { coder: ["reviewer"] });
  });

  it("an admin agent's new member has no scope the agent lacks", async () => {
    const { crew, agents } = await factory.assembleCrew({ name: "led", members: [{ profile: "lead" }] });
    const lead = agents[0]?.id as string;
    const token = (await factory.waitForTask((await factory.submitTask({ role: "Lead", crewId: crew.id, input: {} })).id, 5_000)).result as string;
    const res = await app.request(`/v1/crews/${crew.id}/members`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ profile: "coder" }) });
    assert.equal(res.status, 201, await res.clone().text());
    assert.deepEqual(((await res.json()) as { scopes: string[] }).scopes, ["admin"], "coder and reviewer are not the lead's to give");
    // An operator adding the same profile gives the profile's scopes (no manifest narrowing here).
    const byOperator = await factory.spawnCrewMember(crew.id, "coder");
    assert.deepEqual(byOperator.scopes, ["coder", "reviewer", "admin"]);
    assert.ok(lead.length > 0);
  });
});
