/**
 * Small helpers shared by the benchmarks: percentiles, summaries, the metric record with its
 * verdict against a seed's claim, and number formatting for the table.
 */

export interface Summary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array, `p` from 0 to 100; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

/** Count, min, mean, p50, p90, p99 and max of some samples (any order; not modified). */
export function summarize(samples: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const x of sorted) sum += x;
  return {
    count: sorted.length,
    min: sorted.length === 0 ? Number.NaN : (sorted[0] as number),
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] as number),
  };
}

/** Items per second for `count` items done in `ms` milliseconds. */
export const perSecond = (count: number, ms: number): number => (ms <= 0 ? Number.POSITIVE_INFINITY : (count * 1000) / ms);

/**
 * A figure a seed states. `max`: the measured value must be below `limit`; `min`: at least
 * `limit`. `limit` is in the metric's unit.
 */
export interface Claim {
  text: string;
  /** Where it is stated, e.g. "seed 000". */
  source: string;
  kind: "max" | "min";
  limit: number;
}

export interface Metric {
  /** Stable key for results/latest.json. */
  id: string;
  label: string;
  value: number;
  unit: string;
  /** The value as printed. */
  display: string;
  claim: Claim | null;
  /** "beats (×N)", "misses (×N)", "ok", "MISMATCH" or "—". */
  verdict: string;
  /** How the claim was exceeded (>1) or missed (<1); null without a claim. */
  factor: number | null;
}

/** A measured figure judged against a seed's claim (or against nothing). */
export function metric(id: string, label: string, value: number, unit: string, claim: Claim | null = null): Metric {
  const display = formatValue(value, unit);
  if (claim === null) return { id, label, value, unit, display, claim, verdict: "—", factor: null };
  const factor = claim.kind === "max" ? claim.limit / value : value / claim.limit;
  const pass = claim.kind === "max" ? value < claim.limit : value >= claim.limit;
  return { id, label, value, unit, display, claim, verdict: `${pass ? "beats" : "MISSES"} (×${formatFactor(factor)})`, factor };
}

/** A correctness check: the measured count must equal the expected one. */
export function check(id: string, label: string, value: number, expected: number, unit = "rows"): Metric {
  return {
    id,
    label,
    value,
    unit,
    display: `${formatNumber(value)} / ${formatNumber(expected)} ${unit}`,
    claim: null,
    verdict: value === expected ? "ok" : "MISMATCH",
    factor: null,
  };
}

export function formatNumber(n: number, fractionDigits = 0): string {
  return n.toLocaleString("en-US", { minimumFractionDigits: fractionDigits, maximumFractionDigits: fractionDigits });
}

/** Milliseconds with precision that suits their size. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms >= 1000) return `${formatNumber(ms)} ms`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${ms.toFixed(3)} ms`;
}

export function formatValue(value: number, unit: string): string {
  if (unit === "ms") return formatMs(value);
  if (unit === "µs") return `${value >= 100 ? formatNumber(value) : value.toFixed(1)} µs`;
  if (unit === "×") return `${value.toFixed(2)}×`;
  if (unit === "%") return `${value >= 0 ? "+" : ""}${value.toFixed(1)} %`;
  if (unit === "MiB") return `${value.toFixed(1)} MiB`;
  if (unit === "bytes") return `${formatNumber(value)} bytes`;
  return `${formatNumber(value)} ${unit}`;
}

function formatFactor(factor: number): string {
  if (!Number.isFinite(factor)) return "∞";
  if (factor >= 10) return formatNumber(factor);
  // Far misses keep two significant digits, so ×0.05 does not print as ×0.0.
  return factor >= 1 ? factor.toFixed(1) : factor.toPrecision(2);
}

export const MiB = 1024 * 1024;
