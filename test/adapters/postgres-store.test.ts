// Runs the Store conformance suite against the PostgreSQL adapter on the local server, each test in a schema of its own, and pins what PostgreSQL adds: one transaction per batch, errors that hide the password, recovery when PostgreSQL comes back, one writing store per schema (STORE_LOCKED for a second, released on close or when its holder dies), migrations from three nodes at once.
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
      await assert.rejects(createPostgresStore({ url: PG_URL, schemaa: "x" } as unknown as Parameters<typeof createPostgresStore>[0]), {
        code: "VALIDATION_FAILED",
        field: "schemaa",
        message: "PostgreSQL store: unknown option 'schemaa' (did you mean 'schema'?); known: url, schema, poolSize, connectTimeoutMs, queryTimeoutMs",
      });
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

  /** The backend holding the schema's lock (`agent-factory:<schema>`), if any. */
  const lockHolder = async (schema: TestSchema): Promise<number | undefined> =>
    (
      await schema.query<{ pid: number }>(
        "select pid from pg_locks where locktype = 'advisory' and granted and objsubid = 1 and ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)",
        [`agent-factory:${schema.name}`],
      )
    )[0]?.pid;

  /** What a refused second store says, the holder being `pid` on this machine. */
  const lockedMessage = (schema: string, shownUrl: string, pid: number): string =>
    `the PostgreSQL schema ${schema} at ${shownUrl} is in use by another factory (PostgreSQL backend pid ${pid}, application agent-factory, from 127.0.0.1): one schema has one writing factory until event and ledger numbers come from PostgreSQL. Stop that one, or give this one another schema`;

  describe("postgres store: one writing store (one node) per schema", () => {
    it("refuses a second store on a schema in use with STORE_LOCKED, naming the schema, the URL (password hidden) and the holder, leaving no connection open; it opens once the first closes", async () => {
      const s = await scratch();
      try {
        const a = await s.open();
        await a.apply([{ kind: "task", value: task("from-a") }]);
        const pid = await lockHolder(s.schema);
        assert.ok(pid !== undefined, "the first store holds the schema's lock");
        const url = new URL(PG_URL);
        url.password = "hunter2";
        url.searchParams.set("application_name", s.schema.name); // to find its connections
        const shown = `postgres://${url.username}:***@${url.host}${url.pathname}?application_name=${s.schema.name}`;
        await assert.rejects(createPostgresStore({ url: url.toString(), schema: s.schema.name, poolSize: 4 }), {
          name: "FactoryError",
          code: "STORE_LOCKED",
          message: lockedMessage(s.schema.name, shown, pid),
          details: { url: shown, schema: s.schema.name, pid },
        });
        await until(async () => (await s.schema.query("select 1 from pg_stat_activity where application_name = $1", [s.schema.name])).length === 0, "the refused store's connections to close");
        // The first one never noticed.
        await a.apply([{ kind: "task", value: task("from-a-again") }]);
        assert.equal(await lockHolder(s.schema), pid);
        await a.close();
        assert.equal(await lockHolder(s.schema), undefined);
        const b = await s.open();
        await b.apply([{ kind: "task", value: task("from-b") }]);
        assert.deepEqual((await b.listTasks({})).map((t) => t.id).sort(), ["from-a", "from-a-again", "from-b"]);
      } finally {
        await s.done();
      }
    });

    it("lets go when its holder dies (pg_terminate_backend on the lock's connection): a new store opens, and the old one's writes are refused until it can take the lock again", async () => {
      const s = await scratch();
      try {
        const a = await s.open();
        const pid = await lockHolder(s.schema);
        assert.ok(pid !== undefined);
        assert.deepEqual(await s.schema.query("select pg_terminate_backend($1) as ok", [pid]), [{ ok: true }]);
        await until(async () => (await lockHolder(s.schema)) === undefined, "the lock to go with its session");
        const b = await s.open();
        const bPid = await lockHolder(s.schema);
        assert.ok(bPid !== undefined && bPid !== pid);
        // `a` lost its lock: it writes nothing while `b` holds it, and says who does.
        await assert.rejects(a.apply([{ kind: "task", value: task("from-a") }]), { code: "STORE_LOCKED", message: lockedMessage(s.schema.name, PG_URL, bPid) });
        await assert.rejects(a.putBudget({ key: "k", credits: 1, periodMs: null, windowStart: "2026-01-01T00:00:00.000Z" }), { code: "STORE_LOCKED" });
        await b.apply([{ kind: "task", value: task("from-b") }]);
        assert.deepEqual((await a.listTasks({})).map((t) => t.id), ["from-b"]); // reads go on
        await b.close();
        // Free again: `a` takes it back on its next write.
        await a.apply([{ kind: "task", value: task("from-a") }]);
        assert.ok((await lockHolder(s.schema)) !== undefined);
        assert.deepEqual((await a.listTasks({})).map((t) => t.id).sort(), ["from-a", "from-b"]);
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
    it("three nodes starting at once on an empty schema: one opens and migrates it once, with byte-ordered text; the others get STORE_LOCKED", async () => {
      const s = await scratch();
      try {
        const results = await Promise.allSettled([s.open(), s.open(), s.open()]);
        const opened = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
        assert.equal(opened.length, 1);
        for (const r of results) if (r.status === "rejected") assert.equal((r.reason as { code?: string }).code, "STORE_LOCKED");
        const store = opened[0] as Store;
        const done = await s.schema.query<{ name: string }>("select name from kysely_migration order by name");
        assert.deepEqual(done.map((r) => r.name), ["0001_init", "0002_task_idempotency", "0003_ledger", "0004_ledger_usage", "0005_budgets", "0006_list_pages", "0007_retention"]);
        const collations = await s.schema.query<{ collation: string | null; n: string }>(
          "select collation_name as collation, count(*) as n from information_schema.columns where table_schema = $1 and data_type = 'text' and table_name not like 'kysely%' group by collation_name",
          [s.schema.name],
        );
        assert.deepEqual(collations.map((r) => [r.collation, Number(r.n)]), [["C", 48]]);
        // Byte order: upper case before lower, '-' (0x2d) before '0' (0x30) before '_' (0x5f).
        await store.apply(["a_1", "a-1", "A1", "a01"].map((id) => ({ kind: "task" as const, value: task(id) })));
        assert.deepEqual((await store.listTasks({})).map((t) => t.id), ["A1", "a-1", "a01", "a_1"]);
      } finally {
        await s.done();
      }
    });
  });
});
