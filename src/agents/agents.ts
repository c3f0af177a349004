import { snapshotAgent, type Agent } from "../core/agent.ts";
import { FactoryError } from "../core/errors.ts";
import { AGENT_STATES, type AgentState } from "../core/lifecycle.ts";
import { isPast, newestFirst, type ListPosition } from "../core/list-position.ts";
import type { Store } from "../core/ports/store.ts";
import { parseWith } from "../core/schemas/parse.ts";
import { ProfileSchema, type ProfileInput } from "../core/schemas/profile.ts";
import type { Hibernation } from "../health/hibernation.ts";
import type { AgentRegistry } from "../state/agent-registry.ts";
import type { Journal } from "../state/journal.ts";
import type { ProfileRegistry } from "../state/profile-registry.ts";
import type { Profiles } from "./profiles.ts";
import type { Spawner } from "./spawner.ts";

export interface SpawnRequest {
  /** A registered profile's name. */
  profile?: string;
  /** An inline profile: registered (as a new version if it changed), then spawned. */
  config?: ProfileInput;
  /** Instance name; defaults to the profile's name. */
  name?: string;
}

export interface AgentFilter {
  state?: AgentState;
  role?: string;
  crewId?: string;
  /** Only agents past this place in newest-first order (`spawnedAt`, id): the next page. */
  after?: ListPosition;
  limit?: number;
}

/** Where a crew-owned clone joins its crew (the crew manager, one folder over, satisfies it). */
export interface CrewMembership {
  requireOpen(crewId: string): unknown;
  addMember(crewId: string, agentId: string): void;
  /** Whether another node of the cluster runs the crew (this node runs some members). */
  isMirror(crewId: string): boolean;
}

export interface AgentsDeps {
  profiles: Profiles;
  profileRegistry: ProfileRegistry;
  spawner: Spawner;
  registry: AgentRegistry;
  hibernation: Pick<Hibernation, "terminateSleeping" | "hibernate" | "wake">;
  crews: CrewMembership;
  journal: Journal;
  store: Store;
}

/** Agents as operators see them: spawn, list, read, terminate, clone. */
export class Agents {
  readonly #deps: AgentsDeps;

  constructor(deps: AgentsDeps) {
    this.#deps = deps;
  }

  /** Spawns one agent outside any crew and resolves when it is READY. */
  async spawn(request: SpawnRequest): Promise<Agent> {
    if ((request.profile === undefined) === (request.config === undefined)) {
      throw new FactoryError("VALIDATION_FAILED", "give exactly one of 'profile' (a name) and 'config' (an inline profile)", { field: "profile" });
    }
    const profile =
      request.config !== undefined
        ? this.#deps.profiles.registerValidated(parseWith(ProfileSchema, request.config, "config"), "config").profile
        : this.#deps.profileRegistry.require(request.profile as string);
    const agent = await this.#deps.spawner.spawn(profile, request.name === undefined ? {} : { name: request.name });
    // Stored before the answer, so another node of a cluster finds the agent a next request names.
    await this.#deps.journal.commit();
    return snapshotAgent(agent);
  }

  /** Agents in memory (all but TERMINATED and HIBERNATING), newest first (`spawnedAt`, id); those two states are read from the store. */
  async list(filter: AgentFilter = {}): Promise<Agent[]> {
    const limit = filter.limit ?? 1000;
    if (filter.state === "TERMINATED" || filter.state === "HIBERNATING") {
      // These live in the store only.
      const state = filter.state;
      return this.#deps.journal.read(() =>
        this.#deps.store.listAgents({
          states: [state],
          ...(filter.role === undefined ? {} : { role: filter.role }),
          ...(filter.crewId === undefined ? {} : { crewId: filter.crewId }),
          ...(filter.after === undefined ? {} : { after: filter.after }),
          limit,
        }),
      );
    }
    const out: Agent[] = [];
    for (const agent of this.#deps.registry.values()) {
      if (filter.state !== undefined && agent.state !== filter.state) continue;
      if (filter.role !== undefined && agent.role !== filter.role) continue;
      if (filter.crewId !== undefined && agent.crewId !== filter.crewId) continue;
      if (filter.after !== undefined && !isPast(agentPosition(agent), filter.after)) continue;
      out.push(agent);
    }
    const here = out.map(snapshotAgent);
    // A store several nodes share: the other nodes' agents too, as they last wrote them.
    if (this.#deps.store.ownerOf !== undefined) {
      const states = filter.state === undefined ? AGENT_STATES.filter((st) => st !== "TERMINATED" && st !== "HIBERNATING") : [filter.state];
      const stored = await this.#deps.journal.read(() =>
        this.#deps.store.listAgents({
          states,
          ...(filter.role === undefined ? {} : { role: filter.role }),
          ...(filter.crewId === undefined ? {} : { crewId: filter.crewId }),
          ...(filter.after === undefined ? {} : { after: filter.after }),
          limit,
        }),
      );
      const mine = new Set(here.map((a) => a.id));
      for (const agent of stored) if (!mine.has(agent.id) && this.#deps.registry.get(agent.id) === undefined) here.push(agent);
    }
    here.sort((a, b) => newestFirst(agentPosition(a), agentPosition(b)));
    return here.slice(0, limit);
  }

  async get(id: string): Promise<Agent> {
    const live = this.#deps.registry.get(id);
    if (live !== undefined) return snapshotAgent(live);
    const stored = await this.#deps.journal.read(() => this.#deps.store.getAgent(id));
    if (stored === undefined) throw new FactoryError("AGENT_NOT_FOUND", `no agent with id '${id}'`);
    return stored;
  }

  /** Drains and terminates an agent (at once if it runs nothing). Terminating a TERMINATED agent is a 409. */
  async terminate(id: string): Promise<Agent> {
    const { registry, spawner, hibernation, journal, store } = this.#deps;
    const agent = registry.get(id);
    if (agent === undefined) {
      const stored = await this.get(id);
      if (stored.state === "HIBERNATING") {
        // Asleep: nothing runs, so it ends at once (its workspace goes with it).
        const reason = "terminated by request";
        hibernation.terminateSleeping(stored, reason, (live) => spawner.terminate(live, reason));
        return (await journal.read(() => store.getAgent(id))) ?? stored;
      }
      throw new FactoryError("ILLEGAL_TRANSITION", `agent ${id} cannot go from ${stored.state} to DRAINING`, {
        details: { current: stored.state, requested: "DRAINING" },
      });
    }
    if (agent.state !== "DRAINING") spawner.terminate(agent, "terminated by request");
    return snapshotAgent(agent);
  }

  /** Puts a live agent to sleep (an agent already asleep comes back as it is). */
  async hibernate(id: string): Promise<Agent> {
    const agent = this.#deps.registry.get(id);
    if (agent === undefined) {
      const stored = await this.get(id);
      if (stored.state === "HIBERNATING") return stored;
      throw new FactoryError("ILLEGAL_TRANSITION", `agent ${id} cannot go from ${stored.state} to HIBERNATING`, { details: { current: stored.state, requested: "HIBERNATING" } });
    }
    await this.#deps.hibernation.hibernate(agent, "hibernated by request");
    return snapshotAgent(agent);
  }

  /** Wakes a hibernated agent and resolves when it is READY; an awake agent comes back as it is. */
  async wake(id: string): Promise<Agent> {
    return snapshotAgent(await this.#deps.hibernation.wake(id, "woken by request"));
  }

  /**
   * Clones a live agent for fan-out: a new agent of the same profile version, in the same crew,
   * starting from the source's saved context. (What the source is computing right now is not
   * copied: only what it saved with `saveContext`.)
   */
  async cloneLive(id: string): Promise<Agent> {
    const source = this.#deps.registry.get(id);
    if (source === undefined) throw new FactoryError("AGENT_NOT_FOUND", `no live agent with id '${id}'`);
    return snapshotAgent(await this.clone(source, `clone of ${source.id}`));
  }

  /** A clone of `source` (the pools' fan-out uses it too). */
  async clone(source: Agent, reason: string): Promise<Agent> {
    const profile = this.#deps.profileRegistry.version(source.profile, source.profileVersion);
    if (profile === undefined) throw new FactoryError("PROFILE_NOT_FOUND", `profile ${source.profile} v${source.profileVersion} is gone`);
    if (source.crewId !== null) {
      this.#deps.crews.requireOpen(source.crewId);
      // Checked before anything is spawned: a clone the crew could not take would be left over.
      if (this.#deps.crews.isMirror(source.crewId)) {
        throw new FactoryError("VALIDATION_FAILED", `agent ${source.id} is a member of crew ${source.crewId}, which another node of the cluster runs: members of a crew spread over nodes are not cloned`, { field: "id" });
      }
    }
    // The source's scopes, not its profile's: a member its crew's manifest narrowed stays narrowed.
    const clone = await this.#deps.spawner.spawn(profile, { crewId: source.crewId, reason, context: source.context, name: `${source.name}-clone`, scopes: source.scopes, ...(source.network === undefined ? {} : { network: source.network }) });
    if (source.crewId !== null) {
      try {
        this.#deps.crews.addMember(source.crewId, clone.id);
      } catch (error) {
        this.#deps.spawner.terminate(clone, "its crew could not take it");
        throw error;
      }
    }
    return clone;
  }
}

/** An agent's place in newest-first listings. */
function agentPosition(agent: Agent): ListPosition {
  return { at: agent.spawnedAt, id: agent.id };
}
