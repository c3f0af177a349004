// Pins the ledger over HTTP: a crew's budget granted on assembly, wallets whose balance is the sum of their entries, grants and transfers with 4xx for bad input, and balances across a restart.
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
