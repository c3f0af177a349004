// Pins the budget guard: 1,000 concurrent calls against a budget of N credits never spend more than N — by wallet funds, by a crew limit, by a periodic global limit — and refusals are BUDGET_EXCEEDED, not retryable.
import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createSqliteStore } from "../../src/adapters/store/sqlite/sqlite-store.ts";
import { FactoryError } from "../../src/core/errors.ts";
import { PROVIDERS_WALLET, RESERVE_WALLET, SYSTEM_WALLET, toMicro } from "../../src/core/ledger.ts";
import type { Store } from "../../src/core/ports/store.ts";
import { Ledger } from "../../src/economics/ledger.ts";
import { Journal } from "../../src/factory/journal.ts";
import { BudgetGuard } from "../../src/models/budget-guard.ts";
import { tempDir } from "../helpers.ts";

const CREW = "0x371_CREW_budget";

describe("budget guard", () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  let journal: Journal;
  let ledger: Ledger;
  let guard: BudgetGuard;
  let clock = 0;
  beforeEach(async () => {
    dir = tempDir();
    store = await createSqliteStore({ filename: join(dir.path, "b.db") });
    journal = new Journal(store, () => {});
    ledger = new Ledger(journal);
    clock = 1_000_000;
    guard = new BudgetGuard(ledger, () => clock);
  });
  afterEach(async () => {
    journal.close();
    await store.close();
    dir.cleanup();
  });

  /** One model call: reserve the estimate, "call" (a random wait), settle a random real cost ≤ the estimate. */
  async function call(scope: { crewId: string | null; agentId: string | null }, estimate: number): Promise<"ok" | "refused"> {
    let hold;
    try {
      hold = guard.reserve(CREW, scope, estimate, { model: "mock" });
    } catch (error) {
      assert.ok(error instanceof FactoryError && error.code === "BUDGET_EXCEEDED" && error.nonRetryable, String(error));
      return "refused";
    }
    await new Promise((r) => setTimeout(r, Math.random() * 5));
    guard.settle(hold, estimate * (0.3 + Math.random() * 0.7), { tokensIn: 100, tokensOut: 20 });
    return "ok";
  }

  for (let round = 0; round < 5; round++) {
    it(`1,000 concurrent calls against a crew wallet of 250 credits spend at most 250 (round ${round + 1})`, async () => {
      ledger.grant(CREW, 250);
      const outcomes = await Promise.all(Array.from({ length: 1_000 }, () => call({ crewId: "c1", agentId: null }, 0.5 + Math.random() * 2)));
      await journal.commit();
      const spent = ledger.balanceMicro(PROVIDERS_WALLET);
      assert.ok(spent <= toMicro(250), `spent ${spent / 1e6} of 250`);
      assert.ok(outcomes.includes("refused"), "some calls did not fit");
      assert.equal(ledger.balanceMicro(CREW) + spent, toMicro(250), "what was not spent is back in the wallet");
      assert.equal(ledger.balanceMicro(RESERVE_WALLET), 0, "nothing left held");
      assert.equal(ledger.openReservations, 0);
      // The store agrees, entry by entry.
      const usage = await store.listLedger({ kinds: ["usage"], limit: 100_000 });
      assert.equal(usage.reduce((n, e) => n + toMicro(e.amount), 0), spent);
    });
  }

  it("a crew limit below the wallet's funds holds under 1,000 concurrent calls", async () => {
    ledger.grant(CREW, 10_000);
    guard.setLimit({ key: "crew:c2", credits: 100, periodMs: null });
    await Promise.all(Array.from({ length: 1_000 }, () => call({ crewId: "c2", agentId: null }, 1)));
    const view = guard.view("crew:c2");
    assert.ok(view !== undefined && view.spent <= 100 && view.reserved === 0, JSON.stringify(view));
    assert.ok(ledger.balance(PROVIDERS_WALLET) <= 100);
  });

  it("a global limit per period resets when the period ends; an agent limit applies to that agent only", async () => {
    ledger.grant(CREW, 1_000);
    guard.setLimit({ key: "global", credits: 10, periodMs: 60_000 });
    guard.setLimit({ key: "agent:a1", credits: 2, periodMs: null });
    const a1 = await Promise.all(Array.from({ length: 50 }, () => call({ crewId: null, agentId: "a1" }, 1)));
    assert.ok(a1.filter((o) => o === "ok").length <= 2);
    await Promise.all(Array.from({ length: 50 }, () => call({ crewId: null, agentId: "a2" }, 1)));
    assert.ok((guard.view("global")?.spent ?? 0) <= 10);
    assert.throws(() => guard.reserve(CREW, { crewId: null, agentId: "a3" }, 9), (e: unknown) => e instanceof FactoryError && e.code === "BUDGET_EXCEEDED");
    clock += 60_000;
    const hold = guard.reserve(CREW, { crewId: null, agentId: "a3" }, 9);
    guard.release(hold);
    assert.equal(guard.view("global")?.spent, 0, "a new period");
    assert.equal(ledger.balanceMicro(SYSTEM_WALLET) + ledger.balanceMicro(CREW) + ledger.balanceMicro(PROVIDERS_WALLET) + ledger.balanceMicro(RESERVE_WALLET), 0);
  });
});
