// Pins the scheduler's small parts: affinity bindings (TTL, LRU bound), backoff bounds, lane order.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AffinityTable } from "../../src/scheduler/affinity-table.ts";
import { backoffDelayMs, MAX_BACKOFF_MS } from "../../src/scheduler/backoff.ts";
import { Lane } from "../../src/scheduler/lane.ts";
import { task } from "../conformance/store.conformance.ts";

describe("affinity table", () => {
  it("keeps a binding while it is used within its TTL, and forgets it after", () => {
    const table = new AffinityTable({ ttlMs: 100, maxBindings: 10 });
    table.bind("k", "agent_a", 0);
    assert.equal(table.get("k", 90), "agent_a");
    assert.equal(table.get("k", 180), "agent_a", "each use extends it");
    assert.equal(table.get("k", 281), undefined);
    assert.equal(table.size, 0);
  });

  it("evicts the least recently used binding past its bound", () => {
    const table = new AffinityTable({ ttlMs: 10_000, maxBindings: 2 });
    table.bind("a", "agent_1", 0);
    table.bind("b", "agent_2", 0);
    table.get("a", 1); // a is now the most recent
    table.bind("c", "agent_3", 2);
    assert.deepEqual([table.get("a", 3), table.get("b", 3), table.get("c", 3)], ["agent_1", undefined, "agent_3"]);
    assert.equal(table.evictions, 1);
  });

  it("drops every binding of an agent that is gone", () => {
    const table = new AffinityTable({ ttlMs: 10_000, maxBindings: 10 });
    table.bind("a", "agent_1", 0);
    table.bind("b", "agent_1", 0);
    table.bind("c", "agent_2", 0);
    assert.equal(table.countFor("agent_1"), 2);
    table.forgetAgent("agent_1");
    assert.deepEqual([table.get("a", 1), table.get("b", 1), table.get("c", 1)], [undefined, undefined, "agent_2"]);
  });
});

describe("backoff", () => {
  it("doubles per attempt within [half, full] of the ceiling, capped at 60 s", () => {
    for (const [attempt, ceiling] of [[1, 100], [2, 200], [3, 400], [20, MAX_BACKOFF_MS]] as const) {
      assert.equal(backoffDelayMs(100, attempt, () => 0), ceiling / 2);
      assert.equal(backoffDelayMs(100, attempt, () => 1), ceiling);
    }
    assert.equal(backoffDelayMs(0, 5), 0);
  });
});

describe("lane", () => {
  it("hands out priority 0 first and first-in-first-out within a priority", () => {
    const lane = new Lane({ crewId: null, role: "Coder", profile: null, capabilities: [], agentId: null });
    lane.push(task("low1", { priority: 5 }), 1);
    lane.push(task("low2", { priority: 5 }), 2);
    lane.push(task("high", { priority: 0 }), 3);
    lane.push(task("mid", { priority: 2 }), 4);
    assert.equal(lane.peek()?.task.id, "high");
    assert.deepEqual([lane.shift(), lane.shift(), lane.shift(), lane.shift()].map((t) => t?.id), ["high", "mid", "low1", "low2"]);
    assert.equal(lane.size, 0);
  });
});
