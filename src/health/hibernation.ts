import type { Agent } from "../core/agent.ts";
import { FactoryError, isFactoryError } from "../core/errors.ts";
import type { Logger } from "../core/ports/logger.ts";
import type { AgentRuntime } from "../core/ports/runtime.ts";
import type { Store } from "../core/ports/store.ts";
import type { ProfileRecord } from "../core/schemas/profile.ts";
import { Samples } from "../core/samples.ts";
import { Hook } from "../core/hook.ts";
import { targetMatches, type LaneTarget } from "../scheduler/lane.ts";
import type { Dispatcher } from "../scheduler/dispatcher.ts";
import type { AgentRegistry } from "../state/agent-registry.ts";
import type { Journal } from "../state/journal.ts";
import type { ProfileRegistry } from "../state/profile-registry.ts";
import type { DurationSummary } from "../core/stats.ts";

type Sleeper = Pick<Agent, "id" | "crewId" | "role" | "profile" | "capabilities">;

/** What sleep and wake need of whoever starts agents (the spawner, one layer up, satisfies it). */
export interface Waker {
  /** Stops listening to the agent's runtime; `seal()` then ignores even a context saved too late. */
  retire(agent: Agent): { seal(): void } | undefined;
  /** Starts a hibernated agent's runtime with its saved context (WARMING → READY). */
  wake(agent: Agent, profile: ProfileRecord): Promise<void>;
}

export interface HibernationDeps {
  registry: AgentRegistry;
  profiles: ProfileRegistry;
  dispatcher: Pick<Dispatcher, "waitingFor" | "affinity" | "releaseAgentLane">;
  waker: Waker;
  journal: Journal;
  store: Store;
  runtimes: readonly AgentRuntime[];
  /** Whether a crew takes work now (a paused or ending crew's sleepers are not woken for it). */
  crewAcceptsWork(crewId: string): boolean;
  /** Hibernated agents that affinity keys are bound to; the dispatcher reads it to wake them. */
  asleep: Set<string>;
  maxBindings: number;
  logger: Logger;
}

/**
 * Sleep and wake. A hibernated agent leaves memory (its store row keeps its context) and costs
 * nothing; a task addressed to it, by id or by an affinity key bound to it, wakes it, and a
 * crew task no awake member takes wakes a sleeping member that can serve it.
 */
export class Hibernation {
  readonly #deps: HibernationDeps;
  /** An agent went to sleep or ended asleep: it has left memory. */
  readonly slept = new Hook<[agentId: string]>();
  /** Wakes under way, by agent id (a second wake joins the first). */
  readonly #waking = new Map<string, Promise<Agent>>();
  /** Hibernations under way (the runtime is stopping), by agent id: a wake waits for them. */
  readonly #sleeping = new Map<string, Promise<void>>();
  /** Wakes to abandon after their store read: the sleeper was terminated meanwhile. */
  readonly #wakeAborted = new Set<string>();
  /** Sleeping members of each crew, so that a crew task no awake member takes can wake one. */
  readonly #crewSleepers = new Map<string, Map<string, Sleeper>>();
  /** Crews whose sleepers from before this start were read from the store (when crew work first needed one). */
  readonly #crewSleepersRead = new Set<string>();
  #hibernated = 0;
  #woken = 0;
  readonly #wakeMs = new Samples(1_024);

  constructor(deps: HibernationDeps) {
    this.#deps = deps;
    deps.registry.terminated.add((agent) => deps.asleep.delete(agent.id));
  }

  /** Why an agent cannot sleep now, or undefined if it can. */
  whyAwake(agent: Agent): string | undefined {
    if (agent.load > 0 || (agent.state !== "READY" && agent.state !== "IDLE")) return `it is ${agent.state} with ${agent.load} task(s) running`;
    const waiting = this.#deps.dispatcher.waitingFor(agent.id);
    if (waiting > 0) return `${waiting} task(s) wait for it`;
    if (agent.health.suspect !== null) return `it is suspect (${agent.health.suspect})`;
    if (agent.health.missed > 0) return "it missed a heartbeat";
    return undefined;
  }

  /** The watchdog found an agent idle past its profile's idle timeout: it sleeps if it still can. */
  sleepIfIdle(agent: Agent, reason: string): void {
    if (this.whyAwake(agent) !== undefined) return; // not now; the watchdog asks again later
    this.hibernate(agent, reason).catch((error: unknown) => this.#deps.logger.error(`agent ${agent.id} could not hibernate`, error));
  }

  /**
   * Puts an agent to sleep: it must be READY or IDLE with nothing running. Its context is saved
   * with its row, its runtime is stopped (a process is asked to exit and may save its context
   * first; the workspace stays) and it leaves memory.
   */
  async hibernate(agent: Agent, reason: string): Promise<void> {
    const { registry, waker, dispatcher, journal } = this.#deps;
    const why = this.whyAwake(agent);
    if (why !== undefined) {
      throw new FactoryError("AGENT_BUSY", `agent ${agent.id} cannot hibernate: ${why}; only an idle agent can`, { details: { current: agent.state, load: agent.load } });
    }
    if (agent.state === "READY") registry.transition(agent, "IDLE", "going to sleep");
    const handle = registry.handle(agent.id);
    registry.setHandle(agent.id, undefined);
    const services = waker.retire(agent);
    agent.pid = null;
    if (dispatcher.affinity.countFor(agent.id) > 0) this.#noteAsleep(agent.id);
    registry.transition(agent, "HIBERNATING", reason);
    this.#hibernated++;
    let done!: () => void;
    this.#sleeping.set(agent.id, new Promise<void>((resolve) => (done = resolve)));
    try {
      await (handle?.suspend?.() ?? handle?.stop());
    } finally {
      // Nothing the old runtime says from now on counts, not even a context saved too late.
      services?.seal();
      if (agent.state === "HIBERNATING") {
        // Out of memory: from here on it is its store row (with the context it saved on the way out).
        registry.evict(agent);
        if (agent.crewId !== null) this.#crewSleeper(agent.crewId, agent, true);
      } else if (agent.state === "TERMINATED") {
        // Terminated while it went to sleep.
        for (const runtime of this.#deps.runtimes) runtime.forget?.(agent.id);
      }
      this.slept.emit(agent.id);
      this.#sleeping.delete(agent.id);
      done();
      await journal.commit();
    }
  }

  /** Affinity bindings outlive nothing forever: the set of bound sleepers is trimmed to those still bound. */
  #noteAsleep(id: string): void {
    const { asleep, dispatcher, maxBindings } = this.#deps;
    asleep.add(id);
    if (asleep.size > maxBindings) {
      for (const other of asleep) if (dispatcher.affinity.countFor(other) === 0) asleep.delete(other);
    }
  }

  #crewSleeper(crewId: string, agent: Sleeper, asleep: boolean): void {
    let sleepers = this.#crewSleepers.get(crewId);
    if (asleep) {
      if (sleepers === undefined) this.#crewSleepers.set(crewId, (sleepers = new Map<string, Sleeper>()));
      sleepers.set(agent.id, { id: agent.id, crewId, role: agent.role, profile: agent.profile, capabilities: agent.capabilities });
    } else if (sleepers !== undefined) {
      sleepers.delete(agent.id);
      if (sleepers.size === 0) this.#crewSleepers.delete(crewId);
    }
  }

  /** A crew is gone: its sleepers are no longer tracked. */
  forgetCrew(crewId: string): void {
    this.#crewSleepers.delete(crewId);
    this.#crewSleepersRead.delete(crewId);
  }

  /** A crew task found no free member: wake a sleeping member that can serve it, if there is one. */
  wakeCrewSleeperFor(crewId: string, target: LaneTarget): void {
    if (!this.#deps.crewAcceptsWork(crewId)) return;
    if (!this.#crewSleepersRead.has(crewId)) {
      // Members that went to sleep before this start are only in the store: read them the first
      // time the crew's work needs one (not at start, where most crews never will).
      this.#crewSleepersRead.add(crewId);
      void this.#deps.store.listAgents({ states: ["HIBERNATING"], crewId }).then(
        (stored) => {
          for (const sleeper of stored) if (this.#deps.registry.get(sleeper.id) === undefined) this.#crewSleeper(crewId, sleeper, true);
          this.wakeCrewSleeperFor(crewId, target);
        },
        (error: unknown) => this.#deps.logger.error(`the sleeping members of crew ${crewId} could not be read`, error),
      );
      return;
    }
    const sleepers = this.#crewSleepers.get(crewId);
    if (sleepers === undefined) return;
    for (const sleeper of sleepers.values()) {
      if (this.#waking.has(sleeper.id) || !targetMatches(target, sleeper)) continue;
      this.wake(sleeper.id, "a crew task needs it").catch((error: unknown) => this.#deps.logger.error(`agent ${sleeper.id} could not be woken`, error));
      return;
    }
  }

  /** The dispatcher holds a task for a sleeping agent: wake it; if it cannot wake, its lane lets go. */
  wakeForTask(agentId: string): void {
    this.wake(agentId, "a task waits for it").catch((error: unknown) => {
      // It ended (or never was): tasks addressed to it fail, tasks bound to it go elsewhere.
      this.#deps.asleep.delete(agentId);
      this.#deps.dispatcher.releaseAgentLane(agentId);
      if (!(isFactoryError(error) && (error.code === "ILLEGAL_TRANSITION" || error.code === "AGENT_NOT_FOUND"))) this.#deps.logger.error(`agent ${agentId} could not be woken`, error);
    });
  }

  /**
   * Brings a hibernated agent back: a hibernation still under way ends first, then its row is
   * read, it rejoins memory (HIBERNATING → WARMING) and its runtime starts with its saved
   * context. Resolves when it is READY. Concurrent wakes of one agent share one.
   */
  wake(id: string, reason: string): Promise<Agent> {
    const { registry, journal, store, profiles, waker } = this.#deps;
    const live = registry.get(id);
    if (live !== undefined && live.state !== "HIBERNATING") return this.#waking.get(id) ?? Promise.resolve(live);
    const pending = this.#waking.get(id);
    if (pending !== undefined) return pending;
    const started = Date.now();
    const waking = (async (): Promise<Agent> => {
      await this.#sleeping.get(id);
      const stored = await journal.read(() => store.getAgent(id));
      if (this.#wakeAborted.delete(id)) throw new FactoryError("ILLEGAL_TRANSITION", `agent ${id} was terminated while it was being woken`, { details: { current: "TERMINATED", requested: "WARMING" } });
      if (stored === undefined) throw new FactoryError("AGENT_NOT_FOUND", `no agent with id '${id}'`);
      // Woken meanwhile by another path, or never asleep.
      const again = registry.get(id);
      if (again !== undefined) return again;
      if (stored.state !== "HIBERNATING") {
        throw new FactoryError("ILLEGAL_TRANSITION", `agent ${id} is ${stored.state}; only a HIBERNATING agent can be woken`, { details: { current: stored.state, requested: "WARMING" } });
      }
      if (stored.crewId !== null) this.#crewSleeper(stored.crewId, stored, false);
      const profile = profiles.version(stored.profile, stored.profileVersion);
      stored.load = 0;
      registry.add(stored, `waking: ${reason}`);
      if (profile === undefined) {
        registry.transition(stored, "TERMINATED", `profile ${stored.profile} v${stored.profileVersion} is gone`);
        throw new FactoryError("PROFILE_NOT_FOUND", `agent ${id} cannot wake: profile ${stored.profile} v${stored.profileVersion} is gone`);
      }
      await waker.wake(stored, profile);
      this.#deps.asleep.delete(id);
      this.#woken++;
      this.#wakeMs.add(Date.now() - started);
      return stored;
    })();
    this.#waking.set(id, waking);
    const forget = (): void => {
      this.#waking.delete(id);
      this.#wakeAborted.delete(id);
    };
    waking.then(forget, forget);
    return waking;
  }

  /**
   * Ends a hibernated agent as read from the store: its row becomes TERMINATED (or, if it woke
   * meanwhile, `terminateLive` ends it live). A wake that has read the row but not yet brought
   * it back will not bring it back.
   */
  terminateSleeping(agent: Agent, reason: string, terminateLive: (live: Agent) => void): void {
    const { registry } = this.#deps;
    this.#deps.asleep.delete(agent.id);
    if (agent.crewId !== null) this.#crewSleeper(agent.crewId, agent, false);
    const live = registry.get(agent.id);
    if (live !== undefined) {
      if (live.state !== "DRAINING") terminateLive(live);
      return;
    }
    if (this.#waking.has(agent.id)) this.#wakeAborted.add(agent.id);
    registry.add(agent, "terminating a hibernated agent");
    registry.transition(agent, "TERMINATED", reason);
    for (const runtime of this.#deps.runtimes) runtime.forget?.(agent.id);
  }

  stats(): { hibernated: number; woken: number; wakeMs: DurationSummary } {
    return { hibernated: this.#hibernated, woken: this.#woken, wakeMs: this.#wakeMs.summary() };
  }
}
