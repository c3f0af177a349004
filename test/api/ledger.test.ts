// Pins the ledger over HTTP: a crew's budget granted on assembly, wallets whose balance is the sum of their entries, grants and transfers with 4xx for bad input, balances across a restart, and reports of what was spent.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createApp } from "../../src/api/app.ts";
import { SYSTEM_WALLET } from "../../src/core/ledger.ts";
import { createFactory } from "../../src/factory/create-factory.ts";
import { silentLogger, tempDir } from "../helpers.ts";

const json = (body: unknown): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("ledger over HTTP", () => {
  it("grants a crew's budget on assembly; wallets, grants, transfers and entries; balances survive a restart", async () => {
    const dir = tempDir();
    let factory = await createFactory({ dataDir: dir.path, logger: silentLogger });
    try {
      let app = createApp(factory);
      factory.registerProfile({ name: "w", role: "Worker", pool: { spawnStrategy: "manual" } });
      const { crew, agents } = await factory.assembleCrew({ name: "funded", budget: 100, members: [{ profile: "w" }] });
      const agent = agents[0]!;
      const wallet = async (address: string) => (await (await app.request(`/v1/wallets/${address}`)).json()) as { balance: number; ownerKind: string };
      assert.equal((await wallet(crew.walletAddress)).balance, 100);
      const entries = (await (await app.request(`/v1/ledger?crewId=${crew.id}`)).json()) as { items: Array<{ kind: string; debit: string; credit: string; amount: number }> };
      assert.deepEqual(entries.items.map((e) => [e.kind, e.debit, e.credit, e.amount]), [["grant", SYSTEM_WALLET, crew.walletAddress, 100]]);

      const moved = await app.request("/v1/ledger/transfers", json({ from: crew.walletAddress, to: agent.walletAddress, amount: 30.5, memo: "bonus" }));
      assert.equal(moved.status, 201);
      assert.deepEqual([(await wallet(crew.walletAddress)).balance, (await wallet(agent.walletAddress)).balance], [69.5, 30.5]);
      const granted = await app.request("/v1/ledger/grants", json({ wallet: agent.walletAddress, amount: 0.25 }));
      assert.equal(granted.status, 201);
      assert.equal((await wallet(agent.walletAddress)).balance, 30.75);
      const system = await wallet(SYSTEM_WALLET);
      assert.deepEqual([system.ownerKind, system.balance], ["system", -100.25]);
      const forAgent = (await (await app.request(`/v1/ledger?wallet=${agent.walletAddress}`)).json()) as { items: unknown[] };
      assert.equal(forAgent.items.length, 2);

      // Bad input: 4xx naming what is wrong; nothing moves.
      const tooMuch = await app.request("/v1/ledger/transfers", json({ from: crew.walletAddress, to: agent.walletAddress, amount: 1_000 }));
      assert.equal(tooMuch.status, 402);
      assert.equal(((await tooMuch.json()) as { error: { code: string } }).error.code, "INSUFFICIENT_CREDITS");
      assert.equal((await app.request("/v1/ledger/grants", json({ wallet: "0x371_NOPE_0", amount: 1 }))).status, 404);
      for (const body of [{ wallet: agent.walletAddress, amount: -1 }, { wallet: agent.walletAddress, amount: 0 }, { wallet: agent.walletAddress }, { wallet: agent.walletAddress, amount: 1, extra: true }, { wallet: SYSTEM_WALLET, amount: 1 }]) {
        const res = await app.request("/v1/ledger/grants", json(body));
        assert.equal(res.status, 400, JSON.stringify(body));
      }
      assert.equal((await app.request("/v1/ledger/transfers", json({ from: crew.walletAddress, to: crew.walletAddress, amount: 1 }))).status, 400);
      assert.equal((await app.request("/v1/ledger?kind=bogus")).status, 400);
      assert.equal((await wallet(crew.walletAddress)).balance, 69.5);

      await factory.close();
      factory = await createFactory({ dataDir: dir.path, logger: silentLogger });
      app = createApp(factory);
      assert.deepEqual([(await wallet(crew.walletAddress)).balance, (await wallet(agent.walletAddress)).balance, (await wallet(SYSTEM_WALLET)).balance], [69.5, 30.75, -100.25]);
    } finally {
      await factory.close();
      dir.cleanup();
    }
  });

  it("GET /v1/ledger/report sums usage per agent, model, crew and day with exact totals; bad parameters are 400 naming them", async () => {
    const dir = tempDir();
    const factory = await createFactory({ dataDir: dir.path, logger: silentLogger });
    try {
      const app = createApp(factory);
      factory.registerProfile({ name: "w", role: "Worker", pool: { spawnStrategy: "manual" } });
      const { crew, agents } = await factory.assembleCrew({ name: "metered", budget: 100, members: [{ profile: "w", count: 2 }] });
      const [a1, a2] = [agents[0]!.id, agents[1]!.id];
      // Three model calls paid by the crew: reserved, then settled with what they cost.
      const call = (agentId: string, model: string, heldMicro: number, costMicro: number, tokensIn: number, tokensOut: number): void => {
        const r = factory.ledger.reserve(crew.walletAddress, heldMicro, { crewId: crew.id, agentId, model });
        factory.ledger.settle(r.id, costMicro, { tokensIn, tokensOut });
      };
      call(a1, "mock:small", 2_000_000, 1_250_000, 1000, 200);
      call(a2, "mock:large", 1_000_000, 500_000, 300, 100);
      call(a1, "mock:large", 1_000_000, 250_000, 50, 25);
      const get = async (query: string) => {
        const res = await app.request(`/v1/ledger/report?${query}`);
        return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: { code: string; field?: string } } };
      };
      const row = (key: string | null, entries: number, amount: number, tokensIn: number, tokensOut: number) => ({ key, entries, amount, tokensIn, tokensOut });

      const byAgent = await get("by=agent");
      assert.equal(byAgent.status, 200);
      assert.deepEqual(byAgent.body, {
        by: "agent",
        kind: "usage",
        from: null,
        to: null,
        rows: [row(a1, 2, 1.5, 1050, 225), row(a2, 1, 0.5, 300, 100)],
        total: { entries: 3, amount: 2, tokensIn: 1350, tokensOut: 325 },
      });
      assert.deepEqual((await get("by=model")).body.rows, [row("mock:small", 1, 1.25, 1000, 200), row("mock:large", 2, 0.75, 350, 125)]);
      assert.deepEqual((await get(`by=model&agentId=${a1}&model=mock:large`)).body.rows, [row("mock:large", 1, 0.25, 50, 25)]);
      const released = await get(`by=crew&kind=release&crewId=${crew.id}`);
      // A release entry carries its call's crew, agent and model, but its tokens are counted on the usage entry only.
      assert.deepEqual([released.body.rows, released.body.total], [[row(crew.id, 3, 2, 0, 0)], { entries: 3, amount: 2, tokensIn: 0, tokensOut: 0 }]);
      const day = (await factory.listLedger({ kinds: ["usage"] }))[0]!.at.slice(0, 10);
      assert.deepEqual((await get(`by=day&agentId=${a2}`)).body.rows, [row(day, 1, 0.5, 300, 100)]);
      // The range comes back as UTC instants; a range with no entries is empty, its total 0.
      const empty = await get("by=month&from=2000-01-01&to=2000-02-01T02:00:00%2B02:00");
      assert.deepEqual(empty.body, { by: "month", kind: "usage", from: "2000-01-01T00:00:00.000Z", to: "2000-02-01T00:00:00.000Z", rows: [], total: { entries: 0, amount: 0, tokensIn: 0, tokensOut: 0 } });

      for (const [query, field] of [
        ["", "by"],
        ["by=week", "by"],
        ["by=agent&kind=bogus", "kind"],
        ["by=agent&from=yesterday", "from"],
        ["by=agent&to=2026-02-30", "to"],
        ["by=agent&from=2026-01-01T10:00:00", "from"],
        ["by=agent&from=2026-02-01&to=2026-01-01", "to"],
        ["by=agent&wallet=x", "wallet"],
      ] as const) {
        const bad = await get(query);
        assert.equal(bad.status, 400, query);
        assert.deepEqual([bad.body.error?.code, bad.body.error?.field], ["VALIDATION_FAILED", field], query);
      }

      const doc = (await (await app.request("/openapi.json")).json()) as { paths: Record<string, { get?: { parameters: Array<{ name: string; required?: boolean }> } }> };
      const params = doc.paths["/v1/ledger/report"]?.get?.parameters ?? [];
      assert.deepEqual(params.map((p) => [p.name, p.required === true]), [["by", true], ["kind", false], ["crewId", false], ["agentId", false], ["model", false], ["from", false], ["to", false]]);
    } finally {
      await factory.close();
      dir.cleanup();
    }
  });

  it("POST /v1/models/route explains the choice, judging a crew's remaining budget; bad input is 400, an unknown crew 404", async () => {
    const dir = tempDir();
    const factory = await createFactory({ dataDir: dir.path, logger: silentLogger });
    try {
      const app = createApp(factory);
      factory.registerProfile({ name: "w", role: "Worker", pool: { spawnStrategy: "manual" } });
      const { crew, agents } = await factory.assembleCrew({ name: "router", budget: 100, members: [{ profile: "w" }] });
      const ask = async (body: unknown) => app.request("/v1/models/route", json(body));
      const premium = (await (await ask({ metadata: { quality: "high" }, estimatedInputTokens: 10, crewId: crew.id })).json()) as { model: string; rule: string; reason: string; budgetFraction: number };
      assert.deepEqual([premium.rule, premium.model, premium.budgetFraction], ["high-quality", "openrouter:gpt-4o-mini", 1]);
      // Spend 96 % of the crew's budget: now the cheapest.
      await factory.transferCredits(crew.walletAddress, agents[0]!.walletAddress, 96);
      const cheap = (await (await ask({ metadata: { quality: "high" }, estimatedInputTokens: 10, crewId: crew.id })).json()) as { rule: string; budgetFraction: number };
      assert.deepEqual([cheap.rule, cheap.budgetFraction], ["low-budget", 0.04]);
      const local = (await (await ask({ metadata: { confidential: true }, estimatedInputTokens: 10 })).json()) as { rule: string; budgetFraction: number | null };
      assert.deepEqual([local.rule, local.budgetFraction], ["confidential", null]);
      assert.equal((await ask({ estimatedInputTokens: -1 })).status, 400);
      assert.equal((await ask({ metadata: {} })).status, 400);
      assert.equal((await ask({ estimatedInputTokens: 1, crewId: "crew_nope" })).status, 404);
    } finally {
      await factory.close();
      dir.cleanup();
    }
  });
});
