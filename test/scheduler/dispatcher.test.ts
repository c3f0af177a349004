// Pins matching on the dispatcher alone (no factory): the balancers' choice, queue depth, affinity, cancelling a waiting task.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { Task } from "../../src/core/task.ts";
import type { DispatcherDeps } from "../../src/scheduler/dispatcher.ts";
import type { HandlerContext } from "../../src/runtimes/function/function-handler.ts";
import { task } from "../conformance/store.conformance.ts";
import { until } from "../helpers.ts";
import { movesOf, schedulerParts, type Parts } from "./parts.ts";

describe("dispatcher", () => {
  let parts: Parts;
  afterEach(async () => {
    release();
    await parts.close();
    assert.deepEqual(parts.errors, []);
  });

  /** Who ran which task, in order. */
  const ran: Array<{ task: string; agent: string }> = [];
  let release: () => void = () => {};
  let gate = Promise.resolve();
  /** Handlers wait at the gate while it is closed. */
  const closeGate = () => {
    gate = new Promise<void>((resolve) => (release = resolve));
  };
  /** Parts and a dispatcher over them, for a profile `w` of role Worker whose agents take `limit` tasks at once. */
  const open = ({ limit = 2, deps = {} }: { limit?: number; deps?: Partial<DispatcherDeps> } = {}) => {
    ran.length = 0;
    gate = Promise.resolve();
    parts = schedulerParts({
      work: async (_input: unknown, ctx: HandlerContext) => {
        ran.push({ task: ctx.task.id, agent: ctx.agent.id });
        await gate;
        return ctx.task.id;
      },
    });
    parts.profile({ name: "w", role: "Worker", cognitiveLoadLimit: limit, runtime: { kind: "function", handler: "work" }, pool: { spawnStrategy: "manual" } });
    return parts.dispatcher(deps);
  };
  const work = (id: string, patch: Partial<Task> = {}): Task => task(`task_${id}`, { role: "Worker", ...patch });
  const done = (t: Task) => until(() => t.state === "SUCCEEDED", `${t.id} SUCCEEDED`, 10_000);

  it("gives a task to the least-loaded free agent", async () => {
    const dispatcher = open();
    // b first: a, freed last, is the balancer's "recent" hint, so only the load can make it pick b.
    const b = await parts.spawn("w", "b");
    const a = await parts.spawn("w", "a");
    closeGate();
    // Addressed to a: a holds one of its two slots, b none.
    const first = work("first", { targetAgentId: a.id });
    dispatcher.enqueue(first);
    const second = work("second");
    dispatcher.enqueue(second);
    assert.deepEqual([first.agentId, second.agentId], [a.id, b.id]);
    assert.deepEqual([a.load, b.load, dispatcher.running, dispatcher.queued], [1, 1, 2, 0]);
    release();
    await done(first);
    await done(second);
    assert.deepEqual([a.load, b.load, a.state, b.state], [0, 0, "READY", "READY"]);
  });

  it("rotates through the free agents in id order with the round-robin balancer", async () => {
    const dispatcher = open();
    const agents = [await parts.spawn("w", "a"), await parts.spawn("w", "b"), await parts.spawn("w", "c")].sort((x, y) => x.id.localeCompare(y.id));
    for (let i = 0; i < 6; i++) {
      const t = work(`rr${i}`, { balancer: "round-robin" });
      dispatcher.enqueue(t);
      await done(t);
    }
    assert.deepEqual(ran.map((r) => r.agent), [...agents, ...agents].map((a) => a.id));
  });

  it("refuses a task past the lane's queue depth with QUEUE_FULL, counting places held by submits under way", () => {
    const dispatcher = open({ deps: { queueDepth: () => 2 } });
    const waiting = work("q1");
    dispatcher.reserve(waiting);
    dispatcher.enqueue(waiting);
    // Admitted, not yet enqueued (its submit is being written).
    const accepting = work("q2");
    dispatcher.reserve(accepting);
    const third = work("q3");
    assert.throws(() => dispatcher.reserve(third), (error: unknown) => {
      assert.equal((error as { code?: string }).code, "QUEUE_FULL");
      assert.match((error as Error).message, /^the queue for this task already holds 2 task\(s\), its limit of 2; retry in \d+ s$/);
      assert.equal((error as { details?: { depth?: number } }).details?.depth, 2);
      return true;
    });
    assert.equal(dispatcher.queued, 1);
    // A place held by a submit that was not accepted after all is given back.
    dispatcher.unreserve(accepting);
    dispatcher.reserve(third);
    dispatcher.enqueue(third);
    assert.equal(dispatcher.queued, 2);
  });

  it("keeps an affinity key on its agent: a second task waits for that agent rather than take a free one", async () => {
    const dispatcher = open({ limit: 1 });
    const x = await parts.spawn("w", "x");
    const y = await parts.spawn("w", "y");
    const first = work("k1", { affinityKey: "k" });
    dispatcher.enqueue(first);
    await done(first);
    const bound = first.agentId as string;
    const other = bound === x.id ? y : x;
    // Its agent is busy (one slot, taken by a task addressed to it); the other is free.
    closeGate();
    const busy = work("busy", { targetAgentId: bound });
    dispatcher.enqueue(busy);
    const second = work("k2", { affinityKey: "k" });
    dispatcher.enqueue(second);
    assert.deepEqual([second.state, dispatcher.waitingFor(bound), other.load], ["QUEUED", 1, 0]);
    release();
    await done(second);
    assert.equal(second.agentId, bound);
    assert.deepEqual(ran.filter((r) => r.agent === other.id), []);
  });

  it("cancels a waiting task: CANCELLED with TASK_CANCELLED, reported final once, never run", async () => {
    const finals: Task[] = [];
    const dispatcher = open({ deps: { onFinal: (t) => finals.push(t) } });
    const waiting = work("c1");
    dispatcher.enqueue(waiting);
    assert.equal(dispatcher.queued, 1);
    dispatcher.cancel(waiting, "changed my mind");
    assert.deepEqual([waiting.state, waiting.error, dispatcher.queued], ["CANCELLED", { code: "TASK_CANCELLED", message: "changed my mind" }, 0]);
    assert.deepEqual(finals, [waiting]);
    // An agent that turns up afterwards finds nothing to run.
    const agent = await parts.spawn("w");
    assert.deepEqual([ran, agent.load, agent.state], [[], 0, "READY"]);
    assert.deepEqual(movesOf(parts.emitted, waiting), ["QUEUED→CANCELLED"]);
  });
});
