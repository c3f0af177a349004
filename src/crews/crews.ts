import type { Agent } from "../core/agent.ts";
import { snapshotCrew, type Crew, type CrewMessage, type CrewState } from "../core/crew.ts";
import { FactoryError } from "../core/errors.ts";
import { isPast, newestFirst, type ListPosition } from "../core/list-position.ts";
import type { Unsubscribe } from "../core/ports/bus.ts";
import type { Store } from "../core/ports/store.ts";
import { CrewManifestSchema, type CrewManifest, type CrewManifestInput } from "../core/schemas/manifest.ts";
import { parseWith } from "../core/schemas/parse.ts";
import { snapshotAgent } from "../core/agent.ts";
import type { Ledger } from "../economics/ledger.ts";
import type { Hibernation } from "../health/hibernation.ts";
import type { Journal } from "../state/journal.ts";
import type { AgentRegistry } from "../state/agent-registry.ts";
import type { Spawner } from "../agents/spawner.ts";
import type { Agents } from "../agents/agents.ts";
import type { CrewManager } from "./crew-manager.ts";

export interface CrewFilter {
  state?: CrewState;
  /** Only crews past this place in newest-first order (`createdAt`, id): the next page. */
  after?: ListPosition;
  limit?: number;
}

export interface CrewsDeps {
  manager: CrewManager;
  registry: AgentRegistry;
  spawner: Pick<Spawner, "terminate">;
  hibernation: Pick<Hibernation, "terminateSleeping" | "forgetCrew">;
  ledger: Ledger;
  journal: Journal;
  store: Store;
  /** Agents live or as stored. */
  agents: Pick<Agents, "get">;
}

/**
 * Crews as operators see them: assembly (with the manifest's budget granted to the crew
 * wallet), reading live or stored crews, signals, the bus, shared context, and disbanding
 * (members asleep in the store end too).
 */
export class Crews {
  readonly #deps: CrewsDeps;

  constructor(deps: CrewsDeps) {
    this.#deps = deps;
  }

  /** Throws CREW_NOT_ACTIVE (409) for a crew that exists but is disbanded, CREW_NOT_FOUND (404) otherwise. */
  async requireOpen(crewId: string): Promise<void> {
    const { manager, journal, store } = this.#deps;
    if (manager.get(crewId) !== undefined) {
      manager.requireOpen(crewId);
      return;
    }
    const stored = await journal.read(() => store.getCrew(crewId));
    if (stored === undefined) throw new FactoryError("CREW_NOT_FOUND", `no crew with id '${crewId}'`, { field: "crewId" });
    throw new FactoryError("CREW_NOT_ACTIVE", `crew ${crewId} is ${stored.state}`, { field: "crewId", details: { current: stored.state } });
  }

  /** Spawns every member; resolves when all are READY. On any failure nothing of the crew remains. */
  async assemble(manifest: CrewManifestInput | CrewManifest, options: { requestId?: string } = {}): Promise<{ crew: Crew; agents: Agent[] }> {
    const { crew, agents } = await this.#deps.manager.assemble(parseWith(CrewManifestSchema, manifest, "manifest"), options);
    // The manifest's budget becomes the crew wallet's credits once the crew stands.
    if (crew.budget !== null && crew.budget > 0) this.#deps.ledger.grant(crew.walletAddress, crew.budget, { crewId: crew.id, memo: "crew budget (manifest)" });
    // Stored before the answer: a task for the crew sent next through another node of a cluster
    // must find it there (ACTIVE, on this node), not miss it in a write batch not yet flushed.
    await this.#deps.journal.commit();
    return { crew: snapshotCrew(crew), agents: agents.map(snapshotAgent) };
  }

  async get(id: string): Promise<Crew> {
    const live = this.#deps.manager.get(id);
    if (live !== undefined) return snapshotCrew(live);
    const stored = await this.#deps.journal.read(() => this.#deps.store.getCrew(id));
    if (stored === undefined) throw new FactoryError("CREW_NOT_FOUND", `no crew with id '${id}'`);
    return stored;
  }

  /** Crews not yet disbanded, newest first (`createdAt`, id); `state: "DISBANDED"` reads the store. */
  async list(filter: CrewFilter = {}): Promise<Crew[]> {
    const limit = filter.limit ?? 1000;
    if (filter.state === "DISBANDED") {
      return this.#deps.journal.read(() => this.#deps.store.listCrews({ states: ["DISBANDED"], limit, ...(filter.after === undefined ? {} : { after: filter.after }) }));
    }
    const after = filter.after;
    const out = [...this.#deps.manager.values()].filter((c) => (filter.state === undefined || c.state === filter.state) && (after === undefined || isPast({ at: c.createdAt, id: c.id }, after)));
    const here = out.map(snapshotCrew);
    // A store several nodes share: the other nodes' crews too, as they last wrote them.
    if (this.#deps.store.ownerOf !== undefined) {
      const states = filter.state === undefined ? (["ASSEMBLING", "ACTIVE", "PAUSED", "DISBANDING"] as const) : [filter.state];
      const stored = await this.#deps.journal.read(() => this.#deps.store.listCrews({ states: [...states], limit, ...(after === undefined ? {} : { after }) }));
      for (const crew of stored) if (this.#deps.manager.get(crew.id) === undefined) here.push(crew);
    }
    here.sort((a, b) => newestFirst({ at: a.createdAt, id: a.id }, { at: b.createdAt, id: b.id }));
    return here.slice(0, limit);
  }

  /** How many crews are live (not yet disbanded). */
  get size(): number {
    return this.#deps.manager.size;
  }

  /** Live crews (not yet disbanded) counted by state. */
  countByState(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const crew of this.#deps.manager.values()) counts[crew.state] = (counts[crew.state] ?? 0) + 1;
    return counts;
  }

  /** The crew's members as they are now (live or as last stored). */
  members(crew: Crew): Promise<Agent[]> {
    return Promise.all(crew.agentIds.map((id) => this.#deps.agents.get(id)));
  }

  /** Delivers `signal` to every member; PAUSE stops the crew taking tasks, RESUME restarts it. */
  async broadcast(crewId: string, signal: string, payload?: unknown): Promise<CrewMessage> {
    await this.requireOpen(crewId);
    return this.#deps.manager.broadcast(crewId, signal, payload ?? null);
  }

  async publish(crewId: string, topic: string, payload?: unknown): Promise<CrewMessage> {
    await this.requireOpen(crewId);
    const message = await this.#deps.manager.publish(crewId, topic, payload ?? null);
    await this.#deps.journal.commit();
    return message;
  }

  /** Subscribes to a crew topic (`signals` carries broadcasts). */
  subscribe(crewId: string, topic: string, handler: (message: CrewMessage) => void): Unsubscribe {
    return this.#deps.manager.subscribe(crewId, topic, handler);
  }

  async listMessages(crewId: string, options: { topic?: string; afterSeq?: number; limit?: number } = {}): Promise<Array<CrewMessage & { seq: number }>> {
    await this.get(crewId);
    return this.#deps.manager.listMessages(crewId, options);
  }

  async getContext(crewId: string): Promise<Record<string, unknown>> {
    await this.get(crewId);
    return this.#deps.journal.read(() => this.#deps.store.getContext(crewId));
  }

  async setContext(crewId: string, key: string, value: unknown): Promise<void> {
    await this.requireOpen(crewId);
    return this.#deps.manager.setContext(crewId, key, value);
  }

  async deleteContext(crewId: string, key: string): Promise<void> {
    await this.requireOpen(crewId);
    return this.#deps.manager.deleteContext(crewId, key);
  }

  /** Cancels the crew's queued tasks, drains and terminates its members (those asleep in the store too). */
  async disband(id: string): Promise<Crew> {
    const { manager, registry, store, hibernation, spawner } = this.#deps;
    if (manager.get(id) === undefined) {
      const stored = await this.get(id);
      throw new FactoryError("CREW_NOT_ACTIVE", `crew ${id} is already ${stored.state}`, { details: { current: stored.state } });
    }
    const members = [...(manager.get(id)?.agentIds ?? [])];
    const crew = snapshotCrew(manager.disband(id));
    hibernation.forgetCrew(id);
    // Its sleeping members in one read, not one per member (a crew may have thousands).
    const asleep = members.length === 0 ? [] : await store.listAgents({ states: ["HIBERNATING"], crewId: id, limit: members.length });
    const isMember = new Set(members);
    for (const stored of asleep) {
      if (!isMember.has(stored.id) || registry.get(stored.id) !== undefined) continue;
      hibernation.terminateSleeping(stored, "its crew was disbanded", (live) => spawner.terminate(live, "its crew was disbanded"));
    }
    await this.#deps.journal.commit();
    return crew;
  }
}
