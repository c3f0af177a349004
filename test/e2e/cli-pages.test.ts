// Pins the CLI's list commands over pages: the newest page first with a hint on stderr, --cursor for the next page, --all for every page, a bad cursor as the server's 400.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FactoryClient } from "../../src/client/index.ts";
import { tempDir } from "../helpers.ts";
import { cli, startServe, type Server } from "./serve.ts";

describe("CLI list commands page newest first", () => {
  let server: Server | undefined;
  const data = tempDir();
  const ids: string[] = [];

  before(async () => {
    server = await startServe(["--data", data.path], (s) => (server = s));
    const client = new FactoryClient(server.url);
    await client.registerProfile({ name: "pager", role: "Pager", pool: { spawnStrategy: "manual", warmSize: 0 } });
    for (let i = 0; i < 5; i++) {
      ids.push((await client.submitTask({ role: "Pager", input: i })).task.id);
      // Distinct milliseconds: the newest-first order is then the submit order reversed.
      await new Promise((r) => setTimeout(r, 2));
    }
  });
  after(async () => {
    server?.child.kill("SIGKILL");
    await server?.exited;
    data.cleanup();
  });

  it("task list shows the newest page and says on stderr how to get the next; --cursor gets it; --all gets every task once", async () => {
    const url = (server as Server).url;
    const first = await cli(url, "task", "list", "--limit", "2");
    assert.equal(first.code, 0, first.stderr);
    const rows = first.stdout.trim().split("\n").slice(1).map((line) => line.split(/\s+/)[0]);
    assert.deepEqual(rows, [ids[4], ids[3]]);
    const hint = /^more \(older\) ones: run it again with --cursor (\S+), or with --all$/m.exec(first.stderr);
    assert.ok(hint !== null, first.stderr);
    const second = await cli(url, "--json", "task", "list", "--limit", "2", "--cursor", hint[1] as string);
    assert.deepEqual((JSON.parse(second.stdout) as Array<{ id: string }>).map((t) => t.id), [ids[2], ids[1]]);
    const all = await cli(url, "--json", "task", "list", "--limit", "2", "--all");
    assert.deepEqual((JSON.parse(all.stdout) as Array<{ id: string }>).map((t) => t.id), [...ids].reverse());
    assert.equal(all.stderr, "");
  });

  it("a bad --cursor is the server's 400 naming cursor, exit 1", async () => {
    const bad = await cli((server as Server).url, "task", "list", "--cursor", "nonsense");
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim(), "error: cursor: not a cursor this server gave; pass a page's nextCursor unchanged (field: cursor) [VALIDATION_FAILED]");
  });

  it("agents and crew list take --limit and --all too: every one once, newest first", async () => {
    const url = (server as Server).url;
    const client = new FactoryClient(url);
    const spawned: string[] = [];
    const crews: string[] = [];
    for (let i = 0; i < 3; i++) {
      spawned.push((await client.spawnAgent({ config: { name: `w${i}`, role: "Walker" } })).id);
      await new Promise((r) => setTimeout(r, 2));
    }
    for (let i = 0; i < 2; i++) {
      crews.push((await client.assembleCrew({ name: `c${i}`, members: [{ config: { name: "m", role: "Member" } }] })).id);
      await new Promise((r) => setTimeout(r, 2));
    }
    const agents = await cli(url, "--json", "agents", "--role", "Walker", "--limit", "2", "--all");
    assert.deepEqual([agents.code, (JSON.parse(agents.stdout) as Array<{ id: string }>).map((a) => a.id)], [0, [...spawned].reverse()]);
    const listed = await cli(url, "--json", "crew", "list", "--limit", "1", "--all");
    assert.deepEqual([listed.code, (JSON.parse(listed.stdout) as Array<{ id: string }>).map((c) => c.id)], [0, [...crews].reverse()]);
  });
});
