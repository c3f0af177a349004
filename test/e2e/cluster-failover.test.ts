// Two real `serve` nodes on one PostgreSQL schema and one Redis cluster. Either node answers for the whole fleet (lists, requests passed to the owner, tasks placed where an agent can take them). A node killed with SIGKILL mid-load loses nothing. The survivor notices its lease ran out, takes over its agents under the same ids (restarts + 1, nodeId now the survivor's), and runs every task it had accepted to SUCCEEDED, each recorded SUCCEEDED once.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { PG_SKIP } from "../adapters/postgres-test-schema.ts";
import { REDIS_SKIP } from "../adapters/redis-test-server.ts";
import { cli } from "./serve.ts";
import { clusterRun } from "./cluster-run.ts";
import { until } from "../helpers.ts";

const T = { timeout: 90_000, skip: PG_SKIP || REDIS_SKIP };

interface AgentView {
  id: string;
  state: string;
  nodeId: string;
  restarts: number;
  walletAddress: string;
}
interface TaskView {
  id: string;
  state: string;
  result?: unknown;
  attempts: number;
}

async function json<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as T };
}

describe("a cluster of two nodes: one is killed mid-load", T, () => {
  const run = clusterRun();
  after(() => run.close());

  it("the survivor brings the dead node's agents back under their ids and runs every task it had accepted to SUCCEEDED, once", async () => {
    const schema = await run.schema();
    const node = (id: string) => run.node(id, ["--agent-files", "examples/agents"]);
    const [victim, survivor] = [await node("n1"), await node("n2")];
    await until(async () => (await json<{ items: Array<{ id: string; alive: boolean }> }>(`${survivor.url}/v1/nodes`)).body.items.filter((n) => n.alive).length === 2, "both nodes listed alive", 10_000);

    // Two sandboxed Python agents on the victim, and a load of slow tasks for them.
    const agents: AgentView[] = [];
    for (let i = 0; i < 2; i++) {
      const spawned = await cli(victim.url, "--json", "spawn", "-f", "examples/profiles/py-agent.yaml");
      assert.equal(spawned.code, 0, spawned.stderr);
      agents.push(JSON.parse(spawned.stdout) as AgentView);
    }
    await until(async () => (await json<{ items: AgentView[] }>(`${victim.url}/v1/agents`)).body.items.filter((a) => a.state === "READY").length === 2, "two agents READY on the victim", 20_000);
    const tasks: string[] = [];
    for (let i = 0; i < 8; i++) {
      const { status, body } = await json<TaskView>(`${victim.url}/v1/tasks`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ role: "Analyst", input: { text: `t${i}`, sleepMs: 400 }, maxAttempts: 3 }),
      });
      assert.equal(status, 202, JSON.stringify(body));
      tasks.push(body.id);
    }
    await until(async () => (await json<TaskView>(`${victim.url}/v1/tasks/${tasks[0]}`)).body.state !== "QUEUED", "the first task to start", 10_000);

    // One fleet from either node: the survivor lists the victim's agents, and passes requests
    // about them (and tasks for their role) to the victim, whose answer it returns.
    const listed = await json<{ items: AgentView[] }>(`${survivor.url}/v1/agents`);
    assert.deepEqual(listed.body.items.filter((a) => a.nodeId === "n1").map((a) => a.id).sort(), agents.map((a) => a.id).sort());
    const viaSurvivor = await fetch(`${survivor.url}/v1/agents/${agents[0]?.id}`);
    assert.deepEqual([viaSurvivor.status, viaSurvivor.headers.get("x-agent-factory-node")], [200, "n1"]);
    const placed = await fetch(`${survivor.url}/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ role: "Analyst", input: { text: "placed", sleepMs: 400 }, maxAttempts: 3 }),
    });
    assert.deepEqual([placed.status, placed.headers.get("x-agent-factory-node")], [202, "n1"], "a task for a role only the victim serves goes to the victim");
    tasks.push(((await placed.json()) as TaskView).id);
    const taskVia = await fetch(`${survivor.url}/v1/tasks/${tasks[0]}`);
    assert.equal(taskVia.headers.get("x-agent-factory-node"), "n1");

    const killedAt = Date.now();
    victim.child.kill("SIGKILL");
    await victim.exited;

    // Until its lease runs out (3 s), changes to what the victim ran are refused, and reads come from the store.
    const refused = await json<{ error: { code: string; message: string } }>(`${survivor.url}/v1/agents/${agents[0]?.id}/hibernate`, { method: "POST" });
    assert.deepEqual([refused.status, refused.body.error.code], [503, "NODE_UNAVAILABLE"], JSON.stringify(refused.body));
    assert.match(refused.body.error.message, new RegExp(`^node n1 runs agent ${agents[0]?.id} and is not answering`));
    assert.equal((await fetch(`${survivor.url}/v1/agents/${agents[0]?.id}`)).status, 200);

    // Detected, taken over, and every agent back (READY) under its id on the survivor.
    await until(
      async () => {
        const { body } = await json<{ items: AgentView[] }>(`${survivor.url}/v1/agents`);
        return agents.every((a) => body.items.some((b) => b.id === a.id && b.state === "READY"));
      },
      "the victim's agents READY on the survivor",
      20_000,
    ).catch((error: unknown) => {
      // What the survivor said is what explains a take-over that did not happen.
      throw new Error(`${String(error)}\nsurvivor stdout: ${survivor.stdout().slice(-3000)}\nstderr: ${survivor.stderr().slice(-3000)}`);
    });
    const backMs = Date.now() - killedAt;
    for (const a of agents) {
      const { body } = await json<AgentView>(`${survivor.url}/v1/agents/${a.id}`);
      assert.deepEqual([body.nodeId, body.restarts, body.walletAddress], ["n2", 1, a.walletAddress], `agent ${a.id} back under its id and wallet`);
    }
    assert.ok(backMs < 15_000, `agents back ${backMs} ms after the kill`);

    // Every accepted task ends SUCCEEDED, answered by the survivor.
    for (const id of tasks) {
      await until(async () => (await json<TaskView>(`${survivor.url}/v1/tasks/${id}`)).body.state === "SUCCEEDED", `task ${id} SUCCEEDED`, 30_000);
      const { body } = await json<TaskView>(`${survivor.url}/v1/tasks/${id}`);
      const i = tasks.indexOf(id);
      assert.deepEqual((body.result as { upper?: string }).upper, i < 8 ? `T${i}` : "PLACED");
    }
    // Recorded once: one SUCCEEDED per task in the shared event log, and no task left unfinished.
    const rows = await schema.query<{ task_id: string; data: string }>("select task_id, data from events where type = 'task.state'");
    for (const id of tasks) {
      const succeeded = rows.filter((r) => r.task_id === id && (JSON.parse(r.data) as { to?: string }).to === "SUCCEEDED");
      assert.equal(succeeded.length, 1, `task ${id} recorded SUCCEEDED once`);
    }
    const adopted = await schema.query<{ data: string }>("select data from events where type = 'node.adopted'");
    assert.equal(adopted.length, 1);
    assert.deepEqual((JSON.parse(adopted[0]?.data ?? "{}") as { data?: { node?: string; agents?: number } }).data?.node, "n1");
    const owners = await schema.query<{ node_id: string }>("select distinct node_id from agents where state <> 'TERMINATED'");
    assert.deepEqual(owners, [{ node_id: "n2" }]);
  });
});
