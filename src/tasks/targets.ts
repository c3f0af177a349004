import type { Store } from "../core/ports/store.ts";
import type { BalancerName, ProfileRecord } from "../core/schemas/profile.ts";
import { laneKey, targetMatches, type LaneTarget } from "../scheduler/lane.ts";
import type { AgentRegistry } from "../state/agent-registry.ts";
import type { Journal } from "../state/journal.ts";
import type { ProfileRegistry } from "../state/profile-registry.ts";
import type { CrewManager } from "../crews/crew-manager.ts";
import { noSuchTargetError, type TargetCandidate } from "./no-such-target.ts";

const DEFAULT_QUEUE_DEPTH = 100;

export interface TargetsDeps {
  profiles: ProfileRegistry;
  registry: AgentRegistry;
  crews: CrewManager;
  journal: Journal;
  store: Store;
}

/**
 * What a task's target (role, profile, capabilities, crew or agent) means: which profiles could
 * serve it, its lane's default balancer and queue depth, and whether anything ever could.
 */
export class Targets {
  readonly #deps: TargetsDeps;
  readonly #balancerCache = new Map<string, { epoch: number; name: BalancerName }>();
  /** Crewless targets a profile was found to serve, by lane key, with the profiles' epoch then. */
  readonly #servedByProfile = new Map<string, number>();

  constructor(deps: TargetsDeps) {
    this.#deps = deps;
  }

  /** The latest profiles whose agents could serve a target (for queue depth and the default balancer). */
  profilesFor(target: LaneTarget): ProfileRecord[] {
    return this.#deps.profiles.list().filter(
      (p) =>
        (target.profile === null || p.name === target.profile) &&
        (target.role === null || p.role === target.role) &&
        target.capabilities.every((c) => p.capabilities.includes(c)),
    );
  }

  /** The balancer a lane uses when its tasks name none: the one its profiles agree on, else least-loaded. */
  defaultBalancer(target: LaneTarget): BalancerName {
    // Per lane, until a profile is registered: this is on the dispatch path.
    const key = laneKey(target);
    const epoch = this.#deps.profiles.epoch;
    const cached = this.#balancerCache.get(key);
    if (cached !== undefined && cached.epoch === epoch) return cached.name;
    const names = new Set(this.profilesFor(target).map((p) => p.pool.balancer));
    const name: BalancerName = names.size === 1 ? ([...names][0] as BalancerName) : "least-loaded";
    this.#balancerCache.set(key, { epoch, name });
    return name;
  }

  /** How many tasks a lane holds before refusing more (QUEUE_FULL): its profiles' largest queueDepth. */
  queueDepth(target: LaneTarget): number {
    if (target.agentId !== null) {
      const agent = this.#deps.registry.get(target.agentId);
      return (agent === undefined ? undefined : this.#deps.profiles.latest(agent.profile)?.pool.queueDepth) ?? DEFAULT_QUEUE_DEPTH;
    }
    return Math.max(0, ...this.profilesFor(target).map((p) => p.pool.queueDepth)) || DEFAULT_QUEUE_DEPTH;
  }

  /**
   * Refuses a task that nothing could ever serve (NO_SUCH_TARGET, 422, naming the closest known
   * names): in a crew, no member — awake or asleep — matches its role, profile and capabilities;
   * outside crews, no registered profile and no agent does. A task that one could serve is
   * accepted even while no agent runs for it (spawned on demand, started by hand, or asleep):
   * `listWaiting()` and the pools show it waiting.
   */
  async requireServable(target: LaneTarget): Promise<void> {
    const { profiles, registry, crews } = this.#deps;
    const matches = (c: TargetCandidate): boolean => targetMatches(target, { id: "", crewId: target.crewId, ...c });
    const known: TargetCandidate[] = [];
    if (target.crewId === null) {
      // On the submit path: a target a profile serves stays served until the profiles change.
      const key = laneKey(target);
      if (this.#servedByProfile.get(key) === profiles.epoch) return;
      for (const p of profiles.list()) {
        const asAgent = { role: p.role, profile: p.name, capabilities: p.capabilities };
        if (matches(asAgent)) {
          if (this.#servedByProfile.size >= 10_000) this.#servedByProfile.clear();
          this.#servedByProfile.set(key, profiles.epoch);
          return;
        }
        known.push(asAgent);
      }
      // Agents of older profile versions may serve what the latest versions no longer do.
      for (const agent of registry.values()) {
        if (agent.crewId !== null) continue;
        if (matches(agent)) return;
        known.push(agent);
      }
    } else {
      const crew = crews.get(target.crewId);
      // A crew still assembling lists its members once all stand; they are in the registry from their first state.
      const members = crew?.state === "ASSEMBLING" ? registry.values() : (crew?.agentIds ?? []).values();
      for (const member of members) {
        const agent = typeof member === "string" ? registry.get(member) : member;
        if (agent === undefined || agent.crewId !== target.crewId) continue;
        if (matches(agent)) return;
        known.push(agent);
      }
    }
    // The last resort, read from the store: agents asleep (a task for them wakes one).
    const asleep = await this.#deps.journal.read(() => this.#deps.store.listAgents({ states: ["HIBERNATING"], ...(target.crewId === null ? {} : { crewId: target.crewId }), limit: 10_000 }));
    for (const agent of asleep) {
      if (agent.crewId !== target.crewId || registry.get(agent.id) !== undefined) continue;
      if (matches(agent)) return;
      known.push(agent);
    }
    throw noSuchTargetError(target, known);
  }
}
