// A crew that spans three real `serve` nodes (`placement: spread`): its members run on every node, any node answers for it, its broadcast reaches every member, its tasks run on members of several nodes, its model calls are paid from its wallet at its own node, and when a node that runs some of its members is killed with SIGKILL under load, those members come back on a survivor under their ids and every accepted task ends SUCCEEDED once. When the crew's own node dies too, a node that ran members of it owns it; disbanding there ends every member and the crew reads DISBANDED.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { PG_SKIP } from "../adapters/postgres-test-schema.ts";
import { REDIS_SKIP } from "../adapters/redis-test-server.ts";
import type { Server } from "./serve.ts";
import { clusterRun } from "./cluster-run.ts";
import { until } from "../helpers.ts";

const T = { timeout: 120_000, skip: PG_SKIP || REDIS_SKIP };

interface AgentView {
  id: string;
  state: string;
  nodeId: string;
  restarts: number;
  role: string;
  crewId: string | null;
}
interface CrewView {
  id: string;
  state: string;
  walletAddress: string;
  agentIds: string[];
  agents: AgentView[];
}
interface TaskView {
  id: string;
  state: string;
  agentId: string | null;
  result?: unknown;
  usage?: { calls: number; cost: number };
  error?: unknown;
}

async function call<T>(url: string, method = "GET", body?: unknown): Promise<{ status: number; body: T; node: string | null }> {
  const res = await fetch(url, { method, ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }) });
  return { status: res.status, body: (await res.json()) as T, node: res.headers.get("x-agent-factory-node") };
}

describe("a crew spread over three nodes", T, () => {
  const run = clusterRun();
  after(() => run.close());

  it("runs members on every node, answers from any, broadcasts to all, pays model calls at its node, and survives a member node's kill -9", async () => {
    const schema = await run.schema();
    const node = (id: string) => run.node(id);
    const [n1, n2, n3] = [await node("n1"), await node("n2"), await node("n3")];
    await until(async () => (await call<{ items: Array<{ alive: boolean }> }>(`${n1.url}/v1/nodes`)).body.items.filter((n) => n.alive).length === 3, "three nodes alive", 10_000);

    const manifest = {
      name: "span",
      placement: "spread",
      budget: 50,
      members: [
        { config: { name: "span-coder", role: "Coder", runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual" } }, count: 3 },
        { config: { name: "span-thinker", role: "Thinker", runtime: { kind: "llm", systemPrompt: "You plan.", maxSteps: 1, maxOutputTokens: 40 }, pool: { spawnStrategy: "manual" } }, count: 3 },
      ],
    };
    const assembled = await call<CrewView>(`${n1.url}/v1/crews/assemble`, "POST", { manifest });
    assert.equal(assembled.status, 201, JSON.stringify(assembled.body));
    const crew = assembled.body;
    assert.equal(crew.state, "ACTIVE");
    assert.equal(crew.agentIds.length, 6);
    const placed = new Map<string, string>(); // agent id → node
    for (const a of crew.agents) placed.set(a.id, a.nodeId);
    assert.deepEqual([...new Set(placed.values())].sort(), ["n1", "n2", "n3"], "members on every node");
    assert.deepEqual(
      crew.agents.map((a) => [a.role, a.nodeId]),
      [["Coder", "n1"], ["Coder", "n2"], ["Coder", "n3"], ["Thinker", "n1"], ["Thinker", "n2"], ["Thinker", "n3"]],
      "round-robin, this node first",
    );

    // Any node answers for the crew (passed to n1, its node), and lists its members.
    const fromN3 = await call<CrewView>(`${n3.url}/v1/crews/${crew.id}`);
    assert.deepEqual([fromN3.status, fromN3.node, fromN3.body.state, fromN3.body.agentIds.length], [200, "n1", "ACTIVE", 6]);
    const listed = await call<{ items: AgentView[] }>(`${n2.url}/v1/agents?crewId=${crew.id}`);
    assert.equal(listed.body.items.length, 6);

    // A broadcast asked of n2 reaches all six members, wherever they run.
    const signal = await call<{ delivered: number }>(`${n2.url}/v1/crews/${crew.id}/broadcast`, "POST", { signal: "MISSION_START", payload: { go: true } });
    assert.deepEqual([signal.status, signal.body.delivered], [202, 6], JSON.stringify(signal.body));

    // The crew's tasks run on members of several nodes, whichever node takes them.
    const submitted: Array<{ url: string; id: string }> = [];
    for (let i = 0; i < 9; i++) {
      const at = [n1, n2, n3][i % 3] as Server;
      const res = await call<TaskView>(`${at.url}/v1/tasks`, "POST", { role: "Coder", crewId: crew.id, input: { i } });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      submitted.push({ url: at.url, id: res.body.id });
    }
    const ranOn = new Set<string>();
    for (const t of submitted) {
      await until(async () => (await call<TaskView>(`${t.url}/v1/tasks/${t.id}`)).body.state === "SUCCEEDED", `task ${t.id} SUCCEEDED`, 15_000);
      ranOn.add(placed.get((await call<TaskView>(`${t.url}/v1/tasks/${t.id}`)).body.agentId ?? "") ?? "?");
    }
    assert.deepEqual([...ranOn].sort(), ["n1", "n2", "n3"], "each node's member ran some of the crew's tasks");

    // A model call of a member n3 runs is made at n1 and paid from the crew's wallet.
    const thinker = crew.agents.find((a) => a.role === "Thinker" && a.nodeId === "n3") as AgentView;
    const asked = await call<TaskView>(`${n3.url}/v1/tasks`, "POST", { agentId: thinker.id, crewId: crew.id, input: "plan the launch" });
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    await until(async () => (await call<TaskView>(`${n3.url}/v1/tasks/${asked.body.id}`)).body.state === "SUCCEEDED", "the thinker's task SUCCEEDED", 15_000);
    // Written behind by n1's journal: looked for until it is there.
    let usage: Array<{ debit: string }> = [];
    await until(async () => {
      usage = (await schema?.query<{ debit: string }>("select debit from ledger where kind = 'reservation' and agent_id = $1", [thinker.id])) ?? [];
      return usage.length >= 1;
    }, "the call's hold in the ledger", 5_000);
    assert.ok(usage.every((r) => r.debit === crew.walletAddress), "from the crew's wallet");
    const wallet = await call<{ balance: number }>(`${n1.url}/v1/wallets/${crew.walletAddress}`);
    assert.ok(wallet.body.balance < 50 && wallet.body.balance > 0, `crew wallet ${wallet.body.balance}`);

    // A rewarded task is paid at the crew's node: asked of n2 for n2's member, it goes to n1, which says why it cannot run it.
    const coderOnN2 = crew.agents.find((a) => a.role === "Coder" && a.nodeId === "n2") as AgentView;
    const rewarded = await call<{ error: { code: string; message: string } }>(`${n2.url}/v1/tasks`, "POST", { crewId: crew.id, agentId: coderOnN2.id, reward: 1, input: {} });
    assert.deepEqual([rewarded.status, rewarded.node, rewarded.body.error.code], [400, "n1", "VALIDATION_FAILED"]);
    assert.match(rewarded.body.error.message, new RegExp(`agent ${coderOnN2.id} runs on node n2, not here \\(a task with a reward runs at its crew's node`));
    // A member another node runs is not cloned (asked of n1, answered by n2), and nothing is left over.
    const membersBefore = (await schema.query("select id from agents where crew_id = $1", [crew.id])).length;
    const cloned = await call<{ error: { code: string } }>(`${n1.url}/v1/agents/${coderOnN2.id}/clone`, "POST", {});
    assert.deepEqual([cloned.status, cloned.node, cloned.body.error.code], [400, "n2", "VALIDATION_FAILED"]);
    assert.equal((await schema.query("select id from agents where crew_id = $1", [crew.id])).length, membersBefore);

    // n3 dies with crew tasks queued and running: its members come back on a survivor.
    const load: Array<{ url: string; id: string }> = [];
    for (let i = 0; i < 12; i++) {
      const at = [n1, n2][i % 2] as Server;
      const res = await call<TaskView>(`${at.url}/v1/tasks`, "POST", { role: "Coder", crewId: crew.id, input: { load: i }, maxAttempts: 3 });
      assert.equal(res.status, 202);
      load.push({ url: at.url, id: res.body.id });
    }
    const n3Members = [...placed].filter(([, n]) => n === "n3").map(([id]) => id);
    n3.child.kill("SIGKILL");
    await n3.exited;
    await until(
      async () => {
        const { body } = await call<{ items: AgentView[] }>(`${n1.url}/v1/agents?crewId=${crew.id}`);
        return n3Members.every((id) => body.items.some((a) => a.id === id && a.state === "READY" && a.nodeId !== "n3" && a.restarts === 1));
      },
      "n3's members READY on a survivor, restarts 1",
      20_000,
    );
    for (const t of load) await until(async () => (await call<TaskView>(`${t.url}/v1/tasks/${t.id}`)).body.state === "SUCCEEDED", `load task ${t.id}`, 20_000);
    const finals = await schema.query<{ task_id: string; data: string }>("select task_id, data from events where type = 'task.state'");
    for (const t of [...submitted, ...load]) {
      assert.equal(finals.filter((r) => r.task_id === t.id && (JSON.parse(r.data) as { to?: string }).to === "SUCCEEDED").length, 1, `task ${t.id} SUCCEEDED once`);
    }

    // The crew's own node dies too: n2, which ran members of it, now owns it, and answers for it alone.
    n1.child.kill("SIGKILL");
    await n1.exited;
    await until(
      async () => {
        const owner = (await schema?.query<{ node_id: string }>("select node_id from crews where id = $1", [crew.id]))?.[0]?.node_id;
        const got = await call<CrewView>(`${n2.url}/v1/crews/${crew.id}`);
        // All six: until n2 has taken the crew over it answers from the mirror it kept, which lists only the members it ran.
        return owner === "n2" && got.status === 200 && got.node === null && got.body.state === "ACTIVE" && got.body.agents.length === 6 && got.body.agents.every((a) => a.nodeId === "n2" && a.state === "READY");
      },
      "n2 owns the crew, every member READY on n2",
      20_000,
    );
    // Disbanding ends every member, and the crew reads DISBANDED (not the mirror n2 kept of it before).
    const disband = await call<CrewView>(`${n2.url}/v1/crews/${crew.id}`, "DELETE");
    assert.equal(disband.status, 202, JSON.stringify(disband.body));
    await until(async () => (await schema?.query<{ n: string }>("select count(*) as n from agents where crew_id = $1 and state <> 'TERMINATED'", [crew.id]))?.[0]?.n === "0", "every member TERMINATED", 20_000);
    await until(async () => (await call<CrewView>(`${n2.url}/v1/crews/${crew.id}`)).body.state === "DISBANDED", "crew DISBANDED", 10_000);
    const again = await call<{ error: { code: string } }>(`${n2.url}/v1/crews/${crew.id}/broadcast`, "POST", { signal: "PAUSE" });
    assert.deepEqual([again.status, again.body.error.code], [409, "CREW_NOT_ACTIVE"]);
  });
});
