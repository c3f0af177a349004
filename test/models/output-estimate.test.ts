// Pins the answer-length estimate the budget guard sizes tight calls by: the longest of a model's last 32 answers plus 50 %, per model; answers cut short by a lowered cap are not counted.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OutputEstimate } from "../../src/models/output-estimate.ts";

describe("output estimate", () => {
  it("knows nothing of a model before its first answer, then the longest recent answer plus 50 %", () => {
    const estimate = new OutputEstimate();
    assert.equal(estimate.expected("m"), undefined);
    estimate.record("m", 10, 1_024, 1_024);
    estimate.record("m", 15, 1_024, 1_024);
    estimate.record("m", 7, 1_024, 1_024);
    assert.equal(estimate.expected("m"), 23);
    assert.equal(estimate.expected("other"), undefined);
  });

  it("forgets answers older than the last 32", () => {
    const estimate = new OutputEstimate();
    estimate.record("m", 400, 1_024, 1_024);
    for (let i = 0; i < 31; i++) estimate.record("m", 20, 1_024, 1_024);
    assert.equal(estimate.expected("m"), 600);
    estimate.record("m", 20, 1_024, 1_024);
    assert.equal(estimate.expected("m"), 30);
  });

  it("does not count an answer that filled a cap lowered below what was asked", () => {
    const estimate = new OutputEstimate();
    estimate.record("m", 20, 1_024, 1_024);
    estimate.record("m", 4, 4, 1_024);
    assert.equal(estimate.expected("m"), 30);
    // Under a lowered cap it did not reach, an answer is its natural length.
    estimate.record("m", 30, 40, 1_024);
    assert.equal(estimate.expected("m"), 45);
    // Filling the full maximum asked still counts: that is the model's habit.
    estimate.record("m", 100, 100, 100);
    assert.equal(estimate.expected("m"), 150);
  });
});
