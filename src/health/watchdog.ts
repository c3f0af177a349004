import type { Agent } from "../core/agent.ts";
import { isWorkingState } from "../core/lifecycle.ts";
import type { AgentHandle } from "../core/ports/runtime.ts";
import type { ProfileRecord } from "../core/schemas/profile.ts";
import type { AgentRegistry } from "../state/agent-registry.ts";
import type { EventLog } from "../state/event-log.ts";
import type { Dispatcher } from "../scheduler/dispatcher.ts";
import type { Runner } from "../scheduler/runner.ts";

export interface WatchdogDeps {
  registry: AgentRegistry;
  dispatcher: Pick<Dispatcher, "refresh">;
  /** Running attempts: scanned for stuck ones. */
  runner: Pick<Runner, "runs" | "unstick">;
  events: EventLog;
  /** The profile version an agent runs. */
  profileOf(agent: Agent): ProfileRecord | undefined;
  /**
   * The agent is dead or hopeless: take it down (killing what is left) and replace it under the
   * same id. For a silent one: how long it was silent, and whether it was never heard from at
   * all since it started (a crash loop, for the guard).
   */
  replace(agent: Agent, reason: string, kind: "silent" | "stuck" | "quality", silence?: { silentMs: number; neverHeard: boolean }): void;
  /** The agent has been idle past its profile's `hibernateAfterMs`. */
  hibernate(agent: Agent, reason: string): void;
  onError(message: string, error: unknown): void;
  /** How often heartbeats and running tasks are checked. */
  tickMs: number;
}

/** An agent whose liveness is watched: it heartbeats, or is probed. */
interface Watched {
  handle: AgentHandle;
  intervalMs: number;
  missedLimit: number;
  lastSeen: number;
  /** When `health.lastHeartbeatAt` was last written (it is throttled: formatting a date per message costs). */
  isoAt: number;
  nextProbeAt: number;
  probing: boolean;
  /** Heard from at least once since it started. */
  heard: boolean;
}

/** Hibernation rounds run at most this often: idle agents can be many, and hibernating is not urgent. */
const HIBERNATE_EVERY_MS = 1_000;

/**
 * Watches and heals agents (DESIGN.md `health/`). Each round it:
 * - counts missed heartbeats (or failed probes): one makes an agent not ready, the profile's
 *   `missedHeartbeats` make the factory replace it;
 * - finds tasks running past their profile's `stuckThresholdMs` without progress, re-queues them
 *   (the agent turns suspect) and replaces an agent whose stuck handler stays stuck as long again;
 * - replaces agents drained for poor quality once their last task ends;
 * - hibernates agents idle past `hibernateAfterMs`.
 * Quality is judged as outcomes arrive (`onOutcome`), not by scanning.
 */
export class Watchdog {
  readonly #deps: WatchdogDeps;
  readonly #watched = new Map<Agent, Watched>();
  /** Agents that may hibernate: how long they wait, and since when they are idle. */
  readonly #sleepers = new Map<Agent, { afterMs: number; idleSince: number | null }>();
  /** Agents drained for poor quality, replaced once they run nothing. */
  readonly #poor = new Set<Agent>();
  #timer: NodeJS.Timeout | undefined;
  #lastHibernateRound = 0;

  constructor(deps: WatchdogDeps) {
    this.#deps = deps;
    deps.registry.onChange((agent) => {
      const state = agent.state;
      if (!isWorkingState(state)) {
        if (state !== "DRAINING") this.#detach(agent);
        else this.#sleepers.delete(agent);
        return;
      }
      const sleeper = this.#sleepers.get(agent);
      if (sleeper !== undefined) {
        if (agent.load === 0) sleeper.idleSince ??= Date.now();
        else sleeper.idleSince = null;
      }
    });
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      try {
        this.tick(Date.now());
      } catch (error) {
        this.#deps.onError("watchdog round failed", error);
      }
    }, this.#deps.tickMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Agents whose liveness is watched now. */
  get watched(): number {
    return this.#watched.size;
  }

  /** A started agent (new, replaced or woken) is READY with this handle. */
  attach(agent: Agent, handle: AgentHandle, profile: ProfileRecord): void {
    const now = Date.now();
    const intervalMs = handle.liveness === "probe" ? profile.pool.healthIntervalMs : profile.health.heartbeatIntervalMs;
    if (handle.liveness !== undefined && intervalMs > 0) {
      this.#watched.set(agent, { handle, intervalMs, missedLimit: profile.health.missedHeartbeats, lastSeen: now, isoAt: 0, nextProbeAt: now + intervalMs, probing: false, heard: false });
    }
    if (profile.pool.hibernateAfterMs !== undefined) this.#sleepers.set(agent, { afterMs: profile.pool.hibernateAfterMs, idleSince: agent.load === 0 ? now : null });
  }

  #detach(agent: Agent): void {
    this.#watched.delete(agent);
    this.#sleepers.delete(agent);
    this.#poor.delete(agent);
  }

  /** The agent said something: it is alive. */
  heard(agent: Agent): void {
    const watched = this.#watched.get(agent);
    const now = Date.now();
    if (watched === undefined) {
      agent.health.lastHeartbeatAt = new Date(now).toISOString();
      return;
    }
    watched.lastSeen = now;
    watched.heard = true;
    if (now - watched.isoAt >= 250) {
      watched.isoAt = now;
      agent.health.lastHeartbeatAt = new Date(now).toISOString();
    }
    if (agent.health.missed > 0) this.#setMissed(agent, 0);
  }

  /** An attempt ended: update the agent's moving success rate and latency; drain it if it fell too low. */
  onOutcome(agent: Agent, ok: boolean, latencyMs: number): void {
    const profile = this.#deps.profileOf(agent);
    const window = profile?.health.qualityWindow ?? 20;
    const alpha = 2 / (window + 1);
    const health = agent.health;
    health.successRate = (1 - alpha) * health.successRate + alpha * (ok ? 1 : 0);
    health.latencyMs = health.latencyMs === null ? latencyMs : (1 - alpha) * health.latencyMs + alpha * latencyMs;
    health.samples++;
    const min = profile?.health.minSuccessRate ?? 0;
    if (min > 0 && health.samples >= window && health.successRate < min && health.suspect === null) {
      health.suspect = `quality: success rate ${health.successRate.toFixed(2)} is below ${min} over the last ${window} outcomes`;
      this.#poor.add(agent);
      this.#announce(agent, "drained for quality", { successRate: health.successRate, samples: health.samples });
      // After this turn: the dispatcher is still settling the attempt that reported this outcome.
      setImmediate(() => this.#deps.dispatcher.refresh(agent));
    }
  }

  /** One round (exposed for tests that drive time themselves). */
  tick(now: number): void {
    for (const [agent, watched] of this.#watched) this.#checkLiveness(agent, watched, now);
    this.#checkStuck(now);
    for (const agent of this.#poor) {
      if (agent.load > 0) continue;
      this.#poor.delete(agent);
      if (isWorkingState(agent.state)) this.#deps.replace(agent, agent.health.suspect ?? "quality", "quality");
    }
    if (now - this.#lastHibernateRound >= HIBERNATE_EVERY_MS) {
      this.#lastHibernateRound = now;
      for (const [agent, sleeper] of this.#sleepers) {
        if (sleeper.idleSince === null || agent.load > 0 || now - sleeper.idleSince < sleeper.afterMs) continue;
        if (agent.state !== "READY" && agent.state !== "IDLE") continue;
        const idleMs = now - sleeper.idleSince;
        // Asked again after another full wait if it cannot sleep now (tasks wait for it, it is suspect…);
        // once it sleeps, it leaves this map.
        sleeper.idleSince = now;
        this.#deps.hibernate(agent, `idle for ${idleMs} ms (hibernateAfterMs ${sleeper.afterMs})`);
      }
    }
  }

  #checkLiveness(agent: Agent, watched: Watched, now: number): void {
    if (watched.handle.liveness === "probe") {
      if (watched.probing || now < watched.nextProbeAt) return;
      watched.probing = true;
      watched.nextProbeAt = now + watched.intervalMs;
      const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), watched.intervalMs).unref());
      Promise.race([(watched.handle.probe as () => Promise<boolean>)(), timeout])
        .catch(() => false)
        .then((alive) => {
          watched.probing = false;
          if (this.#watched.get(agent) !== watched) return;
          if (alive) this.heard(agent);
          else this.#missed(agent, watched, agent.health.missed + 1, `${agent.health.missed + 1} probe(s) failed in a row`);
        }, (error: unknown) => this.#deps.onError(`probing ${agent.id} failed`, error));
      return;
    }
    const silentMs = now - watched.lastSeen;
    // Half an interval of grace before the first miss: heartbeats jitter, and a miss costs readiness.
    const missed = silentMs > watched.intervalMs * 1.5 ? Math.max(1, Math.floor(silentMs / watched.intervalMs)) : 0;
    if (missed !== agent.health.missed) this.#missed(agent, watched, missed, `silent for ${silentMs} ms`);
  }

  #missed(agent: Agent, watched: Watched, missed: number, why: string): void {
    if (missed >= watched.missedLimit) {
      this.#detach(agent);
      agent.health.missed = missed;
      this.#deps.replace(agent, `missed ${missed} heartbeat interval(s) of ${watched.intervalMs} ms: ${why}`, "silent", {
        silentMs: Date.now() - watched.lastSeen,
        neverHeard: !watched.heard,
      });
      return;
    }
    this.#setMissed(agent, missed);
  }

  #setMissed(agent: Agent, missed: number): void {
    const was = agent.health.missed;
    agent.health.missed = missed;
    if ((was === 0) !== (missed === 0)) {
      this.#announce(agent, missed === 0 ? "heard again: ready" : "missed a heartbeat: not ready", { missed });
      this.#deps.dispatcher.refresh(agent);
    }
  }

  #checkStuck(now: number): void {
    let stuck: Array<{ run: Parameters<Runner["unstick"]>[0]; threshold: number }> | undefined;
    for (const run of this.#deps.runner.runs()) {
      const threshold = this.#deps.profileOf(run.agent)?.pool.stuckThresholdMs;
      if (threshold === undefined) continue;
      const quietMs = now - run.lastProgressAt;
      // A stuck handler that stays stuck as long again: its agent is replaced.
      if (quietMs > (run.stuck ? 2 * threshold : threshold)) (stuck ??= []).push({ run, threshold });
    }
    for (const { run, threshold } of stuck ?? []) {
      const quietMs = now - run.lastProgressAt;
      if (!run.stuck) {
        if (this.#deps.runner.unstick(run, `stuck: no progress on task ${run.task.id} for ${quietMs} ms (stuckThresholdMs ${threshold})`)) {
          this.#announce(run.agent, "suspect: a task made no progress", { taskId: run.task.id, quietMs });
        }
      } else if (run.agent.state === "BUSY" || run.agent.state === "READY" || run.agent.state === "IDLE" || run.agent.state === "DRAINING") {
        this.#deps.replace(run.agent, `stuck: task ${run.task.id}'s handler made no progress for ${quietMs} ms, even after it was cancelled`, "stuck");
      }
    }
  }

  #announce(agent: Agent, reason: string, data: Record<string, unknown>): void {
    this.#deps.events.emit({
      type: "agent.health",
      agentId: agent.id,
      ...(agent.crewId === null ? {} : { crewId: agent.crewId }),
      data: { reason, ...data, suspect: agent.health.suspect },
    });
  }
}
