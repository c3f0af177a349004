// Pins that a whole factory runs on the PostgreSQL store (`createFactory({ store: await createPostgresStore(...) })`) that a factory reopened on the same schema sees what the first did, and that a second factory on a schema in use is refused (STORE_LOCKED) while the first carries on.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createFactory, createPostgresStore } from "../../src/index.ts";
import { PG_SKIP, PG_URL, PostgresRelay, testSchema } from "../adapters/postgres-test-schema.ts";
import { silentLogger, until } from "../helpers.ts";

const handlers = { double: (input: unknown) => ({ doubled: (input as { n: number }).n * 2 }) };

describe("a factory on PostgreSQL", { skip: PG_SKIP }, () => {
  it("runs a task to SUCCEEDED, and a factory reopened on the same schema sees the task, its agent and its events", async () => {
    const schema = await testSchema();
    try {
      const open = async () => createFactory({ store: await createPostgresStore({ url: PG_URL, schema: schema.name, poolSize: 4 }), handlers, logger: silentLogger, shutdownGraceMs: 200 });
      const first = await open();
      let taskId: string;
      let agentId: string;
      try {
        first.registerProfile({ name: "doubler", role: "Doubler", runtime: { kind: "function", handler: "double" }, pool: { spawnStrategy: "manual" } });
        agentId = (await first.spawnAgent({ profile: "doubler" })).id;
        const submitted = await first.submitTask({ role: "Doubler", input: { n: 21 }, idempotencyKey: "pg-1" });
        taskId = submitted.id;
        // Accepted means durable: the task is in PostgreSQL before submit returns.
        assert.equal((await schema.query<{ id: string }>("select id from tasks where id = $1", [taskId])).length, 1);
        const done = await first.waitForTask(taskId, 5_000);
        assert.deepEqual([done.state, done.result], ["SUCCEEDED", { doubled: 42 }]);
      } finally {
        await first.close();
      }

      const second = await open();
      try {
        const task = await second.getTask(taskId);
        assert.deepEqual([task.state, task.result, task.agentId], ["SUCCEEDED", { doubled: 42 }, agentId]);
        assert.equal((await second.submitTask({ role: "Doubler", input: { n: 1 }, idempotencyKey: "pg-1" })).id, taskId);
        assert.equal((await second.getAgent(agentId)).profile, "doubler");
        const states = (await second.listEvents({ taskId, types: ["task.state"] })).map((e) => (e as { to?: string }).to);
        assert.deepEqual(states.at(-1), "SUCCEEDED");
      } finally {
        await second.close();
      }
    } finally {
      await schema.drop();
    }
  });

  it("refuses a second factory on a schema in use (STORE_LOCKED), and the first carries on: its tasks succeed and are stored as such", async () => {
    const schema = await testSchema();
    try {
      const open = async () => createFactory({ store: await createPostgresStore({ url: PG_URL, schema: schema.name, poolSize: 4 }), handlers, logger: silentLogger, shutdownGraceMs: 200 });
      const first = await open();
      try {
        first.registerProfile({ name: "doubler", role: "Doubler", runtime: { kind: "function", handler: "double" }, pool: { spawnStrategy: "manual" } });
        const agent = await first.spawnAgent({ profile: "doubler" });
        assert.equal((await first.waitForTask((await first.submitTask({ role: "Doubler", input: { n: 1 } })).id, 5_000)).state, "SUCCEEDED");
        // The second would restore the first's live agents and run them again under the same ids.
        await assert.rejects(open(), (error: { code?: string; message?: string }) => {
          assert.equal(error.code, "STORE_LOCKED");
          assert.match(error.message ?? "", new RegExp(`^the PostgreSQL schema ${schema.name} at ${PG_URL.replace(/[.?/]/g, "\\$&")} is in use by another factory \\(PostgreSQL backend pid \\d+, application agent-factory, from 127\\.0\\.0\\.1\\): one schema has one writing factory until event and ledger numbers come from PostgreSQL`));
          return true;
        });
        const after = await first.submitTask({ role: "Doubler", input: { n: 21 } });
        const done = await first.waitForTask(after.id, 5_000);
        assert.deepEqual([done.state, done.result, done.agentId], ["SUCCEEDED", { doubled: 42 }, agent.id]);
        await until(async () => (await schema.query<{ state: string }>("select state from tasks where id = $1", [after.id]))[0]?.state === "SUCCEEDED", "the task stored as SUCCEEDED");
        assert.equal((await schema.query("select id from agents")).length, 1);
      } finally {
        await first.close();
      }
    } finally {
      await schema.drop();
    }
  });

  it("refuses a submit with STORE_UNAVAILABLE while PostgreSQL is away, keeps no trace of it, and takes tasks again by itself once it is back", async () => {
    const schema = await testSchema();
    const relay = await PostgresRelay.start();
    try {
      const factory = await createFactory({ store: await createPostgresStore({ url: relay.url(), schema: schema.name, poolSize: 4, connectTimeoutMs: 1_000 }), handlers, logger: silentLogger, shutdownGraceMs: 200 });
      try {
        factory.registerProfile({ name: "doubler", role: "Doubler", runtime: { kind: "function", handler: "double" }, pool: { spawnStrategy: "manual" } });
        await factory.spawnAgent({ profile: "doubler" });
        relay.cut();
        await assert.rejects(factory.submitTask({ role: "Doubler", input: { n: 1 }, idempotencyKey: "during" }), (error: { code?: string; message?: string }) => {
          assert.equal(error.code, "STORE_UNAVAILABLE");
          assert.match(error.message ?? "", /postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/test/);
          assert.doesNotMatch(error.message ?? "", /hunter2/);
          return true;
        });
        relay.resume();
        // The journal retries with backoff (at most 5 s between tries); a submit waits for it.
        const after = await factory.submitTask({ role: "Doubler", input: { n: 2 } });
        assert.deepEqual((await factory.waitForTask(after.id, 10_000)).result, { doubled: 4 });
        assert.deepEqual((await schema.query<{ key: string | null }>("select idempotency_key as key from tasks")).map((r) => r.key), [null]);
      } finally {
        await factory.close();
      }
    } finally {
      await relay.close();
      await schema.drop();
    }
  });
});
