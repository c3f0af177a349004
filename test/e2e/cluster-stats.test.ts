// Two real `serve` nodes on one PostgreSQL schema and Redis: GET /v1/stats on either node counts the whole fleet (every node's agents, by node), and a node that stops answering is named in `unreachable` rather than counted silently as zero.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { PG_SKIP } from "../adapters/postgres-test-schema.ts";
import { REDIS_SKIP } from "../adapters/redis-test-server.ts";
import { clusterRun } from "./cluster-run.ts";
import { until } from "../helpers.ts";

const T = { timeout: 60_000, skip: PG_SKIP || REDIS_SKIP };

type Stats = { nodeId: string; agents: { total: number; byNode: Record<string, number>; byProfile: Record<string, number> }; unreachable: string[] };

async function spawn(url: string, profile: string): Promise<void> {
  const answer = await fetch(`${url}/v1/agents`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ profile }) });
  assert.equal(answer.status, 201, await answer.text());
}

const stats = async (url: string): Promise<Stats> => (await (await fetch(`${url}/v1/stats`)).json()) as Stats;

describe("the fleet's counts on a cluster", T, () => {
  const run = clusterRun();
  after(() => run.close());

  it("either node answers every node's agents, by node; a silent node is listed as unreachable", async () => {
    const [a, b] = [await run.node("a"), await run.node("b")];
    const profile = { name: "counted", role: "Counted", runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual" } };
    assert.equal((await fetch(`${a.url}/v1/profiles`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(profile) })).status, 201);
    for (let i = 0; i < 3; i++) await spawn(a.url, "counted");
    await until(async () => (await fetch(`${b.url}/v1/agents`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ profile: "counted" }) })).status === 201, "b spawns the profile registered through a", 5_000);
    await spawn(b.url, "counted");
    for (const [node, other] of [[a, "b"], [b, "a"]] as const) {
      const answer = await stats(node.url);
      assert.deepEqual(answer.agents.byNode, { a: 3, b: 2 }, `asked of ${answer.nodeId}`);
      assert.equal(answer.agents.total, 5);
      assert.deepEqual(answer.agents.byProfile, { counted: 5 });
      assert.deepEqual(answer.unreachable, []);
      assert.notEqual(answer.nodeId, other);
    }
    // b frozen (SIGSTOP): its lease still holds for a while, but it answers nothing — a says so.
    b.child.kill("SIGSTOP");
    try {
      const answer = await stats(a.url);
      assert.deepEqual(answer.agents.byNode, { a: 3 });
      assert.deepEqual(answer.unreachable, ["b"]);
    } finally {
      b.child.kill("SIGCONT");
    }
  });
});
