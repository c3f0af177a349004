import { snapshotAgent, type Agent } from "../core/agent.ts";
import type { Crew } from "../core/crew.ts";
import { FactoryError } from "../core/errors.ts";
import type { AgentModelRequest, ModelCallResult } from "../core/model-call.ts";
import type { ProfileRecord } from "../core/schemas/profile.ts";
import type { Store } from "../core/ports/store.ts";
import type { ProfileRegistry } from "../state/profile-registry.ts";
import type { AgentCalls } from "../agents/agent-calls.ts";
import type { Spawner } from "../agents/spawner.ts";
import type { CrewManager } from "./crew-manager.ts";

export interface CrewHostDeps {
  /** The shared store: the crew and the task a call is for are read from it, not taken on a peer's word. */
  store: Pick<Store, "getCrew" | "getTask">;
  crewManager: CrewManager;
  profileRegistry: ProfileRegistry;
  spawner: Spawner;
  agentCalls: Pick<AgentCalls, "callModelFor">;
}

/**
 * This node's part in crews whose members run on several nodes: it runs members of a crew
 * another node owns (keeping a mirror of the crew), delivers that crew's signals to them, and,
 * for a crew it owns, makes the model calls of members other nodes run (its wallet pays).
 */
export class CrewHost {
  readonly #deps: CrewHostDeps;

  constructor(deps: CrewHostDeps) {
    this.#deps = deps;
  }

  /** Spawns a member of another node's crew here; resolves once it is READY. */
  async spawnMember(asked: Crew, profile: ProfileRecord, name: string, scopes?: readonly string[]): Promise<Agent> {
    const { crewManager, profileRegistry, spawner } = this.#deps;
    if (crewManager.get(asked.id) !== undefined && !crewManager.isMirror(asked.id)) {
      throw new FactoryError("VALIDATION_FAILED", `crew ${asked.id} is this node's own: spawn its members through the crew`, { field: "crew" });
    }
    // The crew as its node stored it (before asking), not as the request says.
    const crew = await this.#openCrew(asked.id);
    // The version the crew's node resolved: the same one runs here (a version is immutable).
    profileRegistry.load([profile]);
    const version = profileRegistry.version(profile.name, profile.version);
    if (version === undefined) throw new FactoryError("PROFILE_NOT_FOUND", `profile ${profile.name} v${profile.version} could not be taken`, { field: "profile" });
    crewManager.mirror({ ...crew, agentIds: [] });
    const agent = await spawner.spawn(version, { crewId: crew.id, name, ...(scopes === undefined ? {} : { scopes }) });
    try {
      // Ended while the member started (its assembly failed or timed out): the member goes too.
      await this.#openCrew(crew.id);
    } catch (error) {
      spawner.terminate(agent, "its crew ended while it started");
      throw error;
    }
    // The mirror lists the members this node runs: its tasks are matched against them here.
    crewManager.mirror({ ...crew, agentIds: [agent.id] });
    return snapshotAgent(agent);
  }

  async #openCrew(crewId: string): Promise<Crew> {
    const crew = await this.#deps.store.getCrew(crewId);
    if (crew === undefined) throw new FactoryError("CREW_NOT_FOUND", `no crew with id '${crewId}' in the store`, { field: "crew" });
    if (crew.state === "DISBANDING" || crew.state === "DISBANDED") throw new FactoryError("CREW_NOT_ACTIVE", `crew ${crewId} is ${crew.state}`, { details: { current: crew.state } });
    return crew;
  }

  /** Delivers a signal of another node's crew to those of its members this node runs. */
  deliverSignal(crewId: string, agentIds: readonly string[], signal: string, payload: unknown, at: string): Promise<number> {
    return this.#deps.crewManager.deliverSignal(crewId, agentIds, signal, payload, at);
  }

  /** A model call of a member of a crew this node owns, made here for the node that runs the member. */
  async callModel(crewId: string, agentId: string, taskId: string, request: AgentModelRequest): Promise<ModelCallResult> {
    const { crewManager } = this.#deps;
    const crew = crewManager.get(crewId);
    if (crew === undefined || crewManager.isMirror(crewId)) throw new FactoryError("CREW_NOT_FOUND", `crew '${crewId}' is not this node's`, { field: "crewId" });
    if (!crew.agentIds.includes(agentId)) throw new FactoryError("VALIDATION_FAILED", `agent ${agentId} is not a member of crew ${crewId}`, { field: "agentId" });
    // The member's node stores the attempt before it asks: the call must be for a task of the crew the member runs now.
    const task = await this.#deps.store.getTask(taskId);
    if (task === undefined || task.agentId !== agentId || task.crewId !== crewId || (task.state !== "ASSIGNED" && task.state !== "RUNNING")) {
      throw new FactoryError("NOT_YOUR_TASK", `task ${taskId} is not an attempt agent ${agentId} of crew ${crewId} runs now`, { field: "taskId" });
    }
    // The member's own wallet is never the payer here: a crew's members pay from its wallet.
    return this.#deps.agentCalls.callModelFor(crewId, agentId, crew.walletAddress, taskId, request);
  }
}
