// Pins newest-first cursor pagination of tasks, agents and crews: the first page holds the newest, following nextCursor reaches every record exactly once, a bad cursor is a 400 naming it.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApp } from "../../src/api/app.ts";
import { newestFirst } from "../../src/core/list-position.ts";
import type { Task } from "../../src/core/task.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { testFactory } from "../helpers.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const post = (body: unknown): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("pagination of tasks, agents and crews", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let app: OpenAPIHono;
  const call = async (path: string, init?: RequestInit): Promise<{ status: number; body: Json }> => {
    const response = await app.request(path, init);
    return { status: response.status, body: (await response.json()) as Json };
  };

  /** Every page of `path` from the first (or from `start`), following nextCursor; the ids in the order served. */
  async function allPages(path: string, start: string | null = null): Promise<{ pages: string[][]; ids: string[] }> {
    const pages: string[][] = [];
    let cursor: string | null = start;
    do {
      const sep = path.includes("?") ? "&" : "?";
      const page = await call(cursor === null ? path : `${path}${sep}cursor=${encodeURIComponent(cursor)}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      pages.push(page.body.items.map((x: Json) => x.id));
      cursor = page.body.nextCursor;
    } while (cursor !== null);
    return { pages, ids: pages.flat() };
  }

  beforeEach(async () => {
    ({ factory, close } = await testFactory());
    app = createApp(factory);
  });
  afterEach(async () => close());

  it("1,200 tasks: the first page holds the newest; following nextCursor reaches every task exactly once, newest first", async () => {
    // Manual spawning: no agent ever takes them, so all 1,200 stay queued.
    factory.registerProfile({ name: "pager", role: "Pager", pool: { spawnStrategy: "manual", warmSize: 0, queueDepth: 5_000 } });
    const submitted: Task[] = [];
    for (let i = 0; i < 1_200; i++) submitted.push((await factory.submit({ role: "Pager", input: i })).task);
    const expected = [...submitted].sort((a, b) => newestFirst({ at: a.createdAt, id: a.id }, { at: b.createdAt, id: b.id })).map((t) => t.id);

    const first = await call("/v1/tasks");
    assert.equal(first.body.items.length, 100);
    assert.deepEqual(first.body.items.map((t: Json) => t.id), expected.slice(0, 100));
    assert.ok(first.body.items.some((t: Json) => t.id === submitted.at(-1)?.id), "the last task submitted is on the first page");
    assert.equal(typeof first.body.nextCursor, "string");

    const byDefault = await allPages("/v1/tasks");
    assert.equal(byDefault.pages.length, 12);
    assert.deepEqual(byDefault.ids, expected);
    assert.equal(new Set(byDefault.ids).size, 1_200);

    const big = await allPages("/v1/tasks?limit=500&state=QUEUED");
    assert.deepEqual(big.pages.map((p) => p.length), [500, 500, 200]);
    assert.deepEqual(big.ids, expected);
    // A last page that is exactly full says so: no empty page after it.
    assert.deepEqual((await allPages("/v1/tasks?limit=600")).pages.map((p) => p.length), [600, 600]);
  });

  it("tasks submitted while a client pages do not shift the pages it has yet to read", async () => {
    factory.registerProfile({ name: "pager", role: "Pager", pool: { spawnStrategy: "manual", warmSize: 0 } });
    const older = [];
    for (let i = 0; i < 30; i++) older.push((await factory.submit({ role: "Pager" })).task.id);
    const first = await call("/v1/tasks?limit=10");
    // Past the cursor's millisecond: a position orders records by time, then id.
    await new Promise((r) => setTimeout(r, 2));
    for (let i = 0; i < 5; i++) await factory.submit({ role: "Pager" });
    const rest = await allPages("/v1/tasks?limit=10", first.body.nextCursor);
    const seen = [...first.body.items.map((t: Json) => t.id), ...rest.ids];
    assert.deepEqual([...seen].sort(), [...older].sort());
  });

  it("filters still apply: crewId and state page within what they select", async () => {
    factory.registerProfile({ name: "pager", role: "Pager", pool: { spawnStrategy: "manual", warmSize: 0 } });
    // A paused crew takes no tasks: its member's role is servable, so they are accepted and stay QUEUED.
    const crew = (await call("/v1/crews/assemble", post({ manifest: { name: "c", members: [{ config: { name: "m", role: "Queued" } }] } }))).body;
    assert.equal((await call(`/v1/crews/${crew.id}/broadcast`, post({ signal: "PAUSE" }))).status, 202);
    const inCrew = [];
    for (let i = 0; i < 7; i++) inCrew.push((await factory.submit({ role: "Queued", crewId: crew.id })).task.id);
    for (let i = 0; i < 4; i++) await factory.submit({ role: "Pager" });
    const paged = await allPages(`/v1/tasks?crewId=${crew.id}&limit=3`);
    assert.deepEqual(paged.pages.map((p) => p.length), [3, 3, 1]);
    assert.deepEqual([...paged.ids].sort(), [...inCrew].sort());
    assert.equal((await allPages("/v1/tasks?state=SUCCEEDED")).ids.length, 0);
  });

  it("agents in memory and TERMINATED ones in the store page newest first by spawn time", async () => {
    const spawned = [];
    for (let i = 0; i < 7; i++) spawned.push((await call("/v1/agents", post({ config: { name: "w", role: "Worker" } }))).body);
    const expected = [...spawned].sort((a, b) => newestFirst({ at: a.spawnedAt, id: a.id }, { at: b.spawnedAt, id: b.id })).map((a) => a.id);
    const live = await allPages("/v1/agents?limit=3");
    assert.deepEqual(live.pages.map((p) => p.length), [3, 3, 1]);
    assert.deepEqual(live.ids, expected);
    for (const agent of spawned) await call(`/v1/agents/${agent.id}`, { method: "DELETE" });
    const terminated = await allPages("/v1/agents?state=TERMINATED&limit=4");
    assert.deepEqual(terminated.pages.map((p) => p.length), [4, 3]);
    assert.deepEqual(terminated.ids, expected);
  });

  it("crews, open and DISBANDED, page newest first by creation time", async () => {
    const crews = [];
    for (let i = 0; i < 5; i++) crews.push((await call("/v1/crews/assemble", post({ manifest: { name: `c${i}`, members: [{ config: { name: "m", role: "Member" } }] } }))).body);
    const expected = [...crews].sort((a, b) => newestFirst({ at: a.createdAt, id: a.id }, { at: b.createdAt, id: b.id })).map((c) => c.id);
    const open = await allPages("/v1/crews?limit=2");
    assert.deepEqual(open.pages.map((p) => p.length), [2, 2, 1]);
    assert.deepEqual(open.ids, expected);
    for (const crew of crews) await call(`/v1/crews/${crew.id}`, { method: "DELETE" });
    assert.deepEqual((await allPages("/v1/crews?state=DISBANDED&limit=2")).ids, expected);
  });

  it("a cursor the server did not give is a 400 VALIDATION_FAILED naming cursor, on every list", async () => {
    for (const list of ["/v1/tasks", "/v1/agents", "/v1/crews"]) {
      for (const cursor of ["nonsense", Buffer.from('{"at":1}').toString("base64url"), Buffer.from("[1,2]").toString("base64url")]) {
        const bad = await call(`${list}?cursor=${cursor}`);
        assert.equal(bad.status, 400, `${list} ${cursor}`);
        assert.deepEqual(bad.body.error, { code: "VALIDATION_FAILED", message: "cursor: not a cursor this server gave; pass a page's nextCursor unchanged", field: "cursor" });
      }
      const long = await call(`${list}?cursor=${"x".repeat(600)}`);
      assert.deepEqual([long.status, long.body.error.field], [400, "cursor"]);
    }
  });
});
