// Pins budgets and models over HTTP: PUT/GET/DELETE /v1/budgets with 4xx for bad keys and unknown owners; a crew limit tighter than its wallet fails an llm task with BUDGET_EXCEEDED; what a budget's window spent survives a restart; GET /v1/models shows providers, rules and prices; the explain route sees a crew limit; the OpenAPI document lists the routes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createApp } from "../../src/api/app.ts";
import { createFactory } from "../../src/factory/create-factory.ts";
import { silentLogger, tempDir } from "../helpers.ts";

const put = (body: unknown): RequestInit => ({ method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const post = (body: unknown): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("budgets and models over HTTP", () => {
  it("sets, lists and removes budgets; refuses bad keys and unknown owners; a crew limit holds calls; spend survives a restart", async () => {
    const dir = tempDir();
    let factory = await createFactory({ dataDir: dir.path, logger: silentLogger });
    try {
      let app = createApp(factory);
      factory.registerProfile({ name: "thinker", role: "Thinker", runtime: { kind: "llm", systemPrompt: "You think.", tools: [], maxOutputTokens: 100 } });
      const { crew } = await factory.assembleCrew({ name: "capped", budget: 100, members: [{ profile: "thinker" }] });

      assert.equal((await app.request("/v1/budgets/nonsense", put({ credits: 5 }))).status, 400);
      const negative = await app.request("/v1/budgets/global", put({ credits: -1 }));
      assert.equal(negative.status, 400);
      assert.equal(((await negative.json()) as { error: { field: string } }).error.field, "credits");
      assert.equal((await app.request("/v1/budgets/global", put({ credits: 5, periodMs: 10 }))).status, 400);
      assert.equal((await app.request("/v1/budgets/crew:crew_nope", put({ credits: 5 }))).status, 404);
      assert.equal((await app.request("/v1/budgets/agent:agent_nope", put({ credits: 5 }))).status, 404);
      assert.equal((await app.request("/v1/budgets/global", { method: "DELETE" })).status, 404);

      // The crew may spend 0.3 credits, though its wallet holds 100: one call reserves ~0.3.
      const set = await app.request(`/v1/budgets/crew:${crew.id}`, put({ credits: 0.5 }));
      assert.equal(set.status, 200);
      assert.deepEqual(await set.json(), { key: `crew:${crew.id}`, credits: 0.5, periodMs: null, spent: 0, reserved: 0, remaining: 0.5, resetsAt: null });
      const daily = await app.request("/v1/budgets/global", put({ credits: 1_000, periodMs: 86_400_000 }));
      assert.equal(((await daily.json()) as { resetsAt: string | null }).resetsAt !== null, true);

      const first = await factory.waitForTask((await factory.submitTask({ role: "Thinker", crewId: crew.id, input: "one" })).id, 10_000);
      assert.equal(first.state, "SUCCEEDED");
      const spent = first.usage?.cost ?? 0;
      assert.ok(spent > 0);
      let tries = 0;
      let refused;
      // Calls go on until the next one's estimate no longer fits under 0.5 credits.
      while (tries++ < 20) {
        const t = await factory.waitForTask((await factory.submitTask({ role: "Thinker", crewId: crew.id, input: "again" })).id, 10_000);
        if (t.state === "FAILED") {
          refused = t;
          break;
        }
      }
      assert.equal(refused?.error?.code, "BUDGET_EXCEEDED");
      assert.match(refused?.error?.message ?? "", new RegExp(`crew:${crew.id} budget`));
      const listed = (await (await app.request("/v1/budgets")).json()) as { items: Array<{ key: string; spent: number; reserved: number; remaining: number }> };
      assert.deepEqual(
        listed.items.map((b) => b.key),
        ["crew:" + crew.id, "global"],
      );
      const crewBudget = listed.items.find((b) => b.key === `crew:${crew.id}`);
      assert.equal(crewBudget?.reserved, 0);
      assert.ok((crewBudget?.spent ?? 0) <= 0.5);
      const crewSpent = crewBudget?.spent;
      // The explain route sees how little is left: below 5 % → the cheapest model, unless more is left.
      const explained = (await (await app.request("/v1/models/route", post({ estimatedInputTokens: 10, crewId: crew.id }))).json()) as { budgetFraction: number };
      assert.equal(explained.budgetFraction, Math.max(0, Math.min(1, (crewBudget?.remaining ?? 0) / 0.5)));

      await factory.close();
      factory = await createFactory({ dataDir: dir.path, logger: silentLogger });
      app = createApp(factory);
      const after = (await (await app.request("/v1/budgets")).json()) as { items: Array<{ key: string; spent: number; credits: number; periodMs: number | null }> };
      assert.deepEqual(
        after.items.map((b) => [b.key, b.credits, b.periodMs]),
        [
          [`crew:${crew.id}`, 0.5, null],
          ["global", 1_000, 86_400_000],
        ],
      );
      assert.equal(after.items[0]?.spent, crewSpent);
      assert.equal((await app.request(`/v1/budgets/crew:${crew.id}`, { method: "DELETE" })).status, 204);
      assert.deepEqual(
        ((await (await app.request("/v1/budgets")).json()) as { items: Array<{ key: string }> }).items.map((b) => b.key),
        ["global"],
      );
    } finally {
      await factory.close();
      dir.cleanup();
    }
  });

  it("a budget from the config keeps what its window spent across a restart", async () => {
    const dir = tempDir();
    const models = { budgets: [{ key: "global", credits: 100, periodMs: 86_400_000 }] };
    let factory = await createFactory({ dataDir: dir.path, logger: silentLogger, models });
    try {
      factory.registerProfile({ name: "thinker", role: "Thinker", runtime: { kind: "llm", systemPrompt: "You think.", tools: [] } });
      const { crew } = await factory.assembleCrew({ name: "c", budget: 100, members: [{ profile: "thinker" }] });
      const done = await factory.waitForTask((await factory.submitTask({ role: "Thinker", crewId: crew.id, input: "one" })).id, 10_000);
      const spent = done.usage?.cost ?? 0;
      assert.ok(spent > 0);
      const before = factory.listBudgets()[0];
      assert.equal(before?.spent, spent);
      await factory.close();
      factory = await createFactory({ dataDir: dir.path, logger: silentLogger, models });
      assert.deepEqual(factory.listBudgets()[0], before);
      // Changing its credits in the config keeps the window and what it spent.
      await factory.close();
      factory = await createFactory({ dataDir: dir.path, logger: silentLogger, models: { budgets: [{ key: "global", credits: 50, periodMs: 86_400_000 }] } });
      assert.deepEqual([factory.listBudgets()[0]?.credits, factory.listBudgets()[0]?.spent, factory.listBudgets()[0]?.resetsAt], [50, spent, before?.resetsAt]);
    } finally {
      await factory.close();
      dir.cleanup();
    }
  });

  it("GET /v1/models shows the providers, rules and prices; the document lists the routes", async () => {
    const factory = await createFactory({ dataDir: ":memory:", logger: silentLogger, models: { pricing: { "openrouter:*": { input: 0.5, output: 1.5 } } } });
    try {
      const app = createApp(factory);
      const info = (await (await app.request("/v1/models")).json()) as {
        providers: Array<{ name: string; kind: string; servesAll: boolean; coolingDownUntil: null }>;
        rules: Array<{ name: string }>;
        pricing: { prices: Record<string, unknown>; defaultPrice: unknown };
      };
      assert.deepEqual(info.providers.map((p) => [p.name, p.kind, p.servesAll, p.coolingDownUntil]), [["mock", "mock", true, null]]);
      assert.deepEqual(
        info.rules.map((r) => r.name),
        ["confidential", "high-quality", "long-context", "low-budget", "balanced"],
      );
      assert.deepEqual(info.pricing, { prices: { "openrouter:*": { input: 0.5, output: 1.5 } }, defaultPrice: { input: 1, output: 2 } });
      const doc = (await (await app.request("/openapi.json")).json()) as { paths: Record<string, Record<string, unknown>> };
      assert.deepEqual(Object.keys(doc.paths["/v1/budgets/{key}"] ?? {}).sort(), ["delete", "put"]);
      assert.ok(doc.paths["/v1/models"]?.get !== undefined);
    } finally {
      await factory.close();
    }
  });
});
