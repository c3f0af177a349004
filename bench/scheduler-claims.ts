/**
 * What the scheduler benchmarks are held to, and the run sizes bench/run.ts also needs (kept
 * apart from bench/scheduler.ts so the runner does not load the factory to read them).
 */
import type { Claim } from "./stats.ts";

/** Targets of issue 3, and the seeds' figures where they state one. */
export const SCHEDULER_CLAIMS = {
  dispatchRate: { text: "≥ 200,000 tasks/s", source: "issue 3", kind: "min", limit: 200_000 },
  vsPiscina: { text: "≥ 3× Piscina", source: "issue 3", kind: "min", limit: 3 },
  warmDispatch: { text: "< 1 ms warm dispatch", source: "seed 003, issue 3", kind: "max", limit: 1_000 },
  latency: { text: "sub-10 ms latency", source: "seed 002", kind: "max", limit: 10 },
  httpRate: { text: "≥ 20,000 tasks/s", source: "issue 3", kind: "min", limit: 20_000 },
  residentRss: { text: "1M agents in ≤ 2 GiB RSS", source: "issue 3", kind: "max", limit: 2_048 },
  residentPerAgent: { text: "≤ 2,147 bytes/agent (2 GiB / 1M)", source: "issue 3", kind: "max", limit: 2 ** 31 / 1e6 },
  residentCount: { text: "1,000,000 agents", source: "issue 3", kind: "min", limit: 1_000_000 },
} as const satisfies Record<string, Claim>;

/** Tasks each in-process run sends, and how many are in flight at once (the same for the peer). */
export const dispatchTasks = (quick: boolean): number => (quick ? 10_000 : 50_000);
export const IN_FLIGHT = 2_000;
