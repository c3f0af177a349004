// Pins the budget guard: 1,000 concurrent calls against a budget of N credits never spend more than N — by wallet funds, by a crew limit, by a periodic global limit — and refusals are BUDGET_EXCEEDED, not retryable; sized holds cap a call's output to what is left, wait in line for other holds to settle, and use nearly all of a budget under a burst.
import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createSqliteStore } from "../../src/adapters/store/sqlite/sqlite-store.ts";
import { FactoryError } from "../../src/core/errors.ts";
import { PROVIDERS_WALLET, RESERVE_WALLET, SYSTEM_WALLET, toMicro } from "../../src/core/ledger.ts";
import type { Store } from "../../src/core/ports/store.ts";
import { Ledger } from "../../src/economics/ledger.ts";
import { Journal } from "../../src/state/journal.ts";
import { BudgetGuard, type CallSizing } from "../../src/models/budget-guard.ts";
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

  /** A call whose input costs 0.001 credits and each output token 0.00001 (10 micro-credits). */
  const sizing = (maxOutputTokens: number): CallSizing => ({ maxOutputTokens, costMicro: (tokens) => 1_000 + 10 * tokens });
  const crewScope = { crewId: "c9", agentId: null };

  it("caps a call's output to what the credits left can pay, down to 1 token, and refuses below that", async () => {
    ledger.grant(CREW, 0.005);
    const sized = await guard.reserveCall(CREW, crewScope, sizing(1_000), { waitMs: 0 });
    // 0.005 credits: 1,000 micro for the input, 4,000 for 400 output tokens.
    assert.deepEqual([sized.maxOutputTokens, sized.hold.reservation.micro], [400, 5_000]);
    guard.settle(sized.hold, 0.0038);
    // 0.0012 left: 20 output tokens.
    const second = await guard.reserveCall(CREW, crewScope, sizing(1_000), { waitMs: 0 });
    assert.deepEqual([second.maxOutputTokens, second.hold.reservation.micro], [20, 1_200]);
    guard.settle(second.hold, 0.0012);
    await assert.rejects(guard.reserveCall(CREW, crewScope, sizing(1_000), { waitMs: 0 }), { code: "BUDGET_EXCEEDED", nonRetryable: true });
    assert.equal(ledger.balanceMicro(PROVIDERS_WALLET), 5_000);
  });

  it("waits in line while another call's hold could make room, and takes the room when it settles", async () => {
    ledger.grant(CREW, 0.01);
    const first = await guard.reserveCall(CREW, crewScope, sizing(800), { waitMs: 0 });
    assert.equal(first.maxOutputTokens, 800);
    let waited = true;
    const second = guard.reserveCall(CREW, crewScope, sizing(800), { waitMs: 10_000 });
    void second.then(() => (waited = false));
    await new Promise((r) => setImmediate(r));
    assert.equal(guard.waiting, 1);
    assert.equal(waited, true);
    // The first call cost 0.001: 0.009 comes back, and the second gets its whole maximum.
    guard.settle(first.hold, 0.001);
    const served = await second;
    assert.equal(served.maxOutputTokens, 800);
    assert.equal(guard.waiting, 0);
    guard.settle(served.hold, 0.001);
    assert.equal(ledger.balanceMicro(RESERVE_WALLET), 0);
  });

  it("refuses a waiting call as soon as nothing it could wait for is held, naming the wallet and how to fund it", async () => {
    ledger.grant(CREW, 0.0015);
    const first = await guard.reserveCall(CREW, crewScope, sizing(100), { waitMs: 0 });
    assert.equal(first.maxOutputTokens, 50);
    const second = guard.reserveCall(CREW, crewScope, sizing(100), { waitMs: 60_000 });
    await new Promise((r) => setImmediate(r));
    assert.equal(guard.waiting, 1);
    const startedAt = Date.now();
    guard.settle(first.hold, 0.0015);
    await assert.rejects(second, {
      code: "BUDGET_EXCEEDED",
      nonRetryable: true,
      message: `wallet ${CREW} cannot cover a call of even 1 output token (0.00101 credits): it holds 0 credits. Give it credits: agent-factory ledger grant ${CREW} <credits> (POST /v1/ledger/grants {"wallet": "${CREW}", "amount": <credits>})`,
    });
    assert.ok(Date.now() - startedAt < 1_000, "refused at the settlement, not at the end of the wait");
    assert.equal(guard.waiting, 0);
  });

  it("a waiting call goes through as soon as its limit is raised", async () => {
    ledger.grant(CREW, 1);
    guard.setLimit({ key: "crew:c9", credits: 0.002, periodMs: null });
    const first = await guard.reserveCall(CREW, crewScope, sizing(100), { waitMs: 0 });
    const second = guard.reserveCall(CREW, crewScope, sizing(100), { waitMs: 60_000 });
    await new Promise((r) => setImmediate(r));
    assert.equal(guard.waiting, 1);
    guard.setLimit({ key: "crew:c9", credits: 0.004, periodMs: null });
    assert.equal(guard.waiting, 0);
    const served = await second;
    assert.equal(served.maxOutputTokens, 100);
    assert.equal(guard.view("crew:c9")?.reserved, 0.004);
    guard.release(first.hold);
    guard.release(served.hold);
  });

  it("a waiting call that is cancelled leaves the line holding nothing", async () => {
    ledger.grant(CREW, 0.002);
    const first = await guard.reserveCall(CREW, crewScope, sizing(100), { waitMs: 0 });
    const controller = new AbortController();
    const second = guard.reserveCall(CREW, crewScope, sizing(100), { waitMs: 60_000, signal: controller.signal });
    await new Promise((r) => setImmediate(r));
    controller.abort(new Error("task cancelled"));
    await assert.rejects(second, /task cancelled/);
    assert.equal(guard.waiting, 0);
    guard.release(first.hold);
    assert.equal(ledger.balanceMicro(CREW), 2_000);
    assert.equal(ledger.openReservations, 0);
  });

  it("1,000 concurrent sized calls against 250 credits spend at most 250 and use at least 99 % of it", async () => {
    ledger.grant(CREW, 250);
    guard.setLimit({ key: "crew:burst", credits: 250, periodMs: null });
    // Each call: 0.1 credits of input, up to 400 output tokens at 0.001 (0.5 credits in all); it writes 50–400.
    const costMicro = (tokens: number): number => 100_000 + 1_000 * tokens;
    const outcomes = await Promise.all(
      Array.from({ length: 1_000 }, async () => {
        let sized;
        try {
          sized = await guard.reserveCall(CREW, { crewId: "burst", agentId: null }, { maxOutputTokens: 400, costMicro }, { waitMs: 5_000 });
        } catch (error) {
          assert.ok(error instanceof FactoryError && error.code === "BUDGET_EXCEEDED", String(error));
          return "refused";
        }
        await new Promise((r) => setTimeout(r, Math.random() * 5));
        const written = Math.min(sized.maxOutputTokens, 50 + Math.floor(Math.random() * 351));
        guard.settle(sized.hold, costMicro(written) / 1e6);
        return "ok";
      }),
    );
    const spent = ledger.balanceMicro(PROVIDERS_WALLET);
    assert.ok(spent <= toMicro(250), `spent ${spent / 1e6} of 250`);
    assert.ok(spent >= toMicro(247.5), `spent only ${spent / 1e6} of 250`);
    assert.ok(outcomes.includes("refused"), "the budget ran out");
    assert.equal(guard.view("crew:burst")?.spent, spent / 1e6);
    assert.equal(guard.view("crew:burst")?.reserved, 0);
    assert.equal(ledger.balanceMicro(RESERVE_WALLET), 0);
    assert.equal(ledger.openReservations, 0);
    assert.equal(guard.waiting, 0);
  });

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
