import type { Agent } from "../core/agent.ts";
import { targetMatches, type Lane } from "./lane.ts";

/** Free agents of one (crew, profile version): they are interchangeable for matching. */
export interface AgentGroup {
  sample: Pick<Agent, "id" | "crewId" | "role" | "profile" | "capabilities">;
  agents: Set<Agent>;
  /** The agent of the group that became free last. */
  lastFreed: Agent | undefined;
  lanesEpoch: number;
  lanes: Lane[];
}

const groupKey = (agent: Agent): string => `${agent.crewId ?? ""}|${agent.profile}|${agent.profileVersion}`;

/**
 * The agents free to take work now, in groups of one crew and profile version. Matching asks
 * which groups can serve a lane and which lanes a group can serve; both answers are cached
 * (on the lane, on the group) until a group or a lane appears, so a dispatch does not scan
 * every agent or every lane.
 */
export class FreeAgents {
  readonly #groups = new Map<string, AgentGroup>();
  #groupsEpoch = 0;
  #count = 0;

  /** Agents free now. */
  get count(): number {
    return this.#count;
  }

  /** The agent's group (made the first time one of its crew and profile version is seen). */
  groupOf(agent: Agent): AgentGroup {
    const key = groupKey(agent);
    let group = this.#groups.get(key);
    if (group === undefined) {
      group = {
        sample: { id: agent.id, crewId: agent.crewId, role: agent.role, profile: agent.profile, capabilities: [...agent.capabilities] },
        agents: new Set(),
        lastFreed: undefined,
        lanesEpoch: -1,
        lanes: [],
      };
      this.#groups.set(key, group);
      this.#groupsEpoch++;
    }
    return group;
  }

  /** Marks the agent free or not; one that becomes free is its group's `lastFreed`. */
  set(agent: Agent, free: boolean): void {
    const group = this.groupOf(agent);
    if (!free) {
      if (group.agents.delete(agent)) this.#count--;
      return;
    }
    if (!group.agents.has(agent)) {
      group.agents.add(agent);
      group.lastFreed = agent;
      this.#count++;
    }
  }

  /** No agent is free any more (at shutdown). */
  clear(): void {
    for (const group of this.#groups.values()) group.agents.clear();
    this.#count = 0;
  }

  /**
   * The free agents that can serve a (non-agent) lane, lazily in the order they became free per
   * group, and each group's last freed one (a hint for the balancers).
   */
  candidates(lane: Lane): { agents: Iterable<Agent>; recent: Agent[] } {
    if (lane.groupsEpoch !== this.#groupsEpoch) {
      lane.groups = [...this.#groups.values()].filter((g) => targetMatches(lane.target, g.sample));
      lane.groupsEpoch = this.#groupsEpoch;
    }
    const groups = lane.groups;
    const recent: Agent[] = [];
    for (const group of groups) if (group.lastFreed !== undefined && group.agents.has(group.lastFreed)) recent.push(group.lastFreed);
    return { agents: agentsOf(groups), recent };
  }

  /** The lanes (of `lanes`, last added to at `lanesEpoch`) an agent of this group can serve; cached until a lane appears. */
  lanesFor(group: AgentGroup, lanes: ReadonlyMap<string, Lane>, lanesEpoch: number): readonly Lane[] {
    if (group.lanesEpoch !== lanesEpoch) {
      group.lanes = [...lanes.values()].filter((l) => l.target.agentId === null && targetMatches(l.target, group.sample));
      group.lanesEpoch = lanesEpoch;
    }
    return group.lanes;
  }
}

/** The free agents of some groups, lazily, in the order they became free. */
function* agentsOf(groups: ReadonlyArray<{ agents: ReadonlySet<Agent> }>): Generator<Agent> {
  for (const group of groups) yield* group.agents;
}
