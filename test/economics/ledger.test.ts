// Pins the double-entry ledger: for any sequence of operations the balances sum to zero and each equals the sum of its entries (in memory and in a real SQLite store); wallets never go below zero; credits held by a call the factory stopped during go back at the next start.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { createSqliteStore } from "../../src/adapters/store/sqlite/sqlite-store.ts";
import { FactoryError } from "../../src/core/errors.ts";
import { PROVIDERS_WALLET, RESERVE_WALLET, SYSTEM_WALLET, toMicro, type LedgerEntry } from "../../src/core/ledger.ts";
import { Ledger, type Reservation } from "../../src/economics/ledger.ts";
import { createFactory } from "../../src/factory/create-factory.ts";
import { Journal } from "../../src/state/journal.ts";
import { silentLogger, tempDir } from "../helpers.ts";

const WALLETS = ["0x371_CREW_a", "0x371_CODER_b", "0x371_CODER_c"];

type Op =
  | { kind: "grant"; to: number; amount: number }
  | { kind: "transfer"; from: number; to: number; amount: number }
  | { kind: "reserve"; from: number; amount: number }
  | { kind: "settle"; pick: number; fraction: number };

const amount = fc.integer({ min: 1, max: 5_000_000 }).map((micro) => micro / 1_000_000);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("grant" as const), to: fc.nat({ max: 2 }), amount }),
  fc.record({ kind: fc.constant("transfer" as const), from: fc.nat({ max: 2 }), to: fc.nat({ max: 2 }), amount }),
  fc.record({ kind: fc.constant("reserve" as const), from: fc.nat({ max: 2 }), amount }),
  fc.record({ kind: fc.constant("settle" as const), pick: fc.nat(), fraction: fc.double({ min: 0, max: 1.5, noNaN: true }) }),
);

/** Balances as the sum of entries, in micro-credits. */
function sums(entries: readonly LedgerEntry[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of entries) {
    out.set(e.credit, (out.get(e.credit) ?? 0) + toMicro(e.amount));
    out.set(e.debit, (out.get(e.debit) ?? 0) - toMicro(e.amount));
  }
  return out;
}

describe("ledger", () => {
  it("for any sequence of grants, transfers, reservations and settlements: Σ balances is 0, each balance is the sum of its entries, none below 0", async () => {
    const dir = tempDir();
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), async (ops) => {
          const store = await createSqliteStore({ filename: join(dir.path, `ledger-${run++}.db`) });
          const journal = new Journal(store, () => {});
          const ledger = new Ledger(journal);
          const open: Reservation[] = [];
          try {
            for (const o of ops) {
              try {
                if (o.kind === "grant") ledger.grant(WALLETS[o.to] as string, o.amount);
                else if (o.kind === "transfer") ledger.post("transfer", WALLETS[o.from] as string, WALLETS[o.to] as string, o.amount);
                else if (o.kind === "reserve") open.push(ledger.reserve(WALLETS[o.from] as string, toMicro(o.amount)));
                else if (open.length > 0) {
                  const r = open.splice(o.pick % open.length, 1)[0] as Reservation;
                  const charged = ledger.settle(r.id, r.micro * o.fraction);
                  assert.ok(toMicro(charged) <= r.micro, "never charged more than was held");
                }
              } catch (error) {
                // Refusals are fine (no funds, paying oneself); they must leave nothing behind.
                assert.ok(error instanceof FactoryError && (error.code === "INSUFFICIENT_CREDITS" || error.code === "VALIDATION_FAILED"), String(error));
              }
            }
            await journal.commit();
            const entries = await store.listLedger({ limit: 100_000 });
            const fromStore = sums(entries);
            const all = new Set([...WALLETS, SYSTEM_WALLET, RESERVE_WALLET, PROVIDERS_WALLET, ...fromStore.keys()]);
            let total = 0;
            for (const w of all) {
              assert.equal(ledger.balanceMicro(w), fromStore.get(w) ?? 0, `${w}: balance = sum of its entries`);
              total += ledger.balanceMicro(w);
              if (w !== SYSTEM_WALLET) assert.ok(ledger.balanceMicro(w) >= 0, `${w} never below 0`);
            }
            assert.equal(total, 0, "Σ balances is conserved (zero)");
            // What is still reserved is exactly what the reserve wallet holds.
            assert.equal(ledger.balanceMicro(RESERVE_WALLET), open.reduce((n, r) => n + r.micro, 0));
            const totals = await store.ledgerTotals();
            for (const w of all) assert.equal(totals.balances.get(w) ?? 0, ledger.balanceMicro(w), `${w}: the store's sum agrees`);
            assert.equal(entries.length, totals.lastSeq);
          } finally {
            journal.close();
            await store.close();
          }
        }),
        { numRuns: 60 },
      );
    } finally {
      dir.cleanup();
    }
  });

  it("refuses bad amounts and a wallet paying itself, naming the field", async () => {
    const dir = tempDir();
    const store = await createSqliteStore({ filename: join(dir.path, "l.db") });
    const journal = new Journal(store, () => {});
    const ledger = new Ledger(journal);
    try {
      for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2e9]) {
        assert.throws(() => ledger.grant("0x371_X_a", bad), (e: unknown) => e instanceof FactoryError && e.code === "VALIDATION_FAILED" && e.field === "amount");
      }
      ledger.grant("0x371_X_a", 1);
      assert.throws(() => ledger.post("transfer", "0x371_X_a", "0x371_X_a", 1), (e: unknown) => e instanceof FactoryError && e.field === "credit");
      assert.throws(() => ledger.post("transfer", "0x371_X_a", "0x371_X_b", 1.5), (e: unknown) => e instanceof FactoryError && e.code === "INSUFFICIENT_CREDITS");
      assert.throws(() => ledger.grant(RESERVE_WALLET, 1), (e: unknown) => e instanceof FactoryError && e.field === "wallet");
      assert.equal(ledger.balance("0x371_X_a"), 1);
    } finally {
      journal.close();
      await store.close();
      dir.cleanup();
    }
  });

  it("a reservation left open when the factory stopped goes back to its wallet at the next start, as a release entry; Σ balances stays 0", async () => {
    const dir = tempDir();
    const logged: string[] = [];
    const logger = { ...silentLogger, info: (message: string) => logged.push(message) };
    let factory = await createFactory({ dataDir: dir.path, logger });
    try {
      factory.registerProfile({ name: "w", role: "Worker", pool: { spawnStrategy: "manual" } });
      const { crew, agents } = await factory.assembleCrew({ name: "spender", budget: 10, members: [{ profile: "w" }] });
      const agentId = agents[0]!.id;
      // One call settled, one left open by a stop mid-call, one settled only as far as its usage entry.
      const settled = factory.ledger.reserve(crew.walletAddress, 1_000_000, { crewId: crew.id, agentId, model: "mock:small" });
      factory.ledger.settle(settled.id, 400_000, { tokensIn: 10, tokensOut: 5 });
      const open = factory.ledger.reserve(crew.walletAddress, 2_500_000, { crewId: crew.id, agentId, taskId: "task_1", model: "mock:large" });
      assert.equal(factory.ledger.balance(crew.walletAddress), 7.1);
      assert.equal(factory.ledger.balance(RESERVE_WALLET), 2.5);
      await factory.close();

      logged.length = 0;
      factory = await createFactory({ dataDir: dir.path, logger });
      assert.equal(factory.ledger.balance(crew.walletAddress), 9.6);
      assert.equal(factory.ledger.balance(RESERVE_WALLET), 0);
      assert.equal(factory.ledger.balance(PROVIDERS_WALLET), 0.4);
      assert.equal(factory.ledger.balance(SYSTEM_WALLET), -10);
      assert.deepEqual(logged.filter((m) => m.startsWith("released")), ["released 1 reservation(s) left open when the factory stopped (2.5 credits back to their wallets)"]);
      const released = await factory.listLedger({ kinds: ["release"] });
      const last = released.at(-1)!;
      assert.deepEqual(
        [last.kind, last.debit, last.credit, last.amount, last.reservationId, last.crewId, last.agentId, last.taskId, last.model, last.memo],
        ["release", RESERVE_WALLET, crew.walletAddress, 2.5, open.id, crew.id, agentId, "task_1", "mock:large", "released at start: the call's outcome was lost when the factory stopped"],
      );
      const entries = await factory.listLedger({ limit: 10_000 });
      let total = 0;
      for (const [wallet, micro] of sums(entries)) {
        assert.equal(micro, factory.ledger.balanceMicro(wallet), `${wallet}: balance = sum of its entries`);
        total += micro;
      }
      assert.equal(total, 0, "Σ balances is 0");

      // Released once: the next start finds nothing open.
      await factory.close();
      logged.length = 0;
      factory = await createFactory({ dataDir: dir.path, logger });
      assert.deepEqual(logged.filter((m) => m.startsWith("released")), []);
      assert.equal((await factory.listLedger({ kinds: ["release"] })).length, released.length);
      assert.equal(factory.ledger.balance(crew.walletAddress), 9.6);
    } finally {
      await factory.close();
      dir.cleanup();
    }
  });
});
