// Pins that a crew's whole life runs through CREW_TRANSITIONS: each move is emitted as one crew.state event, every one of them in the table, and PAUSE/RESUME that do not apply change nothing.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { canCrewTransition, type CrewState } from "../../src/core/crew-states.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { testFactory, until } from "../helpers.ts";

describe("crew transitions", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  beforeEach(async () => {
    ({ factory, close } = await testFactory({
      handlers: {
        broken: { init: () => Promise.reject(new Error("cannot start")), run: (input) => input },
      },
    }));
    factory.registerProfile({ name: "coder", role: "Coder", pool: { spawnStrategy: "manual" } });
  });
  afterEach(async () => close());

  const moves = async (crewId: string) =>
    (await factory.listEvents({ crewId, types: ["crew.state"] })).map((e) => [e.from ?? null, e.to] as const);

  it("assemble, PAUSE twice, RESUME twice, disband: one event per move, each move legal", async () => {
    const { crew } = await factory.assembleCrew({ name: "life", members: [{ profile: "coder" }] });
    await factory.broadcast(crew.id, "PAUSE");
    await factory.broadcast(crew.id, "PAUSE");
    assert.equal((await factory.getCrew(crew.id)).state, "PAUSED", "a second PAUSE is only delivered");
    await factory.broadcast(crew.id, "RESUME");
    await factory.broadcast(crew.id, "RESUME");
    assert.equal((await factory.getCrew(crew.id)).state, "ACTIVE", "a second RESUME is only delivered");
    await factory.disbandCrew(crew.id);
    await until(async () => (await factory.getCrew(crew.id)).state === "DISBANDED", "crew DISBANDED");

    const seen = await moves(crew.id);
    assert.deepEqual(seen, [
      [null, "ASSEMBLING"],
      ["ASSEMBLING", "ACTIVE"],
      ["ACTIVE", "PAUSED"],
      ["PAUSED", "ACTIVE"],
      ["ACTIVE", "DISBANDING"],
      ["DISBANDING", "DISBANDED"],
    ]);
    for (const [from, to] of seen.slice(1)) assert.equal(canCrewTransition(from as CrewState, to as CrewState), true, `${from} → ${to}`);
  });

  it("a paused crew disbands from PAUSED", async () => {
    const { crew } = await factory.assembleCrew({ name: "paused", members: [{ profile: "coder" }] });
    await factory.broadcast(crew.id, "PAUSE");
    await factory.disbandCrew(crew.id);
    await until(async () => (await factory.getCrew(crew.id)).state === "DISBANDED", "crew DISBANDED");
    assert.deepEqual((await moves(crew.id)).slice(2), [
      ["ACTIVE", "PAUSED"],
      ["PAUSED", "DISBANDING"],
      ["DISBANDING", "DISBANDED"],
    ]);
  });

  it("a failed assembly goes straight from ASSEMBLING to DISBANDED", async () => {
    await assert.rejects(
      factory.assembleCrew({ name: "doomed", members: [{ config: { name: "b", role: "Broken", runtime: { kind: "function", handler: "broken" } } }] }),
      { code: "CREW_ASSEMBLY_FAILED" },
    );
    const [doomed] = await factory.listCrews({ state: "DISBANDED" });
    assert.deepEqual(await moves(doomed?.id as string), [
      [null, "ASSEMBLING"],
      ["ASSEMBLING", "DISBANDED"],
    ]);
  });
});
