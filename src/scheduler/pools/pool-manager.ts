import type { Agent } from "../../core/agent.ts";
import { isWorkingState } from "../../core/lifecycle.ts";
import type { ProfileRecord, SpawnStrategy } from "../../core/schemas/profile.ts";
import type { Task } from "../../core/task.ts";
import type { AgentRegistry } from "../../state/agent-registry.ts";
import type { EventLog } from "../../state/event-log.ts";
import type { Dispatcher } from "../dispatcher.ts";
import { targetMatches, type Lane, type LaneTarget } from "../lane.ts";
import { evaluatePolicies, type PoolMetrics, type ScaleDecision, type ScalingPolicy } from "./autoscaler.ts";
import { Pool } from "./pool.ts";

export interface PoolManagerDeps {
  profiles: { list(): ProfileRecord[]; latest(name: string): ProfileRecord | undefined };
  registry: AgentRegistry;
  dispatcher: Dispatcher;
  events: EventLog;
  /** Spawns a crewless agent of the profile's latest version. */
  spawn(profile: ProfileRecord, reason: string): Promise<Agent>;
  /** Spawns a copy of a live agent with its saved context. */
  clone(source: Agent, reason: string): Promise<Agent>;
  terminate(agent: Agent, reason: string): void;
  onError(message: string, error: unknown): void;
  policies: readonly ScalingPolicy[];
  /** How often pools are sized, idle agents retired and policies evaluated. */
  tickMs: number;
  /** A scale-down never goes below the highest target recommended this long ago. */
  stabilizationMs: number;
}

/** What a pool looks like from outside (GET /v1/pools). */
export interface PoolView {
  profile: string;
  version: number;
  spawnStrategy: SpawnStrategy;
  balancer: string;
  settings: ProfileRecord["pool"];
  /** Crewless live agents of the profile, by state. */
  size: number;
  states: Record<string, number>;
  /** Agents of the profile in crews (sized by their manifests, not by the pool). */
  inCrews: number;
  spawning: number;
  /** The size the pool is kept at (warm size, forecast or the autoscaler's). */
  target: number;
  queued: number;
  running: number;
  utilization: number;
  dispatchRatePerSec: number;
  forecastRatePerSec: number;
  wait: { samples: number; p50Ms: number; p99Ms: number; maxMs: number };
  decisions: Array<ScaleDecision & { at: string }>;
}

/**
 * The pools: one per profile, made of the profile's agents that are in no crew. It spawns on
 * demand (within maxSize and a token-bucket spawn rate), keeps warm pools warm, sizes
 * predictive pools from an arrival forecast, retires agents idle past `idleTimeoutMs` down to
 * the pool's target, and runs the autoscaling policies. Scale-down only ever retires IDLE
 * agents — never a busy one, and agents holding affinity bindings last — so the scaler cannot
 * take work away from the load balancer.
 */
export class PoolManager {
  readonly #deps: PoolManagerDeps;
  readonly #pools = new Map<string, Pool>();
  #ticker: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(deps: PoolManagerDeps) {
    this.#deps = deps;
    deps.registry.onChange((agent) => this.#track(agent));
  }

  start(): void {
    if (this.#ticker !== undefined || this.#stopped) return;
    this.#ticker = setInterval(() => this.tick(), this.#deps.tickMs);
    this.#ticker.unref();
    this.tick();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#ticker);
    for (const pool of this.#pools.values()) clearTimeout(pool.retryTimer);
  }

  /** A task found no free agent: spawn for it if a pool can serve it (crewless tasks only). */
  onWaiting(task: Task, lane: Lane): void {
    if (this.#stopped || task.crewId !== null || task.targetAgentId !== null) return;
    const profile = this.#bestProfileFor(lane.target);
    if (profile === undefined) return;
    this.#spawnForDemand(this.#pool(profile.name), profile, lane.size);
  }

  /** A task was dispatched to an agent after waiting `waitedMs`. */
  onAssigned(agent: Agent, waitedMs: number): void {
    if (agent.crewId !== null) return;
    this.#pool(agent.profile).assigned(waitedMs);
  }

  /** A task ended: its run time feeds the pool's service-time average. */
  onFinished(task: Task): void {
    if (task.agentId === null || task.startedAt === null || task.finishedAt === null || task.crewId !== null) return;
    const agent = this.#deps.registry.get(task.agentId);
    if (agent === undefined) return;
    this.#pool(agent.profile).finished(Date.parse(task.finishedAt) - Date.parse(task.startedAt));
  }

  /** One round: forecast, autoscale, pre-spawn to target, retire idle agents. */
  tick(now = Date.now()): void {
    if (this.#stopped) return;
    for (const profile of this.#deps.profiles.list()) {
      if (profile.pool.spawnStrategy === "manual") continue;
      const pool = this.#pool(profile.name);
      pool.bucket.setRate(profile.pool.spawnRatePerSec);
      const seconds = this.#deps.tickMs / 1000;
      pool.dispatchRate = pool.dispatchedThisTick / seconds;
      pool.forecast.observe(pool.dispatchRate);
      pool.dispatchedThisTick = 0;
      const metrics = this.#metrics(pool, profile);
      if (profile.pool.spawnStrategy === "predictive") {
        // Little's law: agents needed ≈ arrival rate × service time / tasks per agent, plus headroom.
        const busy = (pool.forecast.forecast(3) * Math.max(pool.serviceMs, 1)) / 1000 / profile.cognitiveLoadLimit;
        pool.predicted = Math.min(profile.pool.maxSize, Math.ceil(busy * 1.25));
      }
      const decision = evaluatePolicies({
        policies: this.#deps.policies,
        metrics,
        current: Math.max(pool.live().total, pool.size(profile)),
        baseline: Math.max(1, profile.pool.warmSize),
        maxSize: profile.pool.maxSize,
        now,
        stabilizationMs: this.#deps.stabilizationMs,
        state: pool.autoscaler,
        floor: pool.floor(profile),
      });
      if (decision !== undefined) {
        pool.decided(decision, new Date(now).toISOString());
        this.#deps.events.emit({
          type: "pool.scaled",
          data: { profile: profile.name, policy: decision.policy, from: decision.from, to: decision.to, reason: decision.reason, metrics: { ...decision.metrics } },
        });
      }
      this.#prespawn(pool, profile);
      // Tasks may wait on agents that were coming back and did not (a restore or replacement failed).
      this.#recheckDemand(pool);
      this.#retireIdle(pool, profile, now);
    }
  }

  views(): PoolView[] {
    return this.#deps.profiles.list().map((p) => this.view(p));
  }

  view(profile: ProfileRecord): PoolView {
    const pool = this.#pool(profile.name);
    const states: Record<string, number> = {};
    let running = 0;
    for (const agent of pool.members) {
      states[agent.state] = (states[agent.state] ?? 0) + 1;
      running += agent.load;
    }
    let inCrews = 0;
    for (const agent of this.#deps.registry.values()) if (agent.crewId !== null && agent.profile === profile.name) inCrews++;
    const metrics = this.#metrics(pool, profile);
    return {
      profile: profile.name,
      version: profile.version,
      spawnStrategy: profile.pool.spawnStrategy,
      balancer: profile.pool.balancer,
      settings: profile.pool,
      size: pool.members.size,
      states,
      inCrews,
      spawning: pool.spawning,
      target: pool.size(profile),
      queued: metrics.queued,
      running,
      utilization: round(metrics.utilization),
      dispatchRatePerSec: round(pool.dispatchRate),
      forecastRatePerSec: round(pool.forecast.forecast(1)),
      wait: pool.waits(),
      decisions: [...pool.decisions],
    };
  }

  // ------------------------------------------------------------------ internals

  #pool(name: string): Pool {
    let pool = this.#pools.get(name);
    if (pool === undefined) {
      pool = new Pool(name, this.#deps.profiles.latest(name));
      this.#pools.set(name, pool);
    }
    return pool;
  }

  #track(agent: Agent): void {
    if (agent.crewId === null) this.#pool(agent.profile).track(agent);
  }

  #metrics(pool: Pool, profile: ProfileRecord): PoolMetrics {
    let capacity = 0;
    let running = 0;
    for (const agent of pool.members) {
      if (agent.state === "TERMINATED" || agent.state === "DRAINING") continue;
      capacity += agent.cognitiveLoadLimit;
      running += agent.load;
    }
    let queued = 0;
    const target = sampleOf(profile);
    for (const lane of this.#deps.dispatcher.lanes()) {
      if (lane.size > 0 && lane.target.agentId === null && targetMatches(lane.target, target)) queued += lane.size;
    }
    const demand = (pool.forecast.forecast(3) * Math.max(pool.serviceMs, 1)) / 1000;
    return {
      utilization: capacity === 0 ? (queued > 0 ? 1 : 0) : running / capacity,
      queued,
      queueFill: queued / profile.pool.queueDepth,
      forecastRatio: capacity === 0 ? (demand > 0 ? 2 : 0) : demand / capacity,
    };
  }

  /** The latest profile whose agents fit a crewless target best (fewest capabilities beyond those asked). */
  #bestProfileFor(target: LaneTarget): ProfileRecord | undefined {
    let best: ProfileRecord | undefined;
    for (const profile of this.#deps.profiles.list()) {
      if (profile.pool.spawnStrategy === "manual") continue;
      const sample = sampleOf(profile);
      if (!targetMatches(target, sample)) continue;
      if (best === undefined || profile.capabilities.length < best.capabilities.length) best = profile;
    }
    return best;
  }

  /** Spawns enough agents for `waiting` tasks, within maxSize and the spawn rate; re-checks when a token is due. */
  #spawnForDemand(pool: Pool, profile: ProfileRecord, waiting: number): void {
    const needed = Math.ceil(waiting / profile.cognitiveLoadLimit);
    let { total, starting } = pool.live();
    while (starting < needed && total < profile.pool.maxSize) {
      if (!pool.bucket.tryTake()) {
        this.#retryLater(pool);
        return;
      }
      this.#startSpawn(pool, profile, "on-demand: tasks waiting");
      starting++;
      total++;
    }
  }

  /** Tasks waiting (crewless, not addressed) that this pool's agents could take. */
  #waitingFor(profile: ProfileRecord): number {
    const sample = sampleOf(profile);
    let waiting = 0;
    for (const lane of this.#deps.dispatcher.lanes()) {
      if (lane.size > 0 && lane.target.crewId === null && lane.target.agentId === null && targetMatches(lane.target, sample)) waiting += lane.size;
    }
    return waiting;
  }

  /** After a spawn or when a token is due: spawn again if tasks still wait. */
  #recheckDemand(pool: Pool): void {
    const profile = this.#deps.profiles.latest(pool.name);
    if (profile === undefined || this.#stopped || profile.pool.spawnStrategy === "manual") return;
    const waiting = this.#waitingFor(profile);
    if (waiting > 0) this.#spawnForDemand(pool, profile, waiting);
  }

  #retryLater(pool: Pool): void {
    if (pool.retryTimer !== undefined || this.#stopped) return;
    pool.retryTimer = setTimeout(() => {
      pool.retryTimer = undefined;
      this.#recheckDemand(pool);
    }, Math.max(1, pool.bucket.msUntilToken()));
    pool.retryTimer.unref();
  }

  /** Grows the pool to its target; a warm pool also keeps `warmSize` agents free (READY, IDLE or starting). */
  #prespawn(pool: Pool, profile: ProfileRecord): void {
    const target = pool.size(profile);
    const warm = profile.pool.spawnStrategy === "warm-pool" ? profile.pool.warmSize : 0;
    let { total, spare } = pool.live();
    while (total < profile.pool.maxSize && (total < target || spare < warm)) {
      if (!pool.bucket.tryTake()) return; // the next tick goes on
      this.#startSpawn(pool, profile, total < target ? `${profile.pool.spawnStrategy}: growing to ${target}` : `warm-pool: keeping ${warm} free`);
      total++;
      spare++;
    }
  }

  #startSpawn(pool: Pool, profile: ProfileRecord, reason: string): void {
    pool.spawning++;
    let source: Agent | undefined;
    if (profile.pool.spawnStrategy === "clone") {
      for (const agent of pool.members) if (isWorkingState(agent.state)) source = agent;
    }
    const started = source === undefined ? this.#deps.spawn(profile, reason) : this.#deps.clone(source, `clone of ${source.id}: ${reason}`);
    started
      .catch((error: unknown) => this.#deps.onError(`pool ${profile.name} could not spawn`, error))
      .finally(() => {
        pool.spawning--;
        this.#recheckDemand(pool);
      });
  }

  /** READY agents idle past idleTimeoutMs become IDLE; IDLE ones above the pool's target are retired. */
  #retireIdle(pool: Pool, profile: ProfileRecord, now: number): void {
    const idleAfter = profile.pool.idleTimeoutMs;
    const idle: Agent[] = [];
    for (const [agent, since] of pool.idleSince) {
      if (now - since < idleAfter || agent.load > 0) continue;
      if (agent.state === "READY") this.#deps.registry.transition(agent, "IDLE", `no work for ${idleAfter} ms`);
      if (agent.state === "IDLE") idle.push(agent);
    }
    const keep = Math.max(pool.size(profile), profile.pool.warmSize);
    let excess = pool.live().total - keep;
    if (excess <= 0) return;
    const affinity = this.#deps.dispatcher.affinity;
    // Longest idle first; agents that hold affinity bindings last.
    const bound = new Map(idle.map((a) => [a, affinity.countFor(a.id)]));
    idle.sort((a, b) => (bound.get(a) ?? 0) - (bound.get(b) ?? 0) || (pool.idleSince.get(a) ?? 0) - (pool.idleSince.get(b) ?? 0));
    for (const agent of idle) {
      if (excess-- <= 0) break;
      this.#deps.terminate(agent, `idle for ${now - (pool.idleSince.get(agent) ?? now)} ms, above the pool's ${keep}`);
    }
  }
}

const round = (n: number): number => Math.round(n * 100) / 100;

/** A crewless agent of the profile, as lane matching sees it. */
const sampleOf = (profile: ProfileRecord) => ({ id: "", crewId: null, role: profile.role, profile: profile.name, capabilities: profile.capabilities });
