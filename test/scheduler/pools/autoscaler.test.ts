// Pins the autoscaler: seed 002's policies as data, bounds, cooldowns, and a stabilization window that stops oscillation.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_POLICIES, evaluatePolicies, newAutoscalerState, type PoolMetrics } from "../../../src/scheduler/pools/autoscaler.ts";
import type { FactoryEvent } from "../../../src/core/events.ts";
import type { HandlerContext } from "../../../src/runtimes/function/function-handler.ts";
import { testFactory, until } from "../../helpers.ts";

const calm: PoolMetrics = { utilization: 0.5, queued: 0, queueFill: 0, forecastRatio: 0.5 };

describe("autoscaler", () => {
  it("ships seed 002's four policies with their factors, bounds and cooldowns", () => {
    assert.deepEqual(
      DEFAULT_POLICIES.map((p) => [p.name, p.factor, p.minScale ?? null, p.maxScale ?? null, p.cooldownMs]),
      [
        ["emergency-scaling", 2.0, null, 3.0, 10_000],
        ["high-demand-reactive", 1.5, null, 2.0, 60_000],
        ["predictive-scale-up", 1.3, null, 1.8, 30_000],
        ["cost-optimization", 0.9, 0.7, null, 120_000],
      ],
    );
  });

  it("scales up by the firing policy's factor within maxScale × baseline and maxSize, saying why", () => {
    const state = newAutoscalerState();
    const decision = evaluatePolicies({ policies: DEFAULT_POLICIES, metrics: { ...calm, utilization: 0.95 }, current: 4, baseline: 4, maxSize: 16, now: 0, stabilizationMs: 30_000, state });
    assert.deepEqual([decision?.policy, decision?.from, decision?.to], ["high-demand-reactive", 4, 6]);
    assert.match(decision?.reason ?? "", /utilization > 0.8 \(0\.95\)/);
    const capped = evaluatePolicies({ policies: DEFAULT_POLICIES, metrics: { ...calm, queueFill: 1 }, current: 8, baseline: 3, maxSize: 16, now: 0, stabilizationMs: 0, state: newAutoscalerState() });
    assert.deepEqual([capped?.policy, capped?.to], ["emergency-scaling", 9], "2 × 8 = 16, capped at 3 × baseline 3");
  });

  it("changes size at most once per cooldown under an oscillating load, in both directions", () => {
    const state = newAutoscalerState();
    // Up and down policies that fire at once (no forMs), with a 20 s cooldown each.
    const policies = [
      { name: "up", trigger: { metric: "utilization" as const, op: ">" as const, value: 0.8, forMs: 0 }, factor: 1.5, cooldownMs: 20_000 },
      { name: "down", trigger: { metric: "utilization" as const, op: "<" as const, value: 0.3, forMs: 0 }, factor: 0.5, cooldownMs: 20_000 },
    ];
    let current = 4;
    const changes: Array<{ at: number; to: number }> = [];
    // Utilization flips between 0.95 and 0.1 every 30 s for ten minutes (a 10 s stabilization
    // window; with flips faster than the window it would rightly never scale down at all).
    for (let t = 0; t <= 600_000; t += 1_000) {
      const utilization = Math.floor(t / 30_000) % 2 === 0 ? 0.95 : 0.1;
      const d = evaluatePolicies({ policies, metrics: { ...calm, utilization }, current, baseline: 4, maxSize: 16, now: t, stabilizationMs: 10_000, state });
      if (d !== undefined) {
        changes.push({ at: t, to: d.to });
        current = d.to;
      }
    }
    assert.ok(changes.some((c, i) => i > 0 && c.to < (changes[i - 1] as { to: number }).to), `it scales down too: ${JSON.stringify(changes)}`);
    for (let i = 1; i < changes.length; i++) {
      const gap = (changes[i] as { at: number }).at - (changes[i - 1] as { at: number }).at;
      assert.ok(gap >= 20_000, `changes ${JSON.stringify(changes)}`);
    }
    assert.ok(changes.length <= 31, `${changes.length} changes in 10 minutes`);
  });

  it("never lets a scale-up policy lower the target, nor a scale-down policy raise it", () => {
    const up = evaluatePolicies({ policies: DEFAULT_POLICIES, metrics: { ...calm, utilization: 1 }, current: 12, baseline: 3, maxSize: 16, now: 0, stabilizationMs: 0, state: newAutoscalerState() });
    assert.equal(up, undefined, "12 is already past 2 × baseline 3: high-demand holds, it does not cut to 6");
    const args = { policies: DEFAULT_POLICIES, metrics: { ...calm, utilization: 0 }, current: 0, baseline: 3, maxSize: 16, stabilizationMs: 0, state: newAutoscalerState() };
    evaluatePolicies({ ...args, now: 0 });
    assert.equal(evaluatePolicies({ ...args, now: 60_000 }), undefined, "an empty, idle pool is not grown by cost-optimization");
  });

  it("never scales down while the load flips faster than the stabilization window", () => {
    const state = newAutoscalerState();
    const policies = [
      { name: "up", trigger: { metric: "utilization" as const, op: ">" as const, value: 0.8, forMs: 0 }, factor: 1.5, cooldownMs: 20_000 },
      { name: "down", trigger: { metric: "utilization" as const, op: "<" as const, value: 0.3, forMs: 0 }, factor: 0.5, cooldownMs: 20_000 },
    ];
    let current = 4;
    const downs: number[] = [];
    for (let t = 0; t <= 300_000; t += 1_000) {
      const utilization = Math.floor(t / 5_000) % 2 === 0 ? 0.95 : 0.1;
      const d = evaluatePolicies({ policies, metrics: { ...calm, utilization }, current, baseline: 4, maxSize: 16, now: t, stabilizationMs: 30_000, state });
      if (d !== undefined && d.to < current) downs.push(t);
      if (d !== undefined) current = d.to;
    }
    assert.deepEqual(downs, []);
  });

  it("does not scale down within the stabilization window after a scale-up", () => {
    const state = newAutoscalerState();
    const policies = [
      { name: "up", trigger: { metric: "utilization" as const, op: ">" as const, value: 0.8, forMs: 0 }, factor: 2, cooldownMs: 0 },
      { name: "down", trigger: { metric: "utilization" as const, op: "<" as const, value: 0.3, forMs: 0 }, factor: 0.5, cooldownMs: 0 },
    ];
    const up = evaluatePolicies({ policies, metrics: { ...calm, utilization: 0.9 }, current: 2, baseline: 2, maxSize: 16, now: 0, stabilizationMs: 10_000, state });
    assert.equal(up?.to, 4);
    assert.equal(evaluatePolicies({ policies, metrics: { ...calm, utilization: 0.1 }, current: 4, baseline: 2, maxSize: 16, now: 5_000, stabilizationMs: 10_000, state }), undefined);
    const down = evaluatePolicies({ policies, metrics: { ...calm, utilization: 0.1 }, current: 4, baseline: 2, maxSize: 16, now: 20_000, stabilizationMs: 10_000, state });
    assert.equal(down?.to, 2);
  });

  it("waits for a trigger's forMs before cost-optimization acts, and keeps minScale × baseline", () => {
    const state = newAutoscalerState();
    const args = { policies: DEFAULT_POLICIES, metrics: { ...calm, utilization: 0.1 }, current: 10, baseline: 10, maxSize: 16, stabilizationMs: 0, state };
    assert.equal(evaluatePolicies({ ...args, now: 0 }), undefined);
    assert.equal(evaluatePolicies({ ...args, now: 29_000 }), undefined);
    const d = evaluatePolicies({ ...args, now: 31_000 });
    assert.deepEqual([d?.policy, d?.to], ["cost-optimization", 9]);
    const floor = evaluatePolicies({ ...args, current: 7, now: 200_000 });
    assert.equal(floor, undefined, "7 is already minScale 0.7 × 10");
  });

  it("emits pool.scaled with the policy, the numbers and the reason, and the pool grows to its new target", async () => {
    const { factory, close } = await testFactory({
      handlers: { slow: (_i: unknown, ctx: HandlerContext) => new Promise((r) => ctx.signal.addEventListener("abort", r)) },
      scaling: { tickMs: 20, stabilizationMs: 0, policies: [DEFAULT_POLICIES[1] as (typeof DEFAULT_POLICIES)[number]] },
    });
    try {
      factory.registerProfile({ name: "hot", role: "Hot", runtime: { kind: "function", handler: "slow" }, pool: { warmSize: 2, maxSize: 8, spawnRatePerSec: 1_000 } });
      const events: FactoryEvent[] = [];
      factory.onEvent((e) => events.push(e), { types: ["pool.scaled"] });
      for (let i = 0; i < 2; i++) await factory.spawnAgent({ profile: "hot" });
      for (let i = 0; i < 2; i++) await factory.submitTask({ role: "Hot", timeoutMs: 5_000 });
      await until(() => events.length > 0, "a scaling decision", 2_000);
      const data = events[0]?.data as { profile: string; policy: string; from: number; to: number; metrics: { utilization: number } };
      assert.deepEqual([data.profile, data.policy, data.from, data.to, data.metrics.utilization], ["hot", "high-demand-reactive", 2, 3, 1]);
      await until(async () => (await factory.listAgents({ role: "Hot" })).length === 3, "grown to 3");
      assert.equal(factory.getPool("hot").decisions.length, 1, "and not again within the 60 s cooldown");
    } finally {
      await close();
    }
  });
});
