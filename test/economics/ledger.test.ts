// Pins the double-entry ledger: for any sequence of operations the balances sum to zero and each equals the sum of its entries (in memory and in a real SQLite store); wallets never go below zero.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { createSqliteStore } from "../../src/adapters/store/sqlite/sqlite-store.ts";
import { FactoryError } from "../../src/core/errors.ts";
import { PROVIDERS_WALLET, RESERVE_WALLET, SYSTEM_WALLET, toMicro, type LedgerEntry } from "../../src/core/ledger.ts";
import { Ledger, type Reservation } from "../../src/economics/ledger.ts";
import { Journal } from "../../src/factory/journal.ts";
import { tempDir } from "../helpers.ts";

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
});
