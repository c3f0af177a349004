// Pins WORKING_STATES: the agent states that take work are READY, BUSY and IDLE, and isWorkingState says so for any string.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AGENT_STATES, isWorkingState, LIVE_STATES, WORKING_STATES } from "../../src/core/lifecycle.ts";

describe("working states", () => {
  it("are READY, BUSY and IDLE", () => {
    assert.deepEqual(WORKING_STATES, ["READY", "BUSY", "IDLE"]);
  });

  it("isWorkingState holds for exactly those agent states", () => {
    assert.deepEqual(AGENT_STATES.filter(isWorkingState), ["READY", "BUSY", "IDLE"]);
  });

  it("isWorkingState is false for strings that are no agent state", () => {
    assert.equal(isWorkingState("ready"), false);
    assert.equal(isWorkingState(""), false);
    assert.equal(isWorkingState("ACTIVE"), false);
  });

  it("every working state is live (holds resources)", () => {
    for (const state of WORKING_STATES) assert.equal(LIVE_STATES.has(state), true, state);
  });
});
