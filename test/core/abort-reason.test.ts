// Pins the abort reasons: not FactoryErrors a handler could throw, converted to a task's error in one place, with the codes tasks have always recorded.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ABORT_KINDS, abortError, AbortReason, isAbortEcho, isAbortReason } from "../../src/core/abort-reason.ts";
import { FactoryError, familyOf, isFactoryError } from "../../src/core/errors.ts";

describe("abort reasons", () => {
  it("is an Error a handler can reject with, but not a FactoryError", () => {
    const reason = new AbortReason("cancelled", "cancelled by request");
    assert.ok(reason instanceof Error);
    assert.equal(isFactoryError(reason), false);
    assert.equal(isAbortReason(reason), true);
    assert.deepEqual([reason.name, reason.kind, reason.message], ["AbortReason", "cancelled", "cancelled by request"]);
  });

  it("is what an aborted signal carries, unchanged", () => {
    const controller = new AbortController();
    const reason = new AbortReason("timeout", "task task_x ran past its timeout of 50 ms");
    controller.abort(reason);
    assert.equal(controller.signal.reason, reason);
  });

  it("converts each kind to the code and message its task records", () => {
    const converted = ABORT_KINDS.map((kind) => {
      const error = abortError(new AbortReason(kind, `why: ${kind}`));
      assert.ok(error instanceof FactoryError);
      assert.equal(error.message, `why: ${kind}`);
      assert.equal(error.nonRetryable, false);
      return [kind, error.code, familyOf(error.code)];
    });
    assert.deepEqual(converted, [
      ["cancelled", "TASK_CANCELLED", "task"],
      ["timeout", "TASK_TIMEOUT", "task"],
      ["stuck", "TASK_STUCK", "task"],
      ["agent-lost", "AGENT_LOST", "runtime"],
      ["shutting-down", "SHUTTING_DOWN", "capacity"],
    ]);
  });

  it("recognises the echo of an abort: the reason thrown back, or a runtime's error for the same cause — not a handler's own failure", () => {
    for (const kind of ABORT_KINDS) assert.equal(isAbortEcho(new AbortReason(kind, "x")), true, kind);
    for (const code of ["AGENT_LOST", "TASK_CANCELLED", "TASK_TIMEOUT", "TASK_STUCK", "SHUTTING_DOWN"] as const) assert.equal(isAbortEcho(new FactoryError(code, "x")), true, code);
    assert.equal(isAbortEcho(new FactoryError("TASK_FAILED", "the handler failed")), false);
    assert.equal(isAbortEcho(new Error("boom")), false);
    assert.equal(isAbortEcho(undefined), false);
  });

  it("recognises an AbortReason from another copy of the module by its name and kind", () => {
    const foreign = Object.assign(new Error("stuck"), { name: "AbortReason", kind: "stuck" });
    assert.equal(isAbortReason(foreign), true);
    assert.equal(isAbortReason(Object.assign(new Error("x"), { name: "AbortReason" })), false);
  });
});
