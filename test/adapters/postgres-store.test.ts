// Runs the Store conformance suite against the PostgreSQL adapter on the local server, each test in a schema of its own, and pins what PostgreSQL adds: one transaction per batch, errors that hide the password, recovery when PostgreSQL comes back, several nodes writing one schema (owned rows, seqs numbered by the store, adoption of a dead node's rows, fencing), migrations from three nodes at once.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import { createPostgresStore } from "../../src/adapters/store/postgres/postgres-store.ts";
import type { LedgerEntry } from "../../src/core/ledger.ts";
import type { FactoryEvent } from "../../src/core/events.ts";
import type { Store, StoreNode, StoreWrite } from "../../src/core/ports/store.ts";
import { agent, crew as crewOf, storeConformance, task } from "../conformance/store.conformance.ts";
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
        // A pooled client may learn of its end only when next used: that write fails (STORE_UNAVAILABLE,
        // which the journal retries) and the pool drops it; at most one failure per ended client.
        const failures: string[] = [];
        await until(async () => {
          try {
            await store.apply([{ kind: "task", value: task("after") }]);
            return true;
          } catch (error) {
            failures.push((error as { code?: string }).code ?? String(error));
            return false;
          }
        }, "a write once the pool has new connections");
        assert.ok(failures.length <= ended.length, `failed ${failures.length} times for ${ended.length} ended connections`);
        assert.ok(failures.every((code) => code === "STORE_UNAVAILABLE"), failures.join(", "));
        assert.equal((await store.getTask("after"))?.state, "QUEUED");
        assert.equal(await count(s.schema, "tasks"), 4);
      } finally {
        await s.done();
      }
    });
  });

  const T0 = "2026-01-01T00:00:00.000Z";
  const T1 = "2026-01-01T00:01:00.000Z";
  const event = (n: number): FactoryEvent => ({ seq: n, type: "crew.message", at: T0, crewId: "c1", data: { n } });
  const node = (id: string, startedAt = T0): StoreNode => ({ id, startedAt });
  const owners = async (schema: TestSchema, table: string): Promise<Array<[string, string | null]>> =>
    (await schema.query<{ id: string; node_id: string | null }>(`select id, node_id from ${table} order by id`)).map((r) => [r.id, r.node_id]);

  describe("postgres store: several nodes write one schema", () => {
    it("two attached nodes write at once: each owns the rows it writes, and the store numbers every event and ledger entry once, gap-free, in commit order, into the written objects", async () => {
      const s = await scratch();
      try {
        const a = await s.open();
        const b = await s.open();
        assert.deepEqual(await a.attachNode?.(node("n1")), { crews: [], agents: [], tasks: [] });
        await b.attachNode?.(node("n2"));
        // Both number locally from 1, as two single-writer nodes would: the store renumbers.
        const written: FactoryEvent[] = [];
        const entries: LedgerEntry[] = [];
        await Promise.all(
          [a, b].flatMap((store, k) =>
            [0, 1, 2, 3, 4].map((i) => {
              const events = [event(i * 2 + 1), event(i * 2 + 2)];
              const le = entry(i + 1, `le_${k}_${i}`, `W${k}`, 1);
              written.push(...events);
              entries.push(le);
              return store.apply([{ kind: "task", value: task(`t${k}_${i}`) }, ...events.map((e) => ({ kind: "event" as const, value: e })), { kind: "ledger", value: le }]);
            }),
          ),
        );
        const stored = await a.listEvents({ limit: 100 });
        assert.deepEqual(stored.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => i + 1));
        assert.deepEqual(written.map((e) => e.seq).sort((x, y) => x - y), stored.map((e) => e.seq));
        const ledger = await b.listLedger({});
        assert.deepEqual(ledger.map((e) => e.seq), Array.from({ length: 10 }, (_, i) => i + 1));
        assert.deepEqual(new Set(ledger.map((e) => e.id)), new Set(entries.map((e) => e.id)));
        for (const e of entries) assert.equal(ledger.find((l) => l.id === e.id)?.seq, e.seq, `entry ${e.id} carries its stored seq`);
        // Within one batch, events keep their order.
        for (const e of stored) if (e.data?.n !== undefined && Number(e.data.n) % 2 === 0) assert.equal(stored.find((x) => x.seq === e.seq - 1)?.data?.n, Number(e.data.n) - 1);
        const taskOwners = await owners(s.schema, "tasks");
        assert.deepEqual(taskOwners.filter(([, n]) => n === "n1").map(([id]) => id), ["t0_0", "t0_1", "t0_2", "t0_3", "t0_4"]);
        assert.deepEqual(taskOwners.filter(([, n]) => n === "n2").map(([id]) => id), ["t1_0", "t1_1", "t1_2", "t1_3", "t1_4"]);
      } finally {
        await s.done();
      }
    });

    it("a ledger batch retried after its commit (the answer lost) stores each entry once", async () => {
      const s = await scratch();
      try {
        const a = await s.open();
        await a.attachNode?.(node("n1"));
        const batch: StoreWrite[] = [{ kind: "ledger", value: entry(1, "le_once", "W1", 2) }];
        await a.apply(batch);
        await a.apply(batch);
        assert.deepEqual((await a.listLedger({})).map((e) => [e.id, e.seq]), [["le_once", 1]]);
      } finally {
        await s.done();
      }
    });

    it("attach gives a node its own unfinished rows back, and the rows written before the store was shared to the first node", async () => {
      const s = await scratch();
      try {
        const old = await s.open();
        await old.apply([
          { kind: "task", value: task("legacy") },
          { kind: "agent", value: agent("a-legacy", { nodeId: "" }) },
        ]);
        const a = await s.open();
        const owned = await a.attachNode?.(node("n1"));
        assert.deepEqual(owned?.tasks.map((t) => t.id), ["legacy"]);
        assert.deepEqual(owned?.agents.map((x) => x.id), ["a-legacy"]);
        await a.apply([
          { kind: "task", value: task("mine") },
          { kind: "task", value: task("done", { state: "SUCCEEDED", finishedAt: T0 }) },
          { kind: "agent", value: agent("a-mine", { nodeId: "n1" }) },
          { kind: "agent", value: agent("a-asleep", { nodeId: "n1", state: "HIBERNATING" }) },
        ]);
        const b = await s.open();
        assert.deepEqual(await b.attachNode?.(node("n2")), { crews: [], agents: [], tasks: [] });
        const again = await b.attachNode?.(node("n1", T1)); // n1's next life, on another process
        assert.deepEqual(again?.tasks.map((t) => t.id), ["legacy", "mine"]);
        assert.deepEqual(again?.agents.map((x) => x.id).sort(), ["a-legacy", "a-mine"]);
        // The earlier life of n1 may not write any more.
        await assert.rejects(a.apply([{ kind: "task", value: task("late") }]), { code: "NODE_FENCED", message: /node 'n1' may no longer write: another process started under its id/ });
      } finally {
        await s.done();
      }
    });

    it("adoptNode moves a dead node's unfinished rows to the first adopter only, fences the dead node out (NODE_FENCED naming the adopter), and leaves a later life of that id alone", async () => {
      const s = await scratch();
      try {
        const [dead, x, y] = [await s.open(), await s.open(), await s.open()];
        await dead.attachNode?.(node("d"));
        await x.attachNode?.(node("x"));
        await y.attachNode?.(node("y"));
        await dead.apply([
          { kind: "crew", value: { ...crewOf("c-d"), agentIds: ["a-d1"] } },
          { kind: "agent", value: agent("a-d1", { nodeId: "d", crewId: "c-d" }) },
          { kind: "agent", value: agent("a-d2", { nodeId: "d", state: "HIBERNATING" }) },
          { kind: "agent", value: agent("a-gone", { nodeId: "d", state: "TERMINATED" }) },
          { kind: "task", value: task("q", { state: "QUEUED" }) },
          { kind: "task", value: task("r", { state: "RUNNING", agentId: "a-d1" }) },
          { kind: "task", value: task("ok", { state: "SUCCEEDED", finishedAt: T0 }) },
        ]);
        await x.apply([{ kind: "task", value: task("x-own") }]);
        const [fromX, fromY] = await Promise.all([x.adoptNode?.(node("d")), y.adoptNode?.(node("d"))]);
        const rows = fromX ?? fromY;
        assert.ok((fromX === undefined) !== (fromY === undefined), "exactly one adopter");
        const adopter = fromX !== undefined ? "x" : "y";
        assert.deepEqual(rows?.agents.map((a) => a.id), ["a-d1"]); // the sleeper moves but stays asleep in the store
        assert.deepEqual(rows?.crews.map((c) => c.id), ["c-d"]);
        assert.deepEqual(rows?.tasks.map((t) => t.id), ["q", "r"]);
        assert.deepEqual(await owners(s.schema, "agents"), [["a-d1", adopter], ["a-d2", adopter], ["a-gone", adopter]]); // every row moves; the unfinished come back
        assert.deepEqual(await owners(s.schema, "tasks"), [["ok", adopter], ["q", adopter], ["r", adopter], ["x-own", "x"]]);
        await assert.rejects(dead.apply([{ kind: "task", value: task("late") }]), {
          code: "NODE_FENCED",
          message: `node 'd' may no longer write: node '${adopter}' took over its agents and tasks after its lease ran out; restart it to join again`,
        });
        const [winner, loser] = adopter === "x" ? [x, y] : [y, x];
        assert.equal(await loser.adoptNode?.(node("d")), undefined, "taken once");
        // The adopter asking again (its first answer lost) gets what it owns now, the adopted rows among them.
        assert.deepEqual((await winner.adoptNode?.(node("d")))?.tasks.map((t) => t.id).sort(), adopter === "x" ? ["q", "r", "x-own"] : ["q", "r"]);
        // d restarts (a new life): it owns nothing that was taken, writes again, and is not adoptable under its old life.
        const d2 = await s.open();
        assert.deepEqual(await d2.attachNode?.(node("d", T1)), { crews: [], agents: [], tasks: [] });
        await d2.apply([{ kind: "task", value: task("d-new") }]);
        assert.equal(await y.adoptNode?.(node("d", T0)), undefined);
        await assert.rejects(Promise.resolve(x.adoptNode?.(node("x"))), { code: "VALIDATION_FAILED" });
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
    it("three nodes starting at once on an empty schema: all open, the schema is migrated once, with byte-ordered text", async () => {
      const s = await scratch();
      try {
        const opened = await Promise.all([s.open(), s.open(), s.open()]);
        const store = opened[0];
        const done = await s.schema.query<{ name: string }>("select name from kysely_migration order by name");
        assert.deepEqual(done.map((r) => r.name), ["0001_init", "0002_task_idempotency", "0003_ledger", "0004_ledger_usage", "0005_budgets", "0006_list_pages", "0007_retention", "0008_cluster", "0009_operator_keys", "0010_signing_keys", "0011_task_trace"]);
        const collations = await s.schema.query<{ collation: string | null; n: string }>(
          "select collation_name as collation, count(*) as n from information_schema.columns where table_schema = $1 and data_type = 'text' and table_name not like 'kysely%' group by collation_name",
          [s.schema.name],
        );
        assert.deepEqual(collations.map((r) => [r.collation, Number(r.n)]), [["C", 67]]);
        // Byte order: upper case before lower, '-' (0x2d) before '0' (0x30) before '_' (0x5f).
        await store.apply(["a_1", "a-1", "A1", "a01"].map((id) => ({ kind: "task" as const, value: task(id) })));
        assert.deepEqual((await store.listTasks({})).map((t) => t.id), ["A1", "a-1", "a01", "a_1"]);
      } finally {
        await s.done();
      }
    });
  });
});
