// Pins that a whole factory runs on the PostgreSQL store (`createFactory({ store: await createPostgresStore(...) })`) that a factory reopened on the same schema sees what the first did, and that a second factory on a schema in use is another node that leaves the first's agents alone.
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

  it("a second factory on a schema in use is another node: it brings back none of the first's agents, both run their own tasks, and each reads the other's tasks from the store", async () => {
    const schema = await testSchema();
    try {
      const open = async (nodeId: string) =>
        createFactory({ store: await createPostgresStore({ url: PG_URL, schema: schema.name, poolSize: 4 }), handlers, logger: silentLogger, shutdownGraceMs: 200, nodeId });
      const first = await open("n-first");
      try {
        first.registerProfile({ name: "doubler", role: "Doubler", runtime: { kind: "function", handler: "double" }, pool: { spawnStrategy: "manual" } });
        const agent = await first.spawnAgent({ profile: "doubler" });
        assert.equal((await first.waitForTask((await first.submitTask({ role: "Doubler", input: { n: 1 } })).id, 5_000)).state, "SUCCEEDED");
        const second = await open("n-second");
        try {
          assert.deepEqual((await second.listAgents()).map((a) => a.id), [], "the first node's agent is not the second's to run");
          const own = await second.spawnAgent({ profile: "doubler" });
          assert.equal(own.nodeId, "n-second");
          const fromSecond = await second.submitTask({ role: "Doubler", input: { n: 5 } });
          assert.deepEqual([(await second.waitForTask(fromSecond.id, 5_000)).agentId], [own.id]);
          const after = await first.submitTask({ role: "Doubler", input: { n: 21 } });
          const done = await first.waitForTask(after.id, 5_000);
          assert.deepEqual([done.state, done.result, done.agentId], ["SUCCEEDED", { doubled: 42 }, agent.id]);
          await until(async () => (await second.getTask(after.id)).state === "SUCCEEDED", "the second node reads the first's task as SUCCEEDED");
          const owners = await schema.query<{ id: string; node_id: string }>("select id, node_id from agents order by node_id");
          assert.deepEqual(owners.map((r) => [r.id, r.node_id]), [[agent.id, "n-first"], [own.id, "n-second"]]);
          // One event order for both: the store numbered them, gap-free.
          const seqs = (await schema.query<{ seq: number }>("select seq from events order by seq")).map((r) => Number(r.seq));
          assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1));
        } finally {
          await second.close();
        }
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
