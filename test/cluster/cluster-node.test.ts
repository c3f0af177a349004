// Pins ClusterNode, the factory's place in its cluster: it joins and renews with what its agents report, knows when its own lease lapsed and joins again, reports another node whose lease ran out within leaseMs + renewMs, and leaves. On the memory membership, and on Redis for nodes that cannot see each other's memory.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Redis } from "ioredis";
import { MemoryMembership } from "../../src/adapters/membership/memory/memory-membership.ts";
import { createRedisMembership } from "../../src/adapters/membership/redis/redis-membership.ts";
import { ClusterNode, type NodeState } from "../../src/cluster/cluster-node.ts";
import type { Agent } from "../../src/core/agent.ts";
import type { Membership, NodeInfo } from "../../src/core/ports/membership.ts";
import { REDIS_SKIP, REDIS_URL } from "../adapters/redis-test-server.ts";
import { silentLogger, until } from "../helpers.ts";

/** The slice of an agent the node reads. */
function agent(load: number, cognitiveLoadLimit: number, state: Agent["state"] = "BUSY"): Agent {
  return { load, cognitiveLoadLimit, state } as Agent;
}

function nodeOn(membership: Membership, id: string, agents: Agent[] = [], timing = { leaseMs: 400, renewMs: 100 }) {
  const states: Array<[NodeState, string]> = [];
  const expired: NodeInfo[] = [];
  const errors: string[] = [];
  const node = new ClusterNode({
    id,
    url: null,
    membership,
    agents: { values: () => agents.values(), get size() { return agents.length; } },
    ...timing,
    logger: { ...silentLogger, error: (message: string) => errors.push(message) },
  });
  node.hooks.state.add((state, reason) => states.push([state, reason]));
  node.hooks.expired.add((info) => expired.push(info));
  return { node, states, expired, errors };
}

describe("ClusterNode on the memory membership", () => {
  it("joins, renews with its agents' count, load and capacity, and leaves", async () => {
    const membership = new MemoryMembership();
    const agents = [agent(1, 2), agent(2, 4)];
    const { node, states } = nodeOn(membership, "solo", agents);
    await node.join();
    assert.equal(node.state, "member");
    assert.deepEqual((await node.list()).map(({ id, alive, agents: n, load, capacity }) => ({ id, alive, agents: n, load, capacity })), [
      { id: "solo", alive: true, agents: 2, load: 3, capacity: 6 },
    ]);
    agents.push(agent(0, 5, "READY"));
    await until(async () => (await node.list())[0]?.agents === 3, "a renewal with the third agent");
    assert.deepEqual((await node.list()).map(({ load, capacity }) => [load, capacity]), [[3, 11]]);
    await node.leave();
    assert.equal(node.state, "left");
    assert.deepEqual(await membership.list(), []);
    assert.deepEqual(states, [["member", "joined"], ["left", "factory closed"]]);
  });

  it("a node that could not renew before its lease ran out knows it (lapsed), then joins again", async () => {
    const membership = new MemoryMembership();
    const { node, states, errors } = nodeOn(membership, "sleepy");
    await node.join();
    // The whole process stalls (a long GC pause, a stopped VM) past the lease: no timer runs.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    await until(() => states.length >= 3, "lapsed, then member again");
    assert.deepEqual(states, [
      ["member", "joined"],
      ["lapsed", "its lease ran out before it was renewed, or another node took its id"],
      ["member", "joined again after its lease had run out"],
    ]);
    assert.deepEqual(errors, ["node sleepy lapsed: its lease ran out before it was renewed, or another node took its id; /ready answers 503 node-lapsed until it has joined again"]);
    assert.equal((await membership.list())[0]?.alive, true);
    await node.leave();
  });

  it("a lapsed node whose id another node took stays lapsed until that one leaves", async () => {
    const membership = new MemoryMembership();
    const first = nodeOn(membership, "twin");
    await first.node.join();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    // Before the first node's timers run again, another takes the free id.
    const second = nodeOn(membership, "twin");
    await second.node.join();
    await until(() => first.node.state === "lapsed", "the first node lapsed");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(first.node.state, "lapsed");
    await second.node.leave();
    await until(() => first.node.state === "member", "the first node joined again");
    await first.node.leave();
  });
});

describe("ClusterNode: outages and fencing", () => {
  it("after a membership outage that lapsed every node, none reports the others expired while they join again (no node takes a live one over)", async () => {
    const membership = new MemoryMembership();
    const a = nodeOn(membership, "a");
    const b = nodeOn(membership, "b");
    await a.node.join();
    await b.node.join();
    // Every node misses its renewals at once (here the whole process stalls past the lease).
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    await until(() => a.node.state === "member" && b.node.state === "member" && a.states.length >= 3 && b.states.length >= 3, "both lapsed and joined again");
    await new Promise((r) => setTimeout(r, 600)); // past the grace: both are alive, nothing to report
    assert.deepEqual([a.expired, b.expired], [[], []]);
    await Promise.all([a.node.leave(), b.node.leave()]);
  });

  it("a node that joined reports an expiry only once a lease has passed since, and then reports it", async () => {
    const membership = new MemoryMembership();
    // Killed right after joining: it never renews nor leaves, and its lease runs out in 400 ms.
    let killed = false;
    const gone = (): Promise<never> => Promise.reject(new Error("killed"));
    const deadView: Membership = {
      join: (n, ms) => (killed ? gone() : membership.join(n, ms)),
      renew: (l, r) => (killed ? gone() : membership.renew(l, r)),
      leave: (l) => (killed ? gone() : membership.leave(l)),
      list: () => membership.list(),
      close: () => Promise.resolve(),
    };
    const dead = nodeOn(deadView, "dead");
    await dead.node.join();
    killed = true;
    const late = nodeOn(membership, "late");
    await late.node.join();
    const joinedAt = Date.now();
    await until(() => late.expired.length === 1, "the dead node reported", 3_000);
    assert.ok(Date.now() - joinedAt >= 400, `reported ${Date.now() - joinedAt} ms after joining`);
    assert.deepEqual(late.expired.map((n) => n.id), ["dead"]);
    await late.node.leave();
    await dead.node.leave();
  });

  it("fence: the node says so once, stops renewing and lets its lease go, and takes no other state after", async () => {
    const membership = new MemoryMembership();
    const { node, states, errors } = nodeOn(membership, "f");
    await node.join();
    await node.fence("node 'g' took over its agents and tasks");
    await node.fence("again");
    assert.equal(node.state, "fenced");
    assert.deepEqual(states, [["member", "joined"], ["fenced", "node 'g' took over its agents and tasks"]]);
    assert.deepEqual(errors, ["node f is fenced: node 'g' took over its agents and tasks; it takes no more work and must be restarted to join again"]);
    assert.deepEqual(await membership.list(), []);
    await node.leave();
    assert.equal(node.state, "left");
    assert.equal(states.length, 2);
  });
});

describe("ClusterNode on Redis", { skip: REDIS_SKIP, timeout: 30_000 }, () => {
  const cluster = `test-cnode-${Math.random().toString(36).slice(2, 10)}`;
  const opened: Membership[] = [];
  const open = async (): Promise<Membership> => {
    const m = await createRedisMembership({ url: REDIS_URL, cluster, onError: () => {} });
    opened.push(m);
    return m;
  };
  after(async () => {
    await Promise.all(opened.map((m) => m.close()));
    const admin = new Redis(REDIS_URL);
    const keys = await admin.keys(`af:${cluster}:*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
  });

  it("a node cut off from Redis lapses itself, and the others see its lease expire within leaseMs + renewMs of its last renewal, once", async () => {
    const timing = { leaseMs: 600, renewMs: 150 };
    const a = nodeOn(await open(), "a", [], timing);
    const b = nodeOn(await open(), "b", [agent(0, 1, "READY")], timing);
    await a.node.join();
    await b.node.join();
    await until(async () => (await b.node.list()).length === 2, "both listed");
    // Cut a off: its connection is gone, as if the process were killed (its lease stays until it runs out).
    const cutAt = Date.now();
    await (opened[0] as Membership).close();
    await until(() => b.expired.length > 0, "b sees a's lease expire", 5_000);
    const seenAfter = Date.now() - cutAt;
    // a renewed at most renewMs (plus a round) before the cut, so its lease ends between cut + leaseMs - renewMs and cut + leaseMs.
    assert.ok(seenAfter >= timing.leaseMs - timing.renewMs - 50, `seen after ${seenAfter} ms`);
    assert.ok(seenAfter <= timing.leaseMs + timing.renewMs + 100, `seen after ${seenAfter} ms`);
    assert.deepEqual(b.expired.map((n) => [n.id, n.alive]), [["a", false]]);
    await until(() => a.node.state === "lapsed", "a knows it lapsed", 2_000);
    await new Promise((r) => setTimeout(r, 2 * timing.renewMs));
    assert.equal(b.expired.length, 1, "an expiry is reported once");
    assert.equal(b.node.state, "member");
    await Promise.all([a.node.leave(), b.node.leave()]);
  });
});
