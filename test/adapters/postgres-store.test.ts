// Runs the Store conformance suite against the PostgreSQL adapter on the local server, each test in a schema of its own, and pins what PostgreSQL adds: one transaction per batch, errors that hide the password, recovery when PostgreSQL comes back, two stores on one schema, migrations from two nodes at once.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import { createPostgresStore } from "../../src/adapters/store/postgres/postgres-store.ts";
import type { LedgerEntry } from "../../src/core/ledger.ts";
import type { Store, StoreWrite } from "../../src/core/ports/store.ts";
import { storeConformance, task } from "../conformance/store.conformance.ts";
import { until } from "../helpers.ts";
import { PG_SKIP, PG_URL, PostgresRelay, testSchema, type TestSchema } from "./postgres-test-schema.ts";

describe("postgres store", { skip: PG_SKIP }, () => {
  storeConformance("postgres", async () => {
    const schema = await testSchema();
    let store: Store;
    try {
      store = await createPostgresStore({ url: PG_URL, schema: schema.name, poolSize: 4 });
    } catch (error) {
      await schema.drop();
      throw error;
    }
    const sut = {
      store,
      async reopen() {
        await sut.store.close();
        return createPostgresStore({ url: PG_URL, schema: schema.name, poolSize: 4 });
      },
      async cleanup() {
        try {
          await sut.store.close();
        } finally {
          await schema.drop();
        }
      },
    };
    return sut;
  });

  const entry = (seq: number, id: string, credit: string, amount: number): LedgerEntry => ({
    id,
    seq,
    at: new Date(Date.UTC(2026, 0, 1) + seq).toISOString(),
    kind: "grant",
    debit: "SYS",
    credit,
    amount,
    crewId: null,
    agentId: null,
    taskId: null,
    reservationId: null,
    model: null,
    tokensIn: null,
    tokensOut: null,
    memo: null,
  });

  /** Opens a store on a fresh schema for one test; `done` closes every store it opened and drops the schema. */
  async function scratch(): Promise<{ schema: TestSchema; open(url?: string): Promise<Store>; done(): Promise<void> }> {
    const schema = await testSchema();
    const stores: Store[] = [];
    return {
      schema,
      async open(url = PG_URL) {
        const store = await createPostgresStore({ url, schema: schema.name, poolSize: 4 });
        stores.push(store);
        return store;
      },
      async done() {
        try {
          await Promise.allSettled(stores.map((s) => s.close()));
        } finally {
          await schema.drop();
        }
      },
    };
  }

  const count = async (schema: TestSchema, table: string): Promise<number> => Number((await schema.query<{ n: string }>(`select count(*) as n from ${table}`))[0]?.n);

  describe("postgres store: a batch is one transaction", () => {
    it("a batch that fails midway leaves nothing of itself (tasks, events, reservations, grants), and the store takes the next one", async () => {
      const s = await scratch();
      try {
        const store = await s.open();
        await store.apply([{ kind: "task", value: task("first", { idempotencyKey: "order-1" }) }, { kind: "ledger", value: entry(1, "le_1", "W1", 10) }]);
        const batch: StoreWrite[] = [
          ...Array.from({ length: 100 }, (_, i) => ({ kind: "task" as const, value: task(`t${i}`) })),
          { kind: "ledger", value: { ...entry(2, "le_2", "RES", 3), kind: "reservation", debit: "W1", reservationId: "r1" } },
          { kind: "ledger", value: entry(3, "le_3", "W2", 4) },
          { kind: "event", value: { seq: 1, type: "crew.message", at: "2026-01-01T00:00:00.000Z", crewId: "c1" } },
          { kind: "context", crewId: "c1", key: "plan", value: 1, deleted: false },
          // Written last (tasks sort by id: "z…" after "t…"), after all of the above went in.
          { kind: "task", value: task("z-duplicate-key", { idempotencyKey: "order-1" }) },
        ];
        // PostgreSQL's own refusal (unique_violation) passes through: the journal reports and retries it.
        await assert.rejects(store.apply(batch), { code: "23505", constraint: "tasks_idempotency_key" });
        assert.deepEqual([await count(s.schema, "tasks"), await count(s.schema, "ledger"), await count(s.schema, "events"), await count(s.schema, "crew_context")], [1, 1, 0, 0]);
        assert.deepEqual(await store.openReservations(), []);
        assert.deepEqual([...(await store.ledgerTotals()).balances].sort(), [["SYS", -10_000_000], ["W1", 10_000_000]]);
        await store.apply(batch.slice(0, -1));
        assert.deepEqual([await count(s.schema, "tasks"), await count(s.schema, "ledger"), await count(s.schema, "events"), await count(s.schema, "crew_context")], [101, 3, 1, 1]);
        assert.deepEqual(await store.openReservations(), [{ reservationId: "r1", wallet: "W1", micro: 3_000_000, crewId: null, agentId: null, taskId: null, model: null }]);
      } finally {
        await s.done();
      }
    });
  });

  describe("postgres store: bad URLs, and PostgreSQL going away", () => {
    it("refuses a closed port and a database that does not exist with STORE_UNAVAILABLE, naming the URL with its password hidden", async () => {
      await assert.rejects(createPostgresStore({ url: "postgres://postgres:hunter2@127.0.0.1:1/test" }), {
        name: "FactoryError",
        code: "STORE_UNAVAILABLE",
        message: "the PostgreSQL store postgres://postgres:***@127.0.0.1:1/test is unavailable: connect ECONNREFUSED 127.0.0.1:1",
      });
      const url = new URL(PG_URL);
      url.password = "hunter2";
      url.pathname = "/af_no_such_database";
      const shown = `postgres://${url.username}:***@${url.host}/af_no_such_database`;
      await assert.rejects(createPostgresStore({ url: url.toString() }), {
        code: "STORE_UNAVAILABLE",
        message: `the PostgreSQL store ${shown} is unavailable: database "af_no_such_database" does not exist`,
        details: { url: shown },
      });
    });

    it("refuses options that are not a PostgreSQL URL or a plain schema name, naming the field", async () => {
      await assert.rejects(createPostgresStore({ url: "mysql://root:hunter2@127.0.0.1/db" }), {
        code: "VALIDATION_FAILED",
        field: "url",
        message: "url must be a PostgreSQL URL (postgres://user:password@host:port/database), not mysql://root:***@127.0.0.1/db",
      });
      await assert.rejects(createPostgresStore({ url: PG_URL, schema: "Robert'); drop table x;--" }), {
        code: "VALIDATION_FAILED",
        field: "schema",
        message: `schema must be 1 to 63 lower-case letters, digits or _, starting with a letter or _, not "Robert'); drop table x;--"`,
      });
      await assert.rejects(createPostgresStore({ url: PG_URL, poolSize: 0 }), { code: "VALIDATION_FAILED", field: "poolSize", message: "poolSize must be a positive integer, not 0" });
    });

    it("answers STORE_UNAVAILABLE while PostgreSQL is away, keeps nothing of a refused batch, and works again by itself when it is back", async () => {
      const s = await scratch();
      const relay = await PostgresRelay.start();
      try {
        const store = await s.open(relay.url());
        await store.apply([{ kind: "task", value: task("before") }]);
        relay.cut();
        const away = { code: "STORE_UNAVAILABLE", message: new RegExp(`^the PostgreSQL store ${relay.url("***").replaceAll(/[.*?/]/g, "\\$&")} is unavailable: `) };
        await assert.rejects(store.apply([{ kind: "task", value: task("during") }]), away);
        await assert.rejects(store.getTask("before"), away);
        relay.resume();
        await store.apply([{ kind: "task", value: task("after") }]);
        assert.deepEqual((await store.listTasks({})).map((t) => t.id).sort(), ["after", "before"]);
      } finally {
        await s.done();
        await relay.close();
      }
    });

    it("answers STORE_UNAVAILABLE after queryTimeoutMs when PostgreSQL stops answering without closing (a partition), and works again when it answers", async () => {
      const s = await scratch();
      const relay = await PostgresRelay.start();
      try {
        const store = await createPostgresStore({ url: relay.url(), schema: s.schema.name, poolSize: 2, queryTimeoutMs: 300, connectTimeoutMs: 300 });
        try {
          await store.apply([{ kind: "task", value: task("before") }]);
          relay.freeze();
          const t0 = performance.now();
          await assert.rejects(store.apply([{ kind: "task", value: task("during") }]), { code: "STORE_UNAVAILABLE", message: /is unavailable: Query read timeout$/ });
          const waitedMs = performance.now() - t0;
          assert.ok(waitedMs >= 290 && waitedMs < 3_000, `refused after ${waitedMs.toFixed(0)} ms`);
          relay.thaw();
          await store.apply([{ kind: "task", value: task("after") }]);
          assert.deepEqual((await store.listTasks({})).map((t) => t.id).sort(), ["after", "before"]);
        } finally {
          await store.close();
        }
      } finally {
        await s.done();
        await relay.close();
      }
    });

    it("recovers when PostgreSQL ends its connections (pg_terminate_backend): the pool opens new ones, the process lives on", async () => {
      const s = await scratch();
      try {
        const url = new URL(PG_URL);
        url.searchParams.set("application_name", s.schema.name);
        const store = await s.open(url.toString());
        await Promise.all([0, 1, 2].map((i) => store.apply([{ kind: "task", value: task(`warm${i}`) }])));
        const ended = await s.schema.query<{ ok: boolean }>("select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name = $1", [s.schema.name]);
        assert.ok(ended.length >= 1 && ended.every((r) => r.ok), `ended ${ended.length} connections`);
        await until(async () => (await s.schema.query("select 1 from pg_stat_activity where application_name = $1", [s.schema.name])).length === 0, "the ended connections to go");
        await store.apply([{ kind: "task", value: task("after") }]);
        assert.equal((await store.getTask("after"))?.state, "QUEUED");
        assert.equal(await count(s.schema, "tasks"), 4);
      } finally {
        await s.done();
      }
    });
  });

  describe("postgres store: two stores (two nodes) on one schema", () => {
    it("applying batches concurrently from both loses no write; seqs stay unique and ordered; shared rows never deadlock", async () => {
      const s = await scratch();
      try {
        const [a, b] = [await s.open(), await s.open()];
        const BATCHES = 20;
        // Each node's batch: 100 tasks, 40 of them the same 40 in every batch of both nodes, in
        // opposite orders (rows both lock), and one event and one ledger entry on seqs of its own
        // (a odd, b even).
        const batch = (node: "a" | "b", n: number): StoreWrite[] => {
          const shared = Array.from({ length: 40 }, (_, i) => task(`shared-${node === "a" ? i : 39 - i}`, { input: { node, n } }));
          const own = Array.from({ length: 60 }, (_, i) => task(`${node}${n}-${i}`));
          const seq = 2 * n + (node === "a" ? 1 : 2);
          return [
            ...[...shared, ...own].map((value) => ({ kind: "task" as const, value })),
            { kind: "event", value: { seq, type: "crew.message", at: new Date(Date.UTC(2026, 0, 1) + seq).toISOString(), crewId: node } },
            { kind: "ledger", value: entry(seq, `le_${node}${n}`, `W_${node}`, 1) },
          ];
        };
        const run = async (store: Store, node: "a" | "b") => {
          // Two batches in flight per node: more than one journal would send, to press harder.
          for (let n = 0; n < BATCHES; n += 2) await Promise.all([store.apply(batch(node, n)), store.apply(batch(node, n + 1))]);
        };
        await Promise.all([run(a, "a"), run(b, "b")]);
        assert.equal(await count(s.schema, "tasks"), 40 + BATCHES * (60 + 60));
        // A shared task holds one node's last batch whole: the last writer's, row by row the same.
        const last = new Set((await a.listTasks({ limit: 10_000 })).filter((t) => t.id.startsWith("shared-")).map((t) => JSON.stringify(t.input)));
        assert.equal(last.size, 1);
        assert.deepEqual((await a.listEvents({ limit: 1000 })).map((e) => e.seq), Array.from({ length: 2 * BATCHES }, (_, i) => i + 1));
        assert.deepEqual((await b.listLedger({ limit: 1000 })).map((e) => e.seq), Array.from({ length: 2 * BATCHES }, (_, i) => i + 1));
        const totals = await b.ledgerTotals();
        assert.deepEqual([totals.balances.get("W_a"), totals.balances.get("W_b"), totals.lastSeq], [BATCHES * 1_000_000, BATCHES * 1_000_000, 2 * BATCHES]);
      } finally {
        await s.done();
      }
    });

    it("refuses the second of two nodes that number a ledger entry alike at the same moment, keeping the first whole", async () => {
      const s = await scratch();
      try {
        const [a, b] = [await s.open(), await s.open()];
        const results = await Promise.allSettled([
          a.apply([{ kind: "task", value: task("from-a") }, { kind: "ledger", value: entry(1, "le_a", "W_a", 1) }]),
          b.apply([{ kind: "task", value: task("from-b") }, { kind: "ledger", value: entry(1, "le_b", "W_b", 1) }]),
        ]);
        assert.deepEqual(results.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
        const winner = results[0].status === "fulfilled" ? "a" : "b";
        const loser = winner === "a" ? "b" : "a";
        assert.match(String((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason), new RegExp(`ledger entry seq 1 is already taken by another entry \\(le_${winner}\\)`));
        assert.deepEqual((await a.listLedger({})).map((e) => e.id), [`le_${winner}`]);
        assert.deepEqual((await a.listTasks({})).map((t) => t.id), [`from-${winner}`]);
        assert.equal(await a.getTask(`from-${loser}`), undefined);
      } finally {
        await s.done();
      }
    });
  });

  describe("postgres store: a role given only its schema", () => {
    it("opens, migrates and writes in a schema made for it, without the right to create schemas in the database", async () => {
      const s = await scratch();
      const role = s.schema.name.replace("af_test_", "af_role_");
      try {
        await s.schema.query(`create role ${role} login`);
        await s.schema.query(`grant usage, create on schema ${s.schema.name} to ${role}`);
        assert.deepEqual(await s.schema.query("select has_database_privilege($1, current_database(), 'CREATE') as can", [role]), [{ can: false }]);
        const url = new URL(PG_URL);
        url.username = role;
        const store = await s.open(url.toString());
        await store.apply([{ kind: "task", value: task("t1") }]);
        assert.equal((await store.getTask("t1"))?.state, "QUEUED");
        await store.close();
      } finally {
        // The schema (and the tables the role owns in it) first, then the role, on a connection of its own.
        await s.done();
        const admin = new pg.Client({ connectionString: PG_URL });
        await admin.connect();
        await admin.query(`drop role if exists ${role}`).finally(() => admin.end());
      }
    });
  });

  describe("postgres store: migrations", () => {
    it("three nodes starting at once on an empty schema migrate it once, with byte-ordered text", async () => {
      const s = await scratch();
      try {
        const stores = await Promise.all([s.open(), s.open(), s.open()]);
        assert.equal(stores.length, 3);
        const done = await s.schema.query<{ name: string }>("select name from kysely_migration order by name");
        assert.deepEqual(done.map((r) => r.name), ["0001_init", "0002_task_idempotency", "0003_ledger", "0004_ledger_usage", "0005_budgets", "0006_list_pages", "0007_retention"]);
        const collations = await s.schema.query<{ collation: string | null; n: string }>(
          "select collation_name as collation, count(*) as n from information_schema.columns where table_schema = $1 and data_type = 'text' and table_name not like 'kysely%' group by collation_name",
          [s.schema.name],
        );
        assert.deepEqual(collations.map((r) => [r.collation, Number(r.n)]), [["C", 48]]);
        // Byte order: upper case before lower, '-' (0x2d) before '0' (0x30) before '_' (0x5f).
        await stores[0]?.apply(["a_1", "a-1", "A1", "a01"].map((id) => ({ kind: "task" as const, value: task(id) })));
        assert.deepEqual((await stores[1]?.listTasks({}))?.map((t) => t.id), ["A1", "a-1", "a01", "a_1"]);
      } finally {
        await s.done();
      }
    });
  });
});
