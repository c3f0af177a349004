// Pins the audit trail's rate: each caller's refusals are recorded as events up to a burst, then at a steady rate; those left out are counted in the next one recorded, and one caller's storm does not silence another.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DenialLog, type Denial } from "../../src/security/denial-log.ts";

describe("the denial log", () => {
  it("records a burst, then the rate; the next recorded refusal counts those left out; callers are apart", () => {
    let now = 1_000_000;
    const recorded: Array<{ caller: unknown; suppressed: unknown }> = [];
    const log = new DenialLog({ perSecond: 5, burst: 20, now: () => now, emit: (d: Denial) => recorded.push({ caller: d.data.keyId, suppressed: d.data.suppressed }) });
    const refuse = (keyId: string) => log.record(keyId, { data: { keyId, code: "FORBIDDEN" } });
    const first = Array.from({ length: 100 }, () => refuse("k1"));
    assert.equal(first.filter(Boolean).length, 20, "the burst, in the same instant");
    assert.equal(refuse("k2"), true, "another caller is not silenced");
    now += 1_000; // five more a second
    const later = Array.from({ length: 10 }, () => refuse("k1"));
    assert.deepEqual(later.map(Boolean), [true, true, true, true, true, false, false, false, false, false]);
    const k1 = recorded.filter((r) => r.caller === "k1");
    assert.equal(k1.length, 25);
    // The first recorded after the storm says 80 were left out; the rest none.
    assert.deepEqual(k1.slice(20).map((r) => r.suppressed), [80, undefined, undefined, undefined, undefined]);
    now += 10_000;
    assert.equal(refuse("k1"), true);
    assert.equal(recorded.at(-1)?.suppressed, 5);
  });
});

describe("the denial log's size", () => {
  it("keeps at most 300 characters of any string the caller chose, 20 items of a list", () => {
    const recorded: Denial[] = [];
    const log = new DenialLog({ emit: (d) => recorded.push(d) });
    log.record("k", { crewId: "c".repeat(1_000_000), data: { keyId: "k", reason: `crewId ${"x".repeat(4_000_000)} is not yours`, crews: Array.from({ length: 100 }, (_, i) => `crew_${i}`), details: { blob: "y".repeat(10_000) } } });
    const [d] = recorded as [Denial];
    assert.ok(JSON.stringify(d).length < 2_500, `kept ${JSON.stringify(d).length} characters`);
    assert.match(String(d.data.reason), /^crewId x{293}… \(4000020 characters\)$/);
    assert.equal((d.data.crews as string[]).length, 20);
    assert.equal(d.data.details, "[10011 characters left out]");
    assert.equal(d.crewId?.length, 300 + "… (1000000 characters)".length);
  });
});
