// Pins the error-code families: each code in exactly one family, and the helpers that test membership agree with the table.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HTTP_ERROR_CODES, type HttpErrorCode } from "../../src/api/http-error.ts";
import { ERROR_FAMILIES, type ErrorCode, type ErrorFamily, FactoryError, familyOf, isErrorCode, isFactoryError, isInFamily } from "../../src/core/errors.ts";

const FAMILIES = Object.keys(ERROR_FAMILIES) as ErrorFamily[];
const CODES: ErrorCode[] = FAMILIES.flatMap((family) => [...ERROR_FAMILIES[family]]);

// Compile-time: no code is both a FactoryError code and an HTTP-only one, so the core cannot
// construct an HTTP-only error (`new FactoryError("UNAUTHORIZED", …)` does not compile).
const disjoint: [Extract<ErrorCode, HttpErrorCode>] extends [never] ? true : false = true;

describe("error code families", () => {
  it("puts every code in exactly one family", () => {
    const seen = new Map<string, ErrorFamily[]>();
    for (const family of FAMILIES) for (const code of ERROR_FAMILIES[family]) seen.set(code, [...(seen.get(code) ?? []), family]);
    const twice = [...seen].filter(([, families]) => families.length > 1);
    assert.deepEqual(twice, []);
    assert.equal(seen.size, CODES.length);
  });

  it("familyOf names the family that lists the code, and isInFamily agrees with it", () => {
    for (const family of FAMILIES) {
      for (const code of ERROR_FAMILIES[family]) {
        assert.equal(familyOf(code), family, code);
        for (const other of FAMILIES) assert.equal(isInFamily(code, other), other === family, `${code} in ${other}`);
      }
    }
  });

  it("isErrorCode knows every code and nothing else: not the HTTP-only codes, not a name off Object.prototype", () => {
    for (const code of CODES) assert.equal(isErrorCode(code), true, code);
    for (const code of HTTP_ERROR_CODES) assert.equal(isErrorCode(code), false, code);
    for (const text of ["", "toString", "__proto__", "not_found", "HTTP_404"]) assert.equal(isErrorCode(text), false, text);
    assert.equal(disjoint, true);
  });

  it("keeps the codes the factory has always had, now grouped (the HTTP-only six moved to api/), BUS_UNAVAILABLE for the Redis bus, NODE_ID_TAKEN and MEMBERSHIP_UNAVAILABLE for node membership, NODE_FENCED for a node whose rows were taken over, IDEMPOTENCY_KEY_REUSED for a key another crew used, TOOL_NOT_FOUND for MCP tools", () => {
    assert.deepEqual([...CODES].sort(), [
      "AGENT_BUSY", "AGENT_LOST", "AGENT_NOT_FOUND", "AGENT_START_FAILED", "BUDGET_EXCEEDED", "BUS_UNAVAILABLE", "CHAOS_DISABLED",
      "CREW_ASSEMBLY_FAILED", "CREW_NOT_ACTIVE", "CREW_NOT_FOUND", "CROSS_CREW", "FORBIDDEN", "IDEMPOTENCY_KEY_REUSED", "ILLEGAL_TRANSITION", "INSUFFICIENT_CREDITS", "INTERNAL",
      "LLM_MAX_STEPS", "MEMBERSHIP_UNAVAILABLE", "MODEL_UNAVAILABLE", "MODEL_UNKNOWN", "NODE_FENCED", "NODE_ID_TAKEN", "NODE_UNAVAILABLE", "NOT_FOUND", "NOT_YOUR_TASK", "NO_SUCH_TARGET",
      "PROFILE_NOT_FOUND", "PROTOCOL_ERROR", "QUEUE_FULL", "RESULT_NOT_SERIALIZABLE", "RESULT_TOO_LARGE", "SANDBOX_UNAVAILABLE",
      "SHUTTING_DOWN", "STORE_DAMAGED", "STORE_LOCKED", "STORE_UNAVAILABLE", "TASK_ALREADY_FINAL", "TASK_CANCELLED",
      "TASK_FAILED", "TASK_NOT_DEAD", "TASK_NOT_FOUND", "TASK_STUCK", "TASK_TIMEOUT", "TOOL_NOT_FOUND", "UNKNOWN_HANDLER",
      "VALIDATION_FAILED",
    ]);
    assert.deepEqual([...HTTP_ERROR_CODES].sort(), ["FORBIDDEN_HOST", "FORBIDDEN_ORIGIN", "MALFORMED_JSON", "PAYLOAD_TOO_LARGE", "UNAUTHORIZED", "UNSUPPORTED_MEDIA_TYPE"]);
  });

  it("a FactoryError of any family keeps its wire shape { code, message, field?, details? }", () => {
    const error = new FactoryError("TASK_NOT_FOUND", "no task with id 'task_x'", { field: "id", details: { taskId: "task_x" } });
    assert.equal(isFactoryError(error), true);
    assert.deepEqual(JSON.parse(JSON.stringify(error)), { code: "TASK_NOT_FOUND", message: "no task with id 'task_x'", field: "id", details: { taskId: "task_x" } });
    assert.deepEqual(new FactoryError("INTERNAL", "x").toJSON(), { code: "INTERNAL", message: "x" });
  });
});
