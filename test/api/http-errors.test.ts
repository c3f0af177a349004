// Pins the HTTP status of every error code — the factory's, by family and exception, and the HTTP layer's own — and the one wire shape both kinds answer with.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HTTP_ERROR_CODES, HttpError } from "../../src/api/http-error.ts";
import { statusFor, toErrorResponse } from "../../src/api/http-errors.ts";
import { ERROR_FAMILIES, type ErrorFamily, FactoryError } from "../../src/core/errors.ts";

/**
 * The statuses the API has always answered with: the flat map this one replaced, code for code.
 * Marked: the ones an API, client or factory test also asserts over HTTP.
 */
const ALWAYS: Record<string, number> = {
  VALIDATION_FAILED: 400, // test/api/http.test.ts, test/client/client.test.ts
  MALFORMED_JSON: 400, // test/api/http.test.ts
  UNKNOWN_HANDLER: 400, // test/api/http.test.ts
  UNAUTHORIZED: 401, // test/client/client.test.ts
  FORBIDDEN_HOST: 403, // test/api/host-guard.test.ts
  FORBIDDEN_ORIGIN: 403, // test/api/host-guard.test.ts
  NOT_YOUR_TASK: 403,
  FORBIDDEN: 403, // test/api/keys.test.ts: a role too low
  CROSS_CREW: 403, // test/api/keys.test.ts: another crew's thing, or a crewless one, for a crew-limited key
  NOT_FOUND: 404, // test/api/http.test.ts
  PROFILE_NOT_FOUND: 404, // test/api/http.test.ts
  AGENT_NOT_FOUND: 404, // test/api/http.test.ts
  CREW_NOT_FOUND: 404, // test/api/http.test.ts
  TASK_NOT_FOUND: 404, // test/api/http.test.ts, test/client/client.test.ts
  TOOL_NOT_FOUND: 404, // test/tools/tools-api.test.ts
  CHAOS_DISABLED: 404,
  ILLEGAL_TRANSITION: 409, // test/api/http.test.ts
  CREW_NOT_ACTIVE: 409,
  TASK_ALREADY_FINAL: 409,
  TASK_NOT_DEAD: 409, // test/api/http.test.ts
  AGENT_BUSY: 409, // test/health/hibernation.test.ts
  TASK_CANCELLED: 409,
  NODE_ID_TAKEN: 409, // test/adapters/redis-membership.test.ts, test/factory/nodes.test.ts
  IDEMPOTENCY_KEY_REUSED: 409, // test/api/keys.test.ts
  QUEUE_FULL: 429, // test/api/http.test.ts
  PAYLOAD_TOO_LARGE: 413, // test/api/http.test.ts, test/api/body-limit.test.ts
  UNSUPPORTED_MEDIA_TYPE: 415, // test/api/http.test.ts
  NO_SUCH_TARGET: 422,
  AGENT_START_FAILED: 422,
  CREW_ASSEMBLY_FAILED: 422,
  TASK_FAILED: 422,
  TASK_TIMEOUT: 422,
  TASK_STUCK: 422,
  RESULT_NOT_SERIALIZABLE: 422,
  RESULT_TOO_LARGE: 422,
  SANDBOX_UNAVAILABLE: 422,
  PROTOCOL_ERROR: 422,
  MODEL_UNKNOWN: 422,
  LLM_MAX_STEPS: 422,
  INSUFFICIENT_CREDITS: 402, // test/api/ledger.test.ts
  BUDGET_EXCEEDED: 402,
  AGENT_LOST: 503,
  MODEL_UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
  STORE_UNAVAILABLE: 503, // test/factory/store-full.test.ts
  STORE_LOCKED: 503,
  NODE_FENCED: 503,
  NODE_UNAVAILABLE: 503,
  STORE_DAMAGED: 503,
  BUS_UNAVAILABLE: 503, // test/adapters/redis-bus.test.ts
  MEMBERSHIP_UNAVAILABLE: 503, // test/adapters/redis-membership.test.ts
  INTERNAL: 500,
};

describe("HTTP statuses of error codes", () => {
  const codes = [...(Object.keys(ERROR_FAMILIES) as ErrorFamily[]).flatMap((family) => ERROR_FAMILIES[family]), ...HTTP_ERROR_CODES];

  it("gives every code, the factory's and the HTTP layer's, the status the API has always answered with", () => {
    assert.deepEqual(Object.fromEntries(codes.map((code) => [code, statusFor(code)])), ALWAYS);
    assert.deepEqual([...codes].sort(), Object.keys(ALWAYS).sort());
  });

  it("answers 500 for a code it does not know, a name off Object.prototype included", () => {
    for (const code of ["NOPE", "toString", "__proto__", "constructor"]) assert.equal(statusFor(code), 500, code);
  });

  it("an HttpError answers with a FactoryError's wire shape, key for key", () => {
    const options = { field: "Host", details: { header: "Host", value: "evil.example" } };
    const http = toErrorResponse(new HttpError("FORBIDDEN_HOST", "Host: 'evil.example' is not a name of this server", options));
    assert.deepEqual(http, { status: 403, body: { error: { code: "FORBIDDEN_HOST", message: "Host: 'evil.example' is not a name of this server", field: "Host", details: { header: "Host", value: "evil.example" } } } });
    const factory = toErrorResponse(new FactoryError("CREW_NOT_FOUND", "no crew with id 'crew_x'", { field: "crewId" }));
    assert.deepEqual(factory, { status: 404, body: { error: { code: "CREW_NOT_FOUND", message: "no crew with id 'crew_x'", field: "crewId" } } });
    assert.deepEqual(Object.keys(http.body.error), ["code", "message", "field", "details"]);
    assert.deepEqual(toErrorResponse(new HttpError("PAYLOAD_TOO_LARGE", "too big")).body, { error: { code: "PAYLOAD_TOO_LARGE", message: "too big" } });
  });

  it("anything else thrown is 500 INTERNAL and says nothing of its internals", () => {
    assert.deepEqual(toErrorResponse(new Error("secret path /etc/x")), { status: 500, body: { error: { code: "INTERNAL", message: "internal error; see the server log" } } });
    assert.deepEqual(toErrorResponse("a string"), { status: 500, body: { error: { code: "INTERNAL", message: "internal error; see the server log" } } });
  });
});
