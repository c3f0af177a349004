// Pins that a submit refused because the store is full leaves no trace (memory, journal, store, events) and says what the store said; the retry with the same idempotency key is accepted and runs.
import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createApp } from "../../src/api/app.ts";
import { SqlStore } from "../../src/adapters/store/sql/sql-store.ts";
import { createSqliteStore } from "../../src/adapters/store/sqlite/sqlite-store.ts";
import type { FactoryEvent } from "../../src/core/events.ts";
import { createFactory } from "../../src/factory/create-factory.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { silentLogger, tempDir, until } from "../helpers.ts";

/** SQLite's own cap on the file: at the current size, the next page it needs is refused with SQLITE_FULL. */
const FULL = "pragma max_page_count = 1"; // raised to the current page count by SQLite
const ROOMY = "pragma max_page_count = 1073741823";
const BIG = "x".repeat(200_000); // needs new pages

describe("a submit refused by a full store", () => {
  let dir = tempDir();
  let store: SqlStore;
  let factory: Factory;
  const open = async (): Promise<Factory> => {
    const opened = await createSqliteStore({ filename: join(dir.path, "factory.db") });
    assert.ok(opened instanceof SqlStore);
    store = opened;
    return createFactory({ dataDir: dir.path, store, logger: silentLogger, shutdownGraceMs: 200 });
  };
  beforeEach(async () => {
    dir = tempDir();
    factory = await open();
    factory.registerProfile({ name: "coder", role: "Coder" });
    await factory.spawnAgent({ profile: "coder" });
    await factory.listTasks(); // everything so far is in the store
  });
  afterEach(async () => {
    await factory.close({ force: true });
    dir.cleanup();
  });

  const taskEvents = (events: readonly FactoryEvent[]): FactoryEvent[] => events.filter((e) => e.type.startsWith("task."));

  it("is refused with the store's own words, leaves nothing behind, and the same key is accepted and runs once space is back", async () => {
    const heard: FactoryEvent[] = [];
    factory.onEvent((e) => heard.push(e), { types: ["task.*"] });
    await store.maintain(FULL);
    await assert.rejects(factory.submit({ role: "Coder", input: BIG, idempotencyKey: "order-1" }), (error: Error & { code?: string }) => {
      assert.equal(error.code, "STORE_UNAVAILABLE");
      assert.equal(error.message, "the store rejected a write: database or disk is full");
      return true;
    });
    // Nothing in memory, nothing announced.
    assert.deepEqual(await factory.listTasks(), []);
    assert.equal(factory.stats().queuedTasks, 0);
    assert.deepEqual(heard, []);

    await store.maintain(ROOMY);
    await until(() => factory.storeHealthy, "the journal to write its backlog", 10_000);
    // Nothing in the store either: not the task, not an event, the key is free.
    assert.deepEqual(await store.listTasks({}), []);
    assert.equal(await store.getTaskByIdempotencyKey("order-1"), undefined);
    assert.deepEqual(taskEvents(await store.listEvents({})), []);

    const retry = await factory.submit({ role: "Coder", input: BIG, idempotencyKey: "order-1" });
    assert.deepEqual([retry.created, retry.task.idempotencyKey, retry.task.error], [true, "order-1", undefined]);
    const done = await factory.waitForTask(retry.task.id, 5_000);
    assert.deepEqual([done.state, done.result === BIG, done.attempts], ["SUCCEEDED", true, 1]);
    const again = await factory.submit({ role: "Coder", input: BIG, idempotencyKey: "order-1" });
    assert.deepEqual([again.created, again.task.id, again.task.state], [false, retry.task.id, "SUCCEEDED"]);

    await factory.listEvents({ limit: 1 }); // commits the journal (write-behind) before it reads
    const stored = await store.listTasks({});
    assert.deepEqual(stored.map((t) => [t.id, t.state, t.idempotencyKey]), [[retry.task.id, "SUCCEEDED", "order-1"]]);
    assert.deepEqual(
      taskEvents(await factory.listEvents({ types: ["task.state"] })).map((e) => [e.taskId, e.to]),
      [
        [retry.task.id, "QUEUED"],
        [retry.task.id, "ASSIGNED"],
        [retry.task.id, "RUNNING"],
        [retry.task.id, "SUCCEEDED"],
      ],
    );
  });

  it("is never stored as CANCELLED across a restart, and the restarted factory accepts the key", async () => {
    await store.maintain(FULL);
    await assert.rejects(factory.submit({ role: "Coder", input: BIG, idempotencyKey: "order-2" }), { code: "STORE_UNAVAILABLE" });
    await store.maintain(ROOMY);
    await factory.close();
    factory = await open();
    assert.deepEqual(await factory.listTasks(), []);
    const retry = await factory.submit({ role: "Coder", input: "small", idempotencyKey: "order-2" });
    assert.equal(retry.created, true);
    assert.equal((await factory.waitForTask(retry.task.id, 5_000)).state, "SUCCEEDED");
    await factory.listEvents({ limit: 1 }); // commits the journal (write-behind) before it reads
    assert.deepEqual((await store.listTasks({})).map((t) => [t.id, t.state]), [[retry.task.id, "SUCCEEDED"]]);
  });

  it("answers 503 STORE_UNAVAILABLE over HTTP with what the store said; the retry is 202 and the task succeeds", async () => {
    const app = createApp(factory);
    const submit = async () => {
      const response = await app.request("/v1/tasks", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ role: "Coder", input: BIG, idempotencyKey: "order-3" }) });
      return { status: response.status, body: (await response.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    };
    await store.maintain(FULL);
    const refused = await submit();
    assert.deepEqual(refused, { status: 503, body: { error: { code: "STORE_UNAVAILABLE", message: "the store rejected a write: database or disk is full" } } });
    await store.maintain(ROOMY);
    await until(() => factory.storeHealthy, "the journal to write its backlog", 10_000);
    const accepted = await submit();
    assert.equal(accepted.status, 202);
    assert.equal(accepted.body.idempotencyKey, "order-3");
    assert.equal((await factory.waitForTask(accepted.body.id as string, 5_000)).state, "SUCCEEDED");
  });
});
