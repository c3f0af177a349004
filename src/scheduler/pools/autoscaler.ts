import { z } from "zod";

/** The numbers a scaling decision looks at, per pool, each tick. */
export interface PoolMetrics {
  /** Running tasks / total capacity (agents × cognitiveLoadLimit) of the pool's live agents. */
  utilization: number;
  /** Tasks waiting that the pool's agents could take. */
  queued: number;
  /** queued / queueDepth. */
  queueFill: number;
  /** Forecast demand (tasks in flight a moment from now) / capacity. */
  forecastRatio: number;
}

export const ScalingPolicySchema = z
  .strictObject({
    name: z.string().min(1).max(64),
    /** Fires when `metric op value` has held for `forMs`. */
    trigger: z.strictObject({
      metric: z.enum(["utilization", "queued", "queueFill", "forecastRatio"]),
      op: z.enum([">", "<"]),
      value: z.number(),
      forMs: z.number().int().min(0).default(0),
    }),
    /** The pool's target is multiplied by this. */
    factor: z.number().positive(),
    /** Bounds on the target, as multiples of the pool's baseline (its warm size, at least 1). */
    minScale: z.number().positive().optional(),
    maxScale: z.number().positive().optional(),
    /** After this policy acts, it does not act on the pool again for this long. */
    cooldownMs: z.number().int().min(0),
  })
  .meta({ id: "ScalingPolicy" });

export type ScalingPolicy = z.output<typeof ScalingPolicySchema>;

/** Seed 002's four policies; evaluated in this order, the first that fires decides. */
export const DEFAULT_POLICIES: readonly ScalingPolicy[] = [
  { name: "emergency-scaling", trigger: { metric: "queueFill", op: ">", value: 0.9, forMs: 0 }, factor: 2.0, maxScale: 3.0, cooldownMs: 10_000 },
  { name: "high-demand-reactive", trigger: { metric: "utilization", op: ">", value: 0.8, forMs: 0 }, factor: 1.5, maxScale: 2.0, cooldownMs: 60_000 },
  { name: "predictive-scale-up", trigger: { metric: "forecastRatio", op: ">", value: 1.0, forMs: 0 }, factor: 1.3, maxScale: 1.8, cooldownMs: 30_000 },
  { name: "cost-optimization", trigger: { metric: "utilization", op: "<", value: 0.3, forMs: 30_000 }, factor: 0.9, minScale: 0.7, cooldownMs: 120_000 },
];

export interface ScaleDecision {
  policy: string;
  from: number;
  to: number;
  reason: string;
  metrics: PoolMetrics;
}

/** Per-pool memory of the autoscaler: when each policy's trigger began to hold, and when it last acted. */
export interface AutoscalerState {
  holdingSince: Map<string, number>;
  lastActed: Map<string, number>;
  /** When the target last changed, by any policy: no pool changes size more than once per cooldown. */
  lastChange: number;
  /** Recommended targets of the last stabilization window, for scale-down. */
  history: Array<{ at: number; target: number }>;
}

export function newAutoscalerState(): AutoscalerState {
  return { holdingSince: new Map(), lastActed: new Map(), lastChange: -Infinity, history: [] };
}

/**
 * One evaluation for one pool: returns the new target, or undefined to keep it. Pure apart
 * from updating `state`. Two rules keep it from oscillating and from fighting the balancer:
 * after any change the pool waits out the acting policy's cooldown before the next one, and
 * a scale-down never goes below the highest target recommended in the stabilization window.
 */
export function evaluatePolicies(input: {
  policies: readonly ScalingPolicy[];
  metrics: PoolMetrics;
  current: number;
  baseline: number;
  maxSize: number;
  now: number;
  stabilizationMs: number;
  state: AutoscalerState;
  /** The pool never goes below this (its warm size or forecast): a decision under it is no decision. */
  floor?: number;
}): ScaleDecision | undefined {
  const { policies, metrics, current, baseline, maxSize, now, stabilizationMs, state } = input;
  state.history = state.history.filter((h) => now - h.at <= stabilizationMs);
  for (const policy of policies) {
    const value = metrics[policy.trigger.metric];
    const holds = policy.trigger.op === ">" ? value > policy.trigger.value : value < policy.trigger.value;
    if (!holds) {
      state.holdingSince.delete(policy.name);
      continue;
    }
    const since = state.holdingSince.get(policy.name) ?? now;
    state.holdingSince.set(policy.name, since);
    if (now - since < policy.trigger.forMs) continue;
    const lastActed = state.lastActed.get(policy.name) ?? -Infinity;
    if (now - lastActed < policy.cooldownMs || now - state.lastChange < policy.cooldownMs) return undefined;
    const up = policy.factor > 1;
    let target = Math.round(Math.max(current, 1) * policy.factor);
    if (up && target <= current) target = current + 1;
    if (!up && target >= current) target = current - 1;
    // Bounds only ever hold a policy back: a scale-up never lowers the target, a scale-down never raises it.
    if (up && policy.maxScale !== undefined) target = Math.min(target, Math.floor(baseline * policy.maxScale));
    if (!up && policy.minScale !== undefined) target = Math.max(target, Math.ceil(baseline * policy.minScale));
    target = Math.max(input.floor ?? 0, Math.min(maxSize, target));
    if (!up) {
      const recent = Math.max(0, ...state.history.map((h) => h.target));
      target = Math.max(target, Math.min(current, recent));
    }
    if (up ? target <= current : target >= current) {
      state.history.push({ at: now, target: current });
      return undefined;
    }
    state.history.push({ at: now, target: Math.max(target, current) });
    state.lastActed.set(policy.name, now);
    state.lastChange = now;
    const shown = `${policy.trigger.metric} ${policy.trigger.op} ${policy.trigger.value}`;
    return { policy: policy.name, from: current, to: target, reason: `${shown} (${metrics[policy.trigger.metric].toFixed(2)})`, metrics };
  }
  state.history.push({ at: now, target: current });
  return undefined;
}
