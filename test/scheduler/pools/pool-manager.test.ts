// Pins the pool manager alone (no factory): a warm pool below its warm size spawns through its hook; scale-down retires idle agents, oldest first, down to the pool's size.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { Agent } from "../../../src/core/agent.ts";
import { PoolManager } from "../../../src/scheduler/pools/pool-manager.ts";
import { task } from "../../conformance/store.conformance.ts";
import { until } from "../../helpers.ts";
import { schedulerParts, type Parts } from "../parts.ts";

describe("pool manager alone", () => {
  let parts: Parts;
  let pools: PoolManager;
  let release: () => void = () => {};
  afterEach(async () => {
    pools.stop();
    release();
    await parts.close();
    assert.deepEqual(parts.errors, []);
  });

  const spawned: string[] = [];
  const terminated: Array<{ agent: Agent; reason: string }> = [];
  /** Parts, a dispatcher, and a pool manager with no scaling policies whose rounds the test drives. */
  const open = () => {
    spawned.length = 0;
    terminated.length = 0;
    const gate = new Promise<void>((resolve) => (release = resolve));
    parts = schedulerParts({
      held: async () => {
        await gate;
        return "ok";
      },
    });
    const dispatcher = parts.dispatcher();
    pools = new PoolManager({
      profiles: parts.profiles,
      registry: parts.registry,
      dispatcher,
      events: parts.events,
      spawn: (profile, reason) => {
        spawned.push(reason);
        return parts.spawner.spawn(profile, { reason });
      },
      clone: (source, reason) => parts.spawner.spawn(parts.profiles.require(source.profile), { reason, context: source.context }),
      terminate: (agent, reason) => {
        terminated.push({ agent, reason });
        parts.spawner.terminate(agent, reason);
      },
      onError: (_message, error) => parts.errors.push(error),
      policies: [],
      tickMs: 20,
      stabilizationMs: 0,
    });
    return dispatcher;
  };
  const live = (profile: string): Agent[] => [...parts.registry.values()].filter((a) => a.profile === profile);

  it("spawns a warm pool below its warm size up to it through the spawn hook, and no further", async () => {
    open();
    const profile = parts.profile({ name: "warm", role: "Warm", runtime: { kind: "function", handler: "held" }, pool: { spawnStrategy: "warm-pool", warmSize: 2, maxSize: 4, spawnRatePerSec: 1_000 } });
    pools.tick();
    assert.deepEqual(spawned, ["warm-pool: growing to 2", "warm-pool: growing to 2"]);
    await until(() => live("warm").filter((a) => a.state === "READY").length === 2, "two READY agents", 10_000);
    pools.tick();
    assert.equal(spawned.length, 2);
    const view = pools.view(profile);
    assert.deepEqual([view.size, view.target, view.spawning, view.states], [2, 2, 0, { READY: 2 }]);
  });

  it("retires idle agents, longest idle first, down to the pool's size, and never a working one", async () => {
    const dispatcher = open();
    const profile = parts.profile({ name: "od", role: "Od", runtime: { kind: "function", handler: "held" }, pool: { spawnStrategy: "on-demand", warmSize: 2, maxSize: 8, idleTimeoutMs: 0 } });
    const [a, b, c, d] = [await parts.spawn("od", "a"), await parts.spawn("od", "b"), await parts.spawn("od", "c"), await parts.spawn("od", "d")] as [Agent, Agent, Agent, Agent];
    dispatcher.enqueue(task("task_busy", { role: "Od", targetAgentId: d.id }));
    assert.equal(d.state, "BUSY");
    pools.tick();
    // Four live, two kept: the two idle longest go; the busy one is never a candidate.
    assert.deepEqual(terminated.map((t) => t.agent), [a, b]);
    for (const { reason } of terminated) assert.match(reason, /^idle for \d+ ms, above the pool's 2$/);
    assert.deepEqual([a.state, b.state, c.state, d.state], ["TERMINATED", "TERMINATED", "IDLE", "BUSY"]);
    assert.deepEqual(spawned, []);
    const view = pools.view(profile);
    assert.deepEqual([view.size, view.states], [2, { IDLE: 1, BUSY: 1 }]);
  });
});
