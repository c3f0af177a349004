// Pins GET /v1/stats in-process: the fleet counted on the server (agents four ways, crews by state, the queue, the node), `topCrews`, and bad input as a named 400.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApp } from "../../src/api/app.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { testFactory } from "../helpers.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const post = (body: unknown): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("GET /v1/stats", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let app: OpenAPIHono;
  const call = async (path: string, init?: RequestInit): Promise<{ status: number; body: Json }> => {
    const response = await app.request(path, init);
    return { status: response.status, body: (await response.json()) as Json };
  };

  beforeEach(async () => {
    ({ factory, close } = await testFactory());
    app = createApp(factory);
  });
  afterEach(async () => close());

  it("counts the live agents by state, profile, node and crew, and crews by state", async () => {
    for (const name of ["alpha", "beta"]) assert.equal((await call("/v1/profiles", post({ name, role: name.toUpperCase() }))).status, 201);
    for (const profile of ["alpha", "alpha", "beta"]) assert.equal((await call("/v1/agents", post({ profile }))).status, 201);
    const crew = await call("/v1/crews/assemble", post({ manifest: { name: "team", members: [{ profile: "beta", count: 2 }] } }));
    assert.equal(crew.status, 201);
    const stats = await call("/v1/stats");
    assert.equal(stats.status, 200);
    assert.equal(stats.body.nodeId, factory.nodeId);
    assert.deepEqual(stats.body.agents, {
      total: 5,
      byState: { READY: 5 },
      byProfile: { alpha: 2, beta: 3 },
      byNode: { [factory.nodeId]: 5 },
      byCrew: { "": 3, [crew.body.id]: 2 },
      otherCrews: 0,
    });
    assert.deepEqual(stats.body.crews, { total: 1, byState: { ACTIVE: 1 } });
    assert.deepEqual(stats.body.tasks, { queued: 0, running: 0 });
    assert.deepEqual(stats.body.nodes.map((n: Json) => [n.id, n.alive]), [[factory.nodeId, true]]);
    assert.equal(stats.body.lastEventSeq, factory.stats().lastEventSeq);
    assert.deepEqual(stats.body.unreachable, []);
    // No crew named at all: the five agents summed in otherCrews.
    const top = await call("/v1/stats?topCrews=0");
    assert.deepEqual([top.body.agents.byCrew, top.body.agents.otherCrews], [{}, 5]);
  });

  it("refuses a bad topCrews or an unknown query field with a 400 naming it", async () => {
    const negative = await call("/v1/stats?topCrews=-1");
    assert.deepEqual([negative.status, negative.body.error.code, negative.body.error.field], [400, "VALIDATION_FAILED", "topCrews"]);
    const unknown = await call("/v1/stats?limit=5");
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error.message, /limit/);
  });
});
