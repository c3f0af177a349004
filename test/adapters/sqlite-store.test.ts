// Runs the Store conformance suite against the embedded SQLite adapter on a real file, and pins how an older database is upgraded.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DatabaseSync } from "node:sqlite";
import { Kysely, Migrator, SqliteDialect, sql } from "kysely";
import { migrationProvider } from "../../src/adapters/store/sql/migrations.ts";
import { NodeSqliteDatabase } from "../../src/adapters/store/sqlite/node-sqlite-database.ts";
import { createSqliteStore } from "../../src/adapters/store/sqlite/sqlite-store.ts";
import { storeConformance, task } from "../conformance/store.conformance.ts";
import { tempDir } from "../helpers.ts";

storeConformance("sqlite (file, WAL)", async () => {
  const dir = tempDir();
  const filename = join(dir.path, "nested", "factory.db");
  const sut = {
    store: await createSqliteStore({ filename }),
    async reopen() {
      await sut.store.close();
      return createSqliteStore({ filename });
    },
    async cleanup() {
      await sut.store.close();
      dir.cleanup();
    },
  };
  return sut;
});

describe("sqlite store: migration 0004", () => {
  it("fills the new ledger columns of entries written before it, so they are reported and their open reservations found", async () => {
    const dir = tempDir();
    const filename = join(dir.path, "old.db");
    try {
      const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new NodeSqliteDatabase(new DatabaseSync(filename)) }) });
      const { error } = await new Migrator({ db, provider: migrationProvider("sqlite") }).migrateTo("0003_ledger");
      assert.equal(error, undefined);
      const old = [
        { seq: 1, kind: "reservation", debit: "W1", credit: "RES", amount: 2, reservationId: "r1", model: "m1", taskId: "t1" },
        { seq: 2, kind: "usage", debit: "RES", credit: "PROV", amount: 0.5, reservationId: "r1", model: "m1", tokensIn: 7, tokensOut: 3 },
        { seq: 3, kind: "grant", debit: "SYS", credit: "W1", amount: 1 },
      ];
      for (const e of old) {
        const data = JSON.stringify({ id: `le_${e.seq}`, at: "2026-01-01T00:00:00.000Z", crewId: null, agentId: "a1", taskId: null, reservationId: null, model: null, tokensIn: null, tokensOut: null, memo: null, ...e });
        await sql`insert into ledger (seq, id, kind, debit, credit, micro, crew_id, agent_id, at, data) values (${e.seq}, ${`le_${e.seq}`}, ${e.kind}, ${e.debit}, ${e.credit}, ${e.amount * 1_000_000}, ${null}, ${"a1"}, ${"2026-01-01T00:00:00.000Z"}, ${data})`.execute(db);
      }
      await db.destroy();

      const store = await createSqliteStore({ filename });
      try {
        assert.deepEqual(await store.ledgerReport({ by: "model" }), [{ key: "m1", entries: 1, amount: 0.5, tokensIn: 7, tokensOut: 3 }]);
        assert.deepEqual(await store.openReservations(), [{ reservationId: "r1", wallet: "W1", micro: 1_500_000, crewId: null, agentId: "a1", taskId: "t1", model: "m1" }]);
      } finally {
        await store.close();
      }
    } finally {
      dir.cleanup();
    }
  });
});

describe("sqlite store: migration 0007", () => {
  it("fills finished_at of tasks written before it, so retention finds them (and never an unfinished one)", async () => {
    const dir = tempDir();
    const filename = join(dir.path, "old.db");
    try {
      const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new NodeSqliteDatabase(new DatabaseSync(filename)) }) });
      const { error } = await new Migrator({ db, provider: migrationProvider("sqlite") }).migrateTo("0005_budgets");
      assert.equal(error, undefined);
      for (const t of [task("old-done", { state: "SUCCEEDED", finishedAt: "2026-01-01T00:00:00.000Z" }), task("old-queued")]) {
        await sql`insert into tasks (id, state, crew_id, created_at, idempotency_key, data) values (${t.id}, ${t.state}, ${null}, ${t.createdAt}, ${null}, ${JSON.stringify(t)})`.execute(db);
      }
      await db.destroy();

      const store = await createSqliteStore({ filename });
      try {
        assert.equal(await store.prune({ kind: "tasks", before: "2026-02-01T00:00:00.000Z", limit: 10 }), 1);
        assert.deepEqual((await store.listTasks({})).map((t) => t.id), ["old-queued"]);
      } finally {
        await store.close();
      }
    } finally {
      dir.cleanup();
    }
  });
});
