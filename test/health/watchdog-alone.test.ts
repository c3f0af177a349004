// Pins the watchdog alone (no factory): a silent agent goes to its replace hook as `silent`, an idle one past hibernateAfterMs to its hibernate hook.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { Agent } from "../../src/core/agent.ts";
import { Watchdog, type WatchdogDeps } from "../../src/health/watchdog.ts";
import { task } from "../conformance/store.conformance.ts";
import { until } from "../helpers.ts";
import { schedulerParts, type Parts } from "../scheduler/parts.ts";

describe("watchdog alone", () => {
  let parts: Parts;
  let watchdog: Watchdog;
  let release: () => void = () => {};
  afterEach(async () => {
    watchdog.stop();
    release();
    await parts.close();
    assert.deepEqual(parts.errors, []);
  });

  const replaced: Array<{ agent: Agent; reason: string; kind: string; silence: { silentMs: number; neverHeard: boolean } | undefined }> = [];
  const hibernated: Array<{ agent: Agent; reason: string }> = [];
  /** Parts whose agents the watchdog learns of as they start, a dispatcher, and a watchdog with 10 ms rounds. */
  const open = () => {
    replaced.length = 0;
    hibernated.length = 0;
    const gate = new Promise<void>((resolve) => (release = resolve));
    parts = schedulerParts(
      {
        // Answers its probes with "not alive".
        mute: { run: () => "ok", probe: () => false },
        held: async () => {
          await gate;
          return "ok";
        },
      },
      { onStarted: (agent, handle, profile) => watchdog.attach(agent, handle, profile) },
    );
    const dispatcher = parts.dispatcher();
    const deps: WatchdogDeps = {
      registry: parts.registry,
      dispatcher,
      runner: dispatcher.runner,
      events: parts.events,
      profileOf: (agent) => parts.profiles.version(agent.profile, agent.profileVersion),
      replace: (agent, reason, kind, silence) => replaced.push({ agent, reason, kind, silence }),
      hibernate: (agent, reason) => hibernated.push({ agent, reason }),
      onError: (_message, error) => parts.errors.push(error),
      tickMs: 10,
    };
    watchdog = new Watchdog(deps);
    return dispatcher;
  };

  it("takes an agent that fails a probe out of matching, and reports it to replace as silent once it misses missedHeartbeats", async () => {
    const dispatcher = open();
    parts.profile({ name: "mute", role: "Mute", runtime: { kind: "function", handler: "mute" }, pool: { spawnStrategy: "manual", healthIntervalMs: 10 }, health: { missedHeartbeats: 2 } });
    const agent = await parts.spawn("mute");
    assert.deepEqual([watchdog.watched, dispatcher.availableAgents], [1, 1]);
    watchdog.start();
    await until(() => replaced.length > 0, "the replace hook", 10_000);
    const notReady = parts.emitted.filter((e) => e.type === "agent.health" && e.agentId === agent.id).map((e) => [e.data?.reason, e.data?.missed]);
    assert.deepEqual(notReady, [["missed a heartbeat: not ready", 1]]);
    assert.equal(replaced.length, 1);
    const [report] = replaced;
    assert.deepEqual([report?.agent, report?.kind, report?.reason, report?.silence?.neverHeard], [agent, "silent", "missed 2 heartbeat interval(s) of 10 ms: 2 probe(s) failed in a row", true]);
    assert.ok((report?.silence?.silentMs ?? 0) >= 10);
    // Not ready since its first miss; no longer watched once reported.
    assert.deepEqual([agent.health.missed, dispatcher.availableAgents, watchdog.watched], [2, 0, 0]);
  });

  it("passes an agent idle past its hibernateAfterMs to hibernate, and not one that is working", async () => {
    const dispatcher = open();
    parts.profile({ name: "held", role: "Held", runtime: { kind: "function", handler: "held" }, pool: { spawnStrategy: "manual", hibernateAfterMs: 50 } });
    const before = Date.now();
    const idle = await parts.spawn("held", "idle");
    const working = await parts.spawn("held", "working");
    dispatcher.enqueue(task("task_held", { role: "Held", targetAgentId: working.id }));
    assert.deepEqual([working.load, idle.load], [1, 0]);
    // Rounds driven by hand: at most 40 ms after both became idle, nobody is due yet.
    watchdog.tick(before + 40);
    assert.equal(hibernated.length, 0);
    // Hibernation rounds run at most once a second.
    watchdog.tick(before + 1_100);
    assert.equal(hibernated.length, 1);
    assert.equal(hibernated[0]?.agent, idle);
    assert.match(hibernated[0]?.reason ?? "", /^idle for \d+ ms \(hibernateAfterMs 50\)$/);
    // Not asked again within the same second, though it is still awake (the hook only records).
    watchdog.tick(before + 1_200);
    assert.equal(hibernated.length, 1);
  });
});
