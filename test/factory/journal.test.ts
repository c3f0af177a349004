// Pins the journal's group commit: commit() means durable; a refusing store is retried, and drain() gives up at its deadline.
import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createSqliteStore } from "../../src/adapters/store/sqlite/sqlite-store.ts";
import type { Store } from "../../src/core/ports/store.ts";
import { Journal } from "../../src/state/journal.ts";
import { FactoryError } from "../../src/core/errors.ts";
import { task } from "../conformance/store.conformance.ts";
import { tempDir } from "../helpers.ts";

describe("journal", () => {
  let store: Store;
  let dir: ReturnType<typeof tempDir>;
  const errors: string[] = [];
  beforeEach(async () => {
    dir = tempDir();
    store = await createSqliteStore({ filename: join(dir.path, "j.db") });
    errors.length = 0;
  });
  afterEach(async () => {
    await store.close();
    dir.cleanup();
  });

  it("resolves commit() only once the writes are in the store", async () => {
    const journal = new Journal(store, (e) => errors.push(String(e)));
    for (let i = 0; i < 4_500; i++) journal.put({ kind: "task", value: task(`t${i}`) });
    await journal.commit();
    assert.equal((await store.listTasks({ limit: 10_000 })).length, 4_500);
    assert.deepEqual(errors, []);
  });

  it("after close, rejects commit() with SHUTTING_DOWN and ignores late writes, reporting them once", async () => {
    const journal = new Journal(store, (e) => errors.push(String(e)));
    journal.put({ kind: "task", value: task("before") });
    await journal.commit();
    journal.close();
    journal.put({ kind: "task", value: task("late1") });
    journal.put({ kind: "task", value: task("late2") });
    assert.equal(errors.length, 1);
    assert.match(errors[0] as string, /after the store was closed/);
    assert.equal(await store.getTask("late1"), undefined);
  });

  it("withdraw() takes back writes the store refused: they never reach it, commit() resolves without them and the journal is healthy again", async () => {
    const journal = new Journal(store, (e) => errors.push(String(e)));
    const open = store;
    store = await createSqliteStore({ filename: join(dir.path, "other.db") }); // for afterEach
    await open.close(); // the journal's store now refuses every apply
    journal.put({ kind: "task", value: task("refused") });
    journal.put({ kind: "task", value: task("kept") });
    await assert.rejects(journal.commit(), { code: "STORE_UNAVAILABLE" });
    assert.equal(journal.healthy, false);
    assert.equal(journal.withdraw((w) => w.kind === "task" && w.value.id === "refused"), 1);
    assert.equal(journal.withdraw((w) => w.kind === "task" && w.value.id === "refused"), 0);
    assert.equal(journal.withdraw(() => true), 1);
    // Nothing pending: commit() resolves at once, and no refusal stands.
    await journal.commit();
    assert.equal(journal.healthy, true);
    assert.equal(errors.length, 1);
  });

  it("keeps writes while the store refuses them and gives up on drain() at its deadline", async () => {
    const journal = new Journal(store, (e) => errors.push(String(e)));
    await store.close(); // every apply now fails
    journal.put({ kind: "task", value: task("a") });
    journal.put({ kind: "task", value: task("b") });
    await assert.rejects(journal.commit(), { code: "STORE_UNAVAILABLE" });
    assert.equal(journal.healthy, false);
    const started = Date.now();
    assert.equal(await journal.drain(200), 2);
    assert.ok(Date.now() - started < 2_000);
    store = await createSqliteStore({ filename: join(dir.path, "j.db") }); // for afterEach
  });

  it("a NODE_FENCED refusal is for good: commit() rejects with it, what was pending goes, later writes are dropped, onFenced is told once, drain() does not wait", async () => {
    const fenced = new FactoryError("NODE_FENCED", "node 'n' may no longer write: node 'm' took over its agents and tasks after its lease ran out; restart it to join again");
    let applied = 0;
    const refusing: Store = { ...store, apply: async () => { applied++; throw fenced; } };
    const told: string[] = [];
    const journal = new Journal(refusing, (e) => errors.push(String(e)), (e) => told.push(e.code));
    journal.put({ kind: "task", value: task("a") });
    journal.put({ kind: "task", value: task("b") });
    await assert.rejects(journal.commit(), fenced);
    assert.deepEqual(told, ["NODE_FENCED"]);
    assert.equal(journal.fenced, fenced);
    journal.put({ kind: "task", value: task("c") });
    await assert.rejects(journal.commit(), fenced);
    const t0 = Date.now();
    assert.equal(await journal.drain(5_000), 0);
    assert.ok(Date.now() - t0 < 500);
    assert.equal(applied, 1, "never tried again");
    assert.deepEqual(told, ["NODE_FENCED"]);
    assert.match(errors.join("\n"), /\(2 write\(s\) not stored\)/);
  });
});
