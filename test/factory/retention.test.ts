// Pins retention in a running factory: with tiny limits old finished tasks, events and crew messages go in the background while recent and unfinished tasks and every ledger entry stay; a pruned task's idempotency key is free again.
import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createSqliteStore } from "../../src/adapters/store/sqlite/sqlite-store.ts";
import type { Store } from "../../src/core/ports/store.ts";
import { createFactory, type FactoryOptions } from "../../src/factory/create-factory.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { retentionSettings, DEFAULT_RETENTION } from "../../src/state/retention.ts";
import { silentLogger, tempDir, until } from "../helpers.ts";

describe("retention", () => {
  let dir = tempDir();
  let store: Store;
  let factory: Factory;
  const open = async (options: FactoryOptions): Promise<Factory> => {
    store = await createSqliteStore({ filename: join(dir.path, "factory.db") });
    // One finished task in memory: reads of a pruned one go to the store.
    return createFactory({ dataDir: dir.path, store, logger: silentLogger, shutdownGraceMs: 100, recentTaskLimit: 1, ...options });
  };
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await factory.close({ force: true });
    dir.cleanup();
  });

  /** Queued for good: its profile spawns no agent by itself. */
  const parked = async () => {
    factory.registerProfile({ name: "parked", role: "Parked", pool: { spawnStrategy: "manual", warmSize: 0 } });
    return factory.submitTask({ profile: "parked", input: "waits" });
  };
  const finish = async (n: number, prefix: string) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await factory.waitForTask((await factory.submitTask({ role: "Coder", input: i, idempotencyKey: `${prefix}${i}` })).id, 3_000)).id);
    return ids;
  };

  it("keeps only the newest finished tasks, events and messages by count; unfinished tasks and the ledger stay", async () => {
    factory = await open({
      retention: { tasks: { maxAgeMs: null, maxCount: 2 }, events: { maxAgeMs: null, maxCount: 6 }, messages: { maxAgeMs: null, maxCount: 1 }, intervalMs: 20, batchSize: 2 },
    });
    factory.registerProfile({ name: "coder", role: "Coder" });
    const { crew, agents } = await factory.assembleCrew({ name: "team", budget: 10, members: [{ profile: "coder" }] });
    const waiting = await parked();
    for (const n of [1, 2, 3]) await factory.publish(crew.id, "news", { n });
    await factory.grantCredits((agents[0] as { walletAddress: string }).walletAddress, 1, "first");
    await factory.grantCredits((agents[0] as { walletAddress: string }).walletAddress, 2, "second");
    const ledger = await factory.listLedger({});
    const done = await finish(5, "k");

    const finished = async () => (await store.listTasks({ states: ["SUCCEEDED"] })).map((t) => t.id).sort();
    const expected = done.slice(3).sort();
    await until(async () => (await finished()).join() === expected.join(), "the three oldest finished tasks to go");
    await until(async () => (await store.listEvents({ types: ["crew.message"] })).length === 1, "all but the newest message to go");
    await until(async () => (await store.listEvents({})).length === 7, "events beyond the newest 6 (and 1 message) to go");

    const messages = await store.listEvents({ types: ["crew.message"] });
    assert.deepEqual(messages.map((e) => (e.data as { payload: { n: number } }).payload.n), [3]);
    assert.deepEqual((await store.listTasks({ states: ["QUEUED"] })).map((t) => t.id), [waiting.id]);
    assert.deepEqual(await factory.listLedger({}), ledger);
    assert.equal(ledger.length >= 3, true, "the crew's budget grant and the two grants");

    // A pruned task is gone, and its idempotency key is free again.
    await assert.rejects(factory.getTask(done[0] as string), { code: "TASK_NOT_FOUND" });
    const again = await factory.submit({ role: "Coder", input: "again", idempotencyKey: "k0" });
    assert.equal(again.created, true);
    assert.notEqual(again.task.id, done[0]);
    // A kept one still answers for its key.
    const kept = await factory.submit({ role: "Coder", input: "again", idempotencyKey: "k4" });
    assert.deepEqual([kept.created, kept.task.id], [false, done[4]]);
  });

  it("deletes finished tasks older than maxAgeMs, counted from when they finished; the queued one stays", async () => {
    factory = await open({ retention: { tasks: { maxAgeMs: 150, maxCount: null }, events: { maxAgeMs: null, maxCount: null }, messages: { maxAgeMs: null, maxCount: null }, intervalMs: 20 } });
    factory.registerProfile({ name: "coder", role: "Coder" });
    await factory.spawnAgent({ profile: "coder" });
    const waiting = await parked();
    await finish(3, "a");
    await until(async () => (await store.listTasks({})).length === 1, "the finished tasks to go", 5_000);
    assert.deepEqual((await store.listTasks({})).map((t) => [t.id, t.state]), [[waiting.id, "QUEUED"]]);
    const events = await store.listEvents({});
    assert.equal(events.filter((e) => e.type === "task.state").length, 1 + 3 * 4, "events are kept (no limit)");
  });

  it("validates its options, naming the field, and documents its defaults", async () => {
    await assert.rejects(createFactory({ dataDir: ":memory:", logger: silentLogger, retention: { tasks: { maxCount: -1 } } }), (error: Error & { code?: string; field?: string }) => {
      assert.equal(error.code, "VALIDATION_FAILED");
      assert.equal(error.field, "tasks.maxCount");
      assert.match(error.message, /^invalid retention: tasks\.maxCount: /);
      return true;
    });
    await assert.rejects(createFactory({ dataDir: ":memory:", logger: silentLogger, retention: { task: {} } as never }), { code: "VALIDATION_FAILED", message: "invalid retention: task: unknown field 'task'" });
    assert.deepEqual(retentionSettings(), {
      rules: {
        tasks: { maxAgeMs: 7 * 86_400_000, maxCount: 100_000 },
        events: { maxAgeMs: 7 * 86_400_000, maxCount: 1_000_000 },
        messages: { maxAgeMs: 7 * 86_400_000, maxCount: 100_000 },
      },
      intervalMs: DEFAULT_RETENTION.intervalMs,
      batchSize: 200,
    });
    factory = await open({});
  });
});
