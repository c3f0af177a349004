// Pins the crew state table: exactly the moves CrewManager makes are legal, every other one is rejected with ILLEGAL_TRANSITION naming both states.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertCrewTransition, canCrewTransition, CREW_STATES, CREW_TRANSITIONS } from "../../src/core/crew-states.ts";
import { FactoryError } from "../../src/core/errors.ts";

/** Each with the CrewManager path that makes it. */
const LEGAL: Array<[string, string]> = [
  ["ASSEMBLING", "ACTIVE"], // every member READY
  ["ASSEMBLING", "DISBANDED"], // assembly failed, or interrupted by a restart
  ["ACTIVE", "PAUSED"], // PAUSE broadcast
  ["PAUSED", "ACTIVE"], // RESUME broadcast
  ["ACTIVE", "DISBANDING"], // disband
  ["PAUSED", "DISBANDING"], // disband
  ["DISBANDING", "DISBANDED"], // every member terminated
];

describe("crew states", () => {
  it("has the five states of DESIGN.md, in the order the API lists them", () => {
    assert.deepEqual(CREW_STATES, ["ASSEMBLING", "ACTIVE", "PAUSED", "DISBANDING", "DISBANDED"]);
  });

  it("allows exactly the listed transitions", () => {
    const table = CREW_STATES.flatMap((from) => CREW_TRANSITIONS[from].map((to) => `${from}->${to}`)).sort();
    assert.deepEqual(table, LEGAL.map(([f, t]) => `${f}->${t}`).sort());
  });

  for (const from of CREW_STATES) {
    for (const to of CREW_STATES) {
      const legal = LEGAL.some(([f, t]) => f === from && t === to);
      it(`${from} → ${to} is ${legal ? "legal" : "rejected"}`, () => {
        assert.equal(canCrewTransition(from, to), legal);
        if (legal) {
          assert.equal(assertCrewTransition(from, to, "crew_x"), undefined);
        } else {
          assert.throws(
            () => assertCrewTransition(from, to, "crew_x"),
            (error: unknown) =>
              error instanceof FactoryError &&
              error.code === "ILLEGAL_TRANSITION" &&
              error.message === `crew crew_x cannot go from ${from} to ${to}` &&
              error.details?.current === from &&
              error.details?.requested === to,
          );
        }
      });
    }
  }

  it("refuses a second PAUSE, a RESUME of an active crew, and anything out of DISBANDED", () => {
    assert.throws(() => assertCrewTransition("PAUSED", "PAUSED", "crew_p"), { code: "ILLEGAL_TRANSITION", message: "crew crew_p cannot go from PAUSED to PAUSED" });
    assert.throws(() => assertCrewTransition("ACTIVE", "ACTIVE", "crew_a"), { code: "ILLEGAL_TRANSITION", message: "crew crew_a cannot go from ACTIVE to ACTIVE" });
    assert.throws(() => assertCrewTransition("ASSEMBLING", "DISBANDING", "crew_s"), { code: "ILLEGAL_TRANSITION", message: "crew crew_s cannot go from ASSEMBLING to DISBANDING" });
    assert.deepEqual(CREW_TRANSITIONS.DISBANDED, []);
  });
});
