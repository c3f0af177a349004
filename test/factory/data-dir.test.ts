// Pins that one data dir serves one factory at a time, and that a damaged store file refuses to start (naming the file) instead of starting empty.
import assert from "node:assert/strict";
import { chmodSync, existsSync, openSync, closeSync, readFileSync, statSync, writeFileSync, writeSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createFactory } from "../../src/factory/create-factory.ts";
import { silentLogger, tempDir } from "../helpers.ts";

const CREATE_FACTORY = resolve(import.meta.dirname, "../../src/factory/create-factory.ts");

describe("data dir", () => {
  let dir = tempDir();
  let db = "";
  beforeEach(() => {
    dir = tempDir();
    db = join(dir.path, "factory.db");
  });
  afterEach(() => dir.cleanup());
  const open = (options: { allowEmptyStore?: boolean } = {}) => createFactory({ dataDir: dir.path, logger: silentLogger, shutdownGraceMs: 50, ...options });

  /** A closed store with a profile and `tasks` finished tasks in it. */
  async function storeWithData(tasks: number): Promise<void> {
    const factory = await open();
    factory.registerProfile({ name: "coder", role: "Coder" });
    await factory.spawnAgent({ profile: "coder" });
    for (let i = 0; i < tasks; i++) await factory.waitForTask((await factory.submitTask({ role: "Coder", input: { i, pad: "x".repeat(200) } })).id, 2_000);
    await factory.close();
  }

  it("is private to the factory's user (0700): made so when new, tightened when it was looser; agents run as another host user", async () => {
    const fresh = join(dir.path, "new");
    const made = await createFactory({ dataDir: fresh, logger: silentLogger });
    await made.close();
    assert.equal(statSync(fresh).mode & 0o777, 0o700);
    chmodSync(fresh, 0o755);
    const reopened = await createFactory({ dataDir: fresh, logger: silentLogger });
    await reopened.close();
    assert.equal(statSync(fresh).mode & 0o777, 0o700);
  });

  describe("one factory per data dir", () => {
    it("refuses a second factory while the first is open, naming the holder's pid and the pid file; the first keeps working", async () => {
      const first = await open();
      try {
        assert.equal(readFileSync(`${db}.pid`, "utf8"), `${process.pid}\n`);
        await assert.rejects(open(), (error: Error & { code?: string; details?: Record<string, unknown> }) => {
          assert.equal(error.code, "STORE_LOCKED");
          assert.equal(
            error.message,
            `the store ${db} is in use by another factory (pid ${process.pid}, per ${db}.pid): one data dir serves one factory at a time. Stop that one, or give this one another data dir`,
          );
          assert.deepEqual(error.details, { file: db, pid: process.pid });
          return true;
        });
        // The refused opener left the holder's lock and pid file alone: another process is refused too.
        assert.equal(readFileSync(`${db}.pid`, "utf8"), `${process.pid}\n`);
        const other = `import { createFactory } from ${JSON.stringify(CREATE_FACTORY)};
          await createFactory({ dataDir: ${JSON.stringify(dir.path)} }).then(() => console.log("opened"), (e) => console.log(e.code));`;
        assert.equal(execFileSync(process.execPath, ["--disable-warning=ExperimentalWarning", "--input-type=module", "-e", other], { encoding: "utf8" }).trim(), "STORE_LOCKED");
        first.registerProfile({ name: "coder", role: "Coder" });
        await first.spawnAgent({ profile: "coder" });
        const done = await first.waitForTask((await first.submitTask({ role: "Coder", input: "still mine" })).id, 2_000);
        assert.equal(done.state, "SUCCEEDED");
        await assert.rejects(open(), { code: "STORE_LOCKED" });
      } finally {
        await first.close();
      }
      assert.equal(existsSync(`${db}.pid`), false, "close removes the pid file");
      // Released on close: the next factory opens the same store and sees the work.
      const next = await open();
      try {
        assert.deepEqual(
          (await next.listTasks()).map((t) => [t.input, t.state]),
          [["still mine", "SUCCEEDED"]],
        );
      } finally {
        await next.close();
      }
    });
  });

  it("says so when the lock is held by a process no pid file names (another program), even with a stale pid file", async () => {
    const { DatabaseSync } = await import("node:sqlite");
    await (await open()).close();
    // Another program holds the file the way a factory does.
    const other = new DatabaseSync(db);
    other.exec("pragma locking_mode = exclusive; begin immediate; commit;");
    try {
      writeFileSync(`${db}.pid`, "999999999\n"); // a crash left it; no such process
      await assert.rejects(open(), (error: Error & { code?: string; details?: Record<string, unknown> }) => {
        assert.equal(error.code, "STORE_LOCKED");
        assert.equal(
          error.message,
          `the store ${db} is locked by another process, and ${db}.pid names no running factory (pid 999999999 has exited): a factory still starting, or another program (such as sqlite3) has it open. Stop it, or give this factory another data dir`,
        );
        assert.deepEqual(error.details, { file: db, pid: null });
        return true;
      });
    } finally {
      other.close();
    }
    // Released: the stale pid file does not matter.
    const next = await open();
    assert.equal(readFileSync(`${db}.pid`, "utf8"), `${process.pid}\n`);
    await next.close();
  });

  describe("damaged store", () => {
    it("refuses a 0-byte factory.db, naming the file and the way out", async () => {
      writeFileSync(db, "");
      await assert.rejects(open(), (error: Error & { code?: string }) => {
        assert.equal(error.code, "STORE_DAMAGED");
        assert.equal(
          error.message,
          `the store ${db} is an empty file (0 bytes): the database that was there is gone. Restore it from a backup, or start a new empty store by deleting the file or passing --allow-empty-store (allowEmptyStore: true)`,
        );
        return true;
      });
      assert.equal(statSync(db).size, 0, "the refused file is left as it was");
      assert.equal(existsSync(`${db}.pid`), false);
    });

    it("starts a new empty store on a 0-byte factory.db when allowEmptyStore is set", async () => {
      writeFileSync(db, "");
      const factory = await open({ allowEmptyStore: true });
      try {
        factory.registerProfile({ name: "coder", role: "Coder" });
        assert.deepEqual(await factory.listTasks(), []);
      } finally {
        await factory.close();
      }
      // Now a real database: it opens without the option.
      const again = await open();
      try {
        assert.deepEqual(again.listProfiles().map((p) => p.name), ["coder"]);
      } finally {
        await again.close();
      }
    });

    it("refuses a database whose header is garbage", async () => {
      await storeWithData(3);
      const fd = openSync(db, "r+");
      writeSync(fd, Buffer.from("this is not sqlite"), 0, 16, 0);
      closeSync(fd);
      await assert.rejects(open(), (error: Error & { code?: string; details?: Record<string, unknown> }) => {
        assert.equal(error.code, "STORE_DAMAGED");
        assert.equal(
          error.message,
          `the store ${db} is not a SQLite database (its header is wrong: file is not a database). The factory will not start on a damaged store; see docs/storage.md ("A damaged store") to recover`,
        );
        assert.deepEqual(error.details, { file: db, problem: "header" });
        return true;
      });
    });

    it("refuses a database with garbage written in the middle, through its integrity check", async () => {
      await storeWithData(60);
      const size = statSync(db).size;
      const pageSize = 4096;
      assert.ok(size >= 8 * pageSize, `the store has pages to damage (${size} bytes)`);
      // One whole page in the middle of the file: b-tree pages of the data tables.
      const fd = openSync(db, "r+");
      const middle = Math.floor(size / pageSize / 2) * pageSize;
      writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, middle);
      closeSync(fd);
      await assert.rejects(open(), (error: Error & { code?: string; details?: Record<string, unknown> }) => {
        assert.equal(error.code, "STORE_DAMAGED");
        assert.match(error.message, new RegExp(`^the store ${db.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} (fails SQLite's integrity check: |is corrupt: ).+\\. The factory will not start on a damaged store; see docs/storage\\.md \\("A damaged store"\\) to recover$`));
        assert.deepEqual(error.details, { file: db, problem: "corrupt" });
        return true;
      });
    });
  });
});
