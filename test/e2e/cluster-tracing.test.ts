// Pins one trace per task across a cluster: when the node running a task is killed mid-attempt, the node that takes it over records the interrupted attempt, the new attempt and the root, all under that trace id.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { PG_SKIP } from "../adapters/postgres-test-schema.ts";
import { REDIS_SKIP } from "../adapters/redis-test-server.ts";
import { until } from "../helpers.ts";
import { otlpReceiver } from "../otlp-receiver.ts";
import { clusterRun } from "./cluster-run.ts";

const T = { timeout: 90_000, skip: PG_SKIP || REDIS_SKIP };

async function json(url: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown>; node: string | null }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, node: res.headers.get("x-agent-factory-node") };
}

const post = (url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown>; node: string | null }> =>
  json(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("traces on a cluster: a node killed mid-task", T, () => {
  const run = clusterRun();
  after(() => run.close());

  it("the task's trace goes on on the node that takes it over, under the same trace id", async () => {
    const receiver = await otlpReceiver();
    try {
      const [victim, survivor] = [await run.node("t1", ["--otlp-endpoint", receiver.url]), await run.node("t2", ["--otlp-endpoint", receiver.url])];
      await until(async () => ((await json(`${survivor.url}/v1/nodes`)).body.items as Array<{ alive: boolean }>).filter((n) => n.alive).length === 2, "both nodes alive", 10_000);
      assert.equal((await post(`${victim.url}/v1/profiles`, { name: "sleeper", role: "Sleeper", runtime: { kind: "function", handler: "sleep" }, pool: { spawnStrategy: "manual" } })).status, 201);
      const agent = (await post(`${victim.url}/v1/agents`, { profile: "sleeper" })).body;
      assert.equal(agent.nodeId, "t1");

      const placed = await post(`${victim.url}/v1/tasks`, { role: "Sleeper", input: { ms: 1_500 }, maxAttempts: 3 });
      assert.equal(placed.status, 202);
      const traceId = String(placed.body.traceId);
      assert.match(traceId, /^[0-9a-f]{32}$/);
      const id = String(placed.body.id);
      await until(async () => ((await json(`${victim.url}/v1/tasks?state=RUNNING`)).body.items as Array<{ id: string }>).some((t) => t.id === id), "the task runs on the victim, stored", 10_000);

      victim.child.kill("SIGKILL");
      await victim.exited;
      await until(async () => (await json(`${survivor.url}/v1/tasks/${id}`)).body.state === "SUCCEEDED", "the task SUCCEEDED on the survivor", 30_000);
      const done = (await json(`${survivor.url}/v1/tasks/${id}`)).body;
      assert.equal(done.traceId, traceId, "the same trace id after the take-over");

      await until(() => receiver.spans.some((s) => s.traceId === traceId && s.name === "task Sleeper"), "the root span arrives", 10_000);
      const spans = receiver.spans.filter((s) => s.traceId === traceId);
      const root = spans.find((s) => s.name === "task Sleeper");
      assert.equal(root?.resource["service.instance.id"], "t2", "the node that ended the task records the root");
      assert.equal(root?.parentSpanId, "");
      assert.ok(root !== undefined && root.startMs <= Date.parse(String(placed.body.createdAt)) + 1, "the root starts at the submit, on the victim");
      const interrupted = spans.find((s) => s.attributes["agent_factory.attempt.interrupted"] === true);
      assert.equal(interrupted?.name, "attempt 1");
      assert.equal(interrupted?.resource["service.instance.id"], "t2");
      assert.equal(interrupted?.status.code, 2);
      assert.match(String(interrupted?.status.message), /t1/, "the interrupted attempt says which node was lost");
      const rerun = spans.find((s) => s.name === "attempt 2");
      assert.equal(rerun?.attributes["agent_factory.attempt.outcome"], "SUCCEEDED");
      assert.equal(rerun?.attributes["agent_factory.agent.id"], agent.id, "the same agent, brought back on the survivor");
      for (const s of spans.filter((x) => x !== root)) assert.equal(s.parentSpanId, root?.spanId, `${s.name} under the root`);
    } finally {
      await receiver.close();
    }
  });
});
