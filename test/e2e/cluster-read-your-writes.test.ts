// Pins read-your-writes across the nodes of a cluster: a crew assembled (or an agent spawned) through one node is found at once through another — a task for it submitted there is accepted, not refused because the first node's write batch had not yet reached PostgreSQL.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { PG_SKIP } from "../adapters/postgres-test-schema.ts";
import { REDIS_SKIP } from "../adapters/redis-test-server.ts";
import { until } from "../helpers.ts";
import { clusterRun } from "./cluster-run.ts";

const post = async (url: string, body: unknown) => {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe("read your writes across nodes", { timeout: 120_000, skip: PG_SKIP || REDIS_SKIP }, () => {
  const run = clusterRun();
  after(() => run.close());

  it("a task for a crew or agent made through n1 is accepted at once through n2", async () => {
    const [n1, n2] = [await run.node("n1"), await run.node("n2")];
    await until(async () => ((await (await fetch(`${n2.url}/v1/nodes`)).json()) as { items: Array<{ alive: boolean }> }).items.filter((n) => n.alive).length === 2, "two nodes", 10_000);
    const refused: string[] = [];
    for (let i = 0; i < 6; i++) {
      const crew = await post(`${n1.url}/v1/crews/assemble`, { manifest: { name: `c${i}`, members: [{ config: { name: `ryw-c${i}`, role: "W", runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual" } } }] } });
      assert.equal(crew.status, 201);
      const forCrew = await post(`${n2.url}/v1/tasks`, { crewId: crew.body.id, role: "W", input: {} });
      if (forCrew.status !== 202) refused.push(`crew: ${forCrew.status} ${JSON.stringify(forCrew.body)}`);
      const agent = await post(`${n1.url}/v1/agents`, { config: { name: `ryw-a${i}`, role: "A", runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual" } } });
      assert.equal(agent.status, 201);
      const forAgent = await post(`${n2.url}/v1/tasks`, { agentId: agent.body.id, input: {} });
      if (forAgent.status !== 202) refused.push(`agent: ${forAgent.status} ${JSON.stringify(forAgent.body)}`);
    }
    assert.deepEqual(refused, []);
  });
});
