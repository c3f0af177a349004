// Pins that a task nothing could ever serve is refused at once (NO_SUCH_TARGET, 422, with the closest names), and one that something could serve waits visibly (pools show it).
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createApp } from "../../src/api/app.ts";
import { FactoryError } from "../../src/core/errors.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { testFactory } from "../helpers.ts";

/** The NO_SUCH_TARGET error a submit fails with. */
async function refusal(factory: Factory, input: Record<string, unknown>): Promise<FactoryError> {
  try {
    await factory.submitTask(input);
  } catch (error) {
    assert.ok(error instanceof FactoryError);
    assert.equal(error.code, "NO_SUCH_TARGET");
    return error;
  }
  assert.fail(`accepted: ${JSON.stringify(input)}`);
}

describe("tasks nobody can serve", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  beforeEach(async () => {
    ({ factory, close } = await testFactory());
    factory.registerProfile({ name: "coder", role: "Coder", capabilities: ["typescript", "python"], pool: { spawnStrategy: "manual" } });
    factory.registerProfile({ name: "reviewer", role: "Reviewer", capabilities: ["rust"], pool: { spawnStrategy: "manual" } });
  });
  afterEach(() => close());

  it("refuses an unknown role, profile or capability, naming the closest known names (case first, then edit distance)", async () => {
    const nobody = await refusal(factory, { role: "Nobody" });
    assert.equal(nobody.message, "nothing could ever serve this task (role 'Nobody'): no profile or agent outside crews has role 'Nobody' (known: 'Coder', 'Reviewer')");
    assert.equal(nobody.field, "role");
    assert.deepEqual(nobody.details, { target: { crewId: null, role: "Nobody", profile: null, capabilities: [] }, closest: { role: [] } });

    const lower = await refusal(factory, { role: "coder" });
    assert.equal(lower.message, "nothing could ever serve this task (role 'coder'): no profile or agent outside crews has role 'coder' (did you mean 'Coder'?)");
    assert.deepEqual(lower.details?.closest, { role: ["Coder"] });

    assert.match((await refusal(factory, { role: "Reviewr" })).message, /has role 'Reviewr' \(did you mean 'Reviewer'\?\)$/);
    const profile = await refusal(factory, { profile: "codr" });
    assert.equal(profile.field, "profile");
    assert.match(profile.message, /^nothing could ever serve this task \(profile 'codr'\): no profile or agent outside crews has profile 'codr' \(did you mean 'coder'\?\)$/);
    const capability = await refusal(factory, { role: "Coder", capabilities: ["typescript", "pyhton"] });
    assert.equal(capability.field, "capabilities.1");
    assert.match(capability.message, /\(role 'Coder', capabilities \[typescript, pyhton\]\): no profile or agent outside crews has capability 'pyhton' \(did you mean 'python'\?\)$/);
    // Each part exists, but on different profiles.
    const apart = await refusal(factory, { role: "Coder", capabilities: ["rust"] });
    assert.equal(apart.message, "nothing could ever serve this task (role 'Coder', capabilities [rust]): no profile or agent outside crews has all of them together");
    assert.equal((await factory.listTasks()).length, 0, "nothing refused was stored");
  });

  it("accepts a task for a profile with no agent yet and shows it waiting in the pools; an agent spawned later runs it", async () => {
    const task = await factory.submitTask({ role: "Coder", input: "later" });
    assert.equal((await factory.getTask(task.id)).state, "QUEUED");
    assert.deepEqual(factory.listWaiting(), [{ crewId: null, role: "Coder", profile: null, capabilities: [], agentId: null, queued: 1, profiles: ["coder"] }]);
    assert.equal(factory.getPool("coder").queued, 1);
    await factory.spawnAgent({ profile: "coder" });
    assert.equal((await factory.waitForTask(task.id, 2_000)).state, "SUCCEEDED");
    assert.deepEqual(factory.listWaiting(), []);
  });

  it("in a crew: refuses a role no member has (even if a profile outside has it); accepts one an asleep member has, and wakes it", async () => {
    const { crew, agents } = await factory.assembleCrew({ name: "team", members: [{ profile: "coder" }, { profile: "reviewer" }] });
    const { crew: solo } = await factory.assembleCrew({ name: "solo", members: [{ profile: "coder" }] });
    const missing = await refusal(factory, { role: "Reviewer", crewId: solo.id });
    assert.equal(missing.message, `nothing could ever serve this task (role 'Reviewer'): no member of crew ${solo.id} has role 'Reviewer' (known: 'Coder')`);
    assert.equal((await refusal(factory, { role: "coder", crewId: solo.id })).message, `nothing could ever serve this task (role 'coder'): no member of crew ${solo.id} has role 'coder' (did you mean 'Coder'?)`);

    const reviewer = agents.find((a) => a.role === "Reviewer");
    assert.ok(reviewer !== undefined);
    assert.equal((await factory.hibernateAgent(reviewer.id)).state, "HIBERNATING");
    const task = await factory.submitTask({ role: "Reviewer", crewId: crew.id, input: "asleep" });
    const done = await factory.waitForTask(task.id, 5_000);
    assert.deepEqual([done.state, done.agentId], ["SUCCEEDED", reviewer.id]);
  });

  it("answers 422 NO_SUCH_TARGET over HTTP, and GET /v1/pools lists waiting tasks by target", async () => {
    const app = createApp(factory);
    const post = (body: unknown): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const refused = await app.request("/v1/tasks", post({ role: "coder" }));
    assert.equal(refused.status, 422);
    const body = (await refused.json()) as { error: { code: string; message: string; field: string; details: { closest: Record<string, string[]> } } };
    assert.deepEqual([body.error.code, body.error.field, body.error.details.closest], ["NO_SUCH_TARGET", "role", { role: ["Coder"] }]);
    assert.match(body.error.message, /role 'coder'.*did you mean 'Coder'\?/);
    assert.equal((await app.request("/v1/tasks", post({ role: "Reviewer", capabilities: ["rust"] }))).status, 202);
    assert.equal((await app.request("/v1/tasks", post({ role: "Reviewer", capabilities: ["rust"] }))).status, 202);
    const pools = (await (await app.request("/v1/pools")).json()) as { items: Array<{ profile: string; queued: number }>; waiting: unknown[] };
    assert.deepEqual(pools.items.map((p) => [p.profile, p.queued]), [["coder", 0], ["reviewer", 2]]);
    assert.deepEqual(pools.waiting, [{ crewId: null, role: "Reviewer", profile: null, capabilities: ["rust"], agentId: null, queued: 2, profiles: ["reviewer"] }]);
  });
});
