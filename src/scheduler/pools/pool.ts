import { Samples } from "../../core/samples.ts";
import type { Agent } from "../../core/agent.ts";
import type { ProfileRecord } from "../../core/schemas/profile.ts";
import { TokenBucket } from "../token-bucket.ts";
import { newAutoscalerState, type AutoscalerState, type ScaleDecision } from "./autoscaler.ts";
import { ArrivalForecast } from "./forecast.ts";

const WAIT_SAMPLES = 512;
const DECISIONS_KEPT = 20;

/**
 * One pool: the agents of one profile that are in no crew, and what is known of them — how many
 * are starting, the sizes it is kept at, its arrival forecast and autoscaler memory, dispatch
 * rate, service and wait times, and since when each free agent is idle. It holds the pool's
 * arithmetic; the PoolManager decides what to spawn and retire from it.
 */
export class Pool {
  readonly name: string;
  /** Its live agents, starting ones included (a spawn is a member from its first state). */
  readonly members = new Set<Agent>();
  readonly bucket: TokenBucket;
  spawning = 0;
  /** Desired size set by the autoscaler (starts at the warm size for warm pools). */
  target: number;
  /** Desired size from the arrival forecast (predictive pools). */
  predicted = 0;
  readonly autoscaler: AutoscalerState = newAutoscalerState();
  readonly forecast = new ArrivalForecast();
  dispatchedThisTick = 0;
  dispatchRate = 0;
  /** Moving average of how long a task takes, in ms. */
  serviceMs = 0;
  readonly #waits = new Samples(WAIT_SAMPLES);
  readonly decisions: Array<ScaleDecision & { at: string }> = [];
  /** A re-check of demand, due when the spawn rate allows another spawn. */
  retryTimer: NodeJS.Timeout | undefined;
  /** Free members (READY or IDLE, running nothing) and since when. */
  readonly idleSince = new Map<Agent, number>();

  constructor(name: string, profile: ProfileRecord | undefined) {
    this.name = name;
    this.bucket = new TokenBucket(profile?.pool.spawnRatePerSec ?? 10);
    this.target = profile?.pool.spawnStrategy === "warm-pool" ? profile.pool.warmSize : 0;
  }

  /** A task went to one of its agents after waiting `waitedMs`. */
  assigned(waitedMs: number): void {
    this.dispatchedThisTick++;
    this.#waits.add(waitedMs);
  }

  /** A task of one of its agents ran `ms`: the service-time average follows. */
  finished(ms: number): void {
    this.serviceMs = this.serviceMs === 0 ? ms : 0.8 * this.serviceMs + 0.2 * ms;
  }

  /** The autoscaler decided: the pool is kept at the decision's size from now on. */
  decided(decision: ScaleDecision, at: string): void {
    this.target = decision.to;
    this.decisions.push({ ...decision, at });
    if (this.decisions.length > DECISIONS_KEPT) this.decisions.shift();
  }

  /** What the pool is never sized below: the forecast (predictive) and the warm size (warm pools). */
  floor(profile: ProfileRecord): number {
    const warm = profile.pool.spawnStrategy === "warm-pool" ? profile.pool.warmSize : 0;
    return Math.min(profile.pool.maxSize, Math.max(this.predicted, warm));
  }

  /** The size the pool is kept at: the autoscaler's target, never below the floor. */
  size(profile: ProfileRecord): number {
    return Math.min(profile.pool.maxSize, Math.max(this.target, this.floor(profile)));
  }

  /**
   * Its working agents, and of those the ones free or about to be (READY, IDLE, starting).
   * UNHEALTHY ones count as starting: each is being brought back under its id (restored after a
   * restart, or replaced by the watchdog) or ended, so spawning beside them would overshoot maxSize.
   */
  live(): { total: number; spare: number; starting: number } {
    let total = 0;
    let spare = 0;
    let starting = 0;
    for (const agent of this.members) {
      switch (agent.state) {
        case "UNHEALTHY":
        case "PROVISIONING":
        case "WARMING":
          starting++;
          spare++;
          total++;
          break;
        case "READY":
        case "IDLE":
          spare++;
          total++;
          break;
        case "BUSY":
          total++;
          break;
        default:
      }
    }
    return { total, spare, starting };
  }

  /** Follows a member's change: it leaves when it ends or sleeps; it is idle while free and running nothing. */
  track(agent: Agent): void {
    if (agent.state === "TERMINATED" || agent.state === "HIBERNATING") {
      this.members.delete(agent);
      this.idleSince.delete(agent);
      return;
    }
    this.members.add(agent);
    if (agent.load === 0 && (agent.state === "READY" || agent.state === "IDLE")) {
      if (!this.idleSince.has(agent)) this.idleSince.set(agent, Date.now());
    } else {
      this.idleSince.delete(agent);
    }
  }

  /** How long recent tasks waited for an agent. */
  waits(): { samples: number; p50Ms: number; p99Ms: number; maxMs: number } {
    const w = this.#waits;
    // quantile(1) is the largest sample (0 when there are none).
    return { samples: w.count, p50Ms: w.quantile(0.5), p99Ms: w.quantile(0.99), maxMs: w.quantile(1) };
  }
}
