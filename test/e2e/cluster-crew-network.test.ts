// Pins that a crew network survives a take-over: a `network: crew` crew on a node killed with SIGKILL comes back on the survivor with its members again in one loopback-only namespace of their own there (one reaches the other's port on 127.0.0.1), and nothing of it is left once the crew is disbanded.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { resolve } from "node:path";
import { after, describe, it } from "node:test";
import { PG_SKIP } from "../adapters/postgres-test-schema.ts";
import { REDIS_SKIP } from "../adapters/redis-test-server.ts";
import { until } from "../helpers.ts";
import { clusterRun } from "./cluster-run.ts";

const T = { timeout: 90_000, skip: PG_SKIP || REDIS_SKIP || (process.getuid?.() !== 0 ? "a crew network needs a root factory" : false) };
const agentFile = resolve(import.meta.dirname, "../fixtures/net-agent.mjs");

interface AgentView {
  id: string;
  state: string;
  nodeId: string;
  restarts: number;
  pid: number | null;
  crewId: string | null;
  network?: string;
}

async function json<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as T };
}
const post = (body: unknown): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

/** The network namespace of the agent's program: the innermost process under its host pid. */
function netOf(pid: number): string {
  let leaf = pid;
  for (;;) {
    const [child] = readFileSync(`/proc/${leaf}/task/${leaf}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    if (child === undefined) return readlinkSync(`/proc/${leaf}/ns/net`);
    leaf = Number(child);
  }
}

/** Whether any process on the host is in the namespace `net` (the node's own descriptor is checked through its pid). */
function held(net: string): boolean {
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      if (readlinkSync(`/proc/${pid}/ns/net`) === net) return true;
      for (const fd of readdirSync(`/proc/${pid}/fd`)) if (readlinkSync(`/proc/${pid}/fd/${fd}`) === net) return true;
    } catch {
      // gone meanwhile, or a zombie
    }
  }
  return false;
}

describe("a crew network on a cluster: its node is killed", T, () => {
  const run = clusterRun();
  after(() => run.close());

  it("the survivor starts the members again in one crew namespace of their own, where they reach each other; disband leaves nothing", async () => {
    const node = (id: string) => run.node(id, ["--agent-files", resolve(import.meta.dirname, "../fixtures")]);
    const [victim, survivor] = [await node("n1"), await node("n2")];
    await until(async () => (await json<{ items: Array<{ alive: boolean }> }>(`${survivor.url}/v1/nodes`)).body.items.filter((n) => n.alive).length === 2, "both nodes listed alive", 10_000);
    const profile = { name: "net", role: "Net", runtime: { kind: "process", command: ["node", "/agent/net-agent.mjs"], files: [agentFile] }, health: { heartbeatIntervalMs: 0 }, pool: { spawnStrategy: "manual" } };
    assert.equal((await fetch(`${victim.url}/v1/profiles`, post(profile))).status, 201);
    const assembled = await json<{ id: string; network?: string; agents: AgentView[] }>(`${victim.url}/v1/crews/assemble`, post({ manifest: { name: "pair", network: "crew", members: [{ profile: "net", count: 2 }] } }));
    assert.equal(assembled.status, 201, JSON.stringify(assembled.body));
    assert.equal(assembled.body.network, "crew");
    const crewId = assembled.body.id;
    const ids = assembled.body.agents.map((a) => a.id);
    const task = async (url: string, agentId: string, input: unknown): Promise<Record<string, unknown>> => {
      const submitted = await json<{ id: string }>(`${url}/v1/tasks`, post({ agentId, crewId, input }));
      assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
      const done = await json<{ state: string; result: Record<string, unknown>; error: unknown }>(`${url}/v1/tasks/${submitted.body.id}?waitMs=10000`);
      assert.equal(done.body.state, "SUCCEEDED", JSON.stringify(done.body.error));
      return done.body.result;
    };
    const before = netOf(assembled.body.agents[0]?.pid as number);
    // Writes are batched: the crew is taken over as ACTIVE (its members brought back) once the store says so.
    const schema = await run.schema();
    await until(async () => (await schema.query<{ state: string }>(`select state from crews where id = '${crewId}'`))[0]?.state === "ACTIVE", "the crew ACTIVE in the store", 10_000);

    victim.child.kill("SIGKILL");
    await victim.exited;
    let members: AgentView[] = [];
    await until(
      async () => {
        members = (await Promise.all(ids.map(async (id) => (await json<AgentView>(`${survivor.url}/v1/agents/${id}`)).body))).filter((a) => a.state === "READY" && a.nodeId === "n2");
        return members.length === 2;
      },
      "both members READY on the survivor",
      30_000,
    ).catch(async (error: unknown) => {
      const seen = await Promise.all(ids.map(async (id) => (await json<AgentView>(`${survivor.url}/v1/agents/${id}`)).body));
      throw new Error(`${String(error)}\nagents: ${JSON.stringify(seen.map((x) => [x.state, x.nodeId, x.restarts]))}\nsurvivor stdout: ${survivor.stdout().slice(-3000)}\nstderr: ${survivor.stderr().slice(-3000)}`);
    });
    const [a, b] = members as [AgentView, AgentView];
    assert.deepEqual([a.network, b.network, a.restarts, b.restarts], ["crew", "crew", 1, 1]);
    const net = netOf(a.pid as number);
    assert.equal(netOf(b.pid as number), net);
    assert.notEqual(net, readlinkSync("/proc/self/ns/net"));
    // The victim's namespace went with it (SIGKILL: its descriptor closed by the kernel, its members killed with it).
    await until(() => !held(before) || before === net, "the victim's crew namespace gone", 10_000);
    const { port } = await task(survivor.url, a.id, { listen: true });
    assert.deepEqual(await task(survivor.url, b.id, { connect: port }), { reached: true, said: a.id });

    assert.equal((await fetch(`${survivor.url}/v1/crews/${crewId}`, { method: "DELETE" })).status, 202);
    await until(() => !held(net), "nothing holding the crew namespace after disband", 15_000);
  });
});
