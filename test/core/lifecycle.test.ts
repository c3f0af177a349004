// Pins the agent lifecycle table: every legal move allowed, every other one rejected with a 409-class error naming both states.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FactoryError } from "../../src/core/errors.ts";
import { AGENT_STATES, AGENT_TRANSITIONS, assertTransition, canTransition, LIVE_STATES } from "../../src/core/lifecycle.ts";

const LEGAL: Array<[string, string]> = [
  ["PROVISIONING", "WARMING"],
  ["PROVISIONING", "UNHEALTHY"],
  ["PROVISIONING", "TERMINATED"],
  ["WARMING", "READY"],
  ["WARMING", "UNHEALTHY"],
  ["WARMING", "TERMINATED"],
  ["READY", "BUSY"],
  ["READY", "IDLE"],
  ["READY", "DRAINING"],
  ["READY", "UNHEALTHY"],
  ["BUSY", "READY"],
  ["BUSY", "DRAINING"],
  ["BUSY", "UNHEALTHY"],
  ["IDLE", "READY"],
  ["IDLE", "BUSY"],
  ["IDLE", "HIBERNATING"],
  ["IDLE", "DRAINING"],
  ["IDLE", "UNHEALTHY"],
  ["HIBERNATING", "WARMING"],
  ["HIBERNATING", "TERMINATED"],
  ["DRAINING", "TERMINATED"],
  ["DRAINING", "UNHEALTHY"],
  ["UNHEALTHY", "PROVISIONING"],
  ["UNHEALTHY", "TERMINATED"],
];

describe("agent lifecycle", () => {
  it("has the nine states of DESIGN.md", () => {
    assert.deepEqual([...AGENT_STATES].sort(), ["BUSY", "DRAINING", "HIBERNATING", "IDLE", "PROVISIONING", "READY", "TERMINATED", "UNHEALTHY", "WARMING"]);
  });

  it("allows exactly the listed transitions", () => {
    const table = AGENT_STATES.flatMap((from) => AGENT_TRANSITIONS[from].map((to) => `${from}->${to}`)).sort();
    assert.deepEqual(table, LEGAL.map(([f, t]) => `${f}->${t}`).sort());
  });

  for (const from of AGENT_STATES) {
    for (const to of AGENT_STATES) {
      const legal = LEGAL.some(([f, t]) => f === from && t === to);
      it(`${from} → ${to} is ${legal ? "legal" : "rejected"}`, () => {
        assert.equal(canTransition(from, to), legal);
        if (legal) {
          assertTransition(from, to);
        } else {
          assert.throws(
            () => assertTransition(from, to, "agent_x"),
            (error: unknown) =>
              error instanceof FactoryError &&
              error.code === "ILLEGAL_TRANSITION" &&
              error.message === `agent agent_x cannot go from ${from} to ${to}` &&
              error.details?.current === from &&
              error.details?.requested === to,
          );
        }
      });
    }
  }

  it("lets every live state fall UNHEALTHY, and nothing leaves TERMINATED", () => {
    for (const state of LIVE_STATES) assert.equal(canTransition(state, "UNHEALTHY"), true, state);
    assert.deepEqual(AGENT_TRANSITIONS.TERMINATED, []);
  });
});
