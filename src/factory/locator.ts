import type { OwnedKind } from "../core/ports/store.ts";
import type { FactoryParts } from "./wiring.ts";

/** Where an agent, crew or task lives: here, on another node (and whether that node answers), or nowhere known. */
export type Location = { on: "here" } | { on: "node"; node: string; url: string | null; alive: boolean } | { on: "unknown" };

/**
 * Finds the node that owns an agent, crew or task, so a request for it made to any node is
 * answered by the node that runs it. Live things of this node are found in memory; others by
 * their row's owner in a store several nodes share. Alone on its store, everything is here.
 */
export class Locator {
  readonly #parts: FactoryParts;

  constructor(parts: FactoryParts) {
    this.#parts = parts;
  }

  async locate(kind: OwnedKind, id: string): Promise<Location> {
    const { registry, crewManager, book, deps, node } = this.#parts;
    // A wallet is found by its owner's row in the store (transfers are rare; no index of them in memory).
    // A crew this node only mirrors (it runs some members) is its owner's to answer for.
    const local = kind === "agent" ? registry.get(id) : kind === "crew" ? (crewManager.isMirror(id) ? undefined : crewManager.get(id)) : kind === "task" ? book.find(id) : undefined;
    if (local !== undefined || deps.store.ownerOf === undefined) return { on: "here" };
    const owner = await deps.store.ownerOf(kind, id);
    if (owner === undefined) return { on: "unknown" };
    if (owner === null || owner === node.id) return { on: "here" };
    const info = (await this.#parts.recentNodes()).find((n) => n.id === owner);
    return { on: "node", node: owner, url: info?.url ?? null, alive: info?.alive === true };
  }

  /**
   * Where a submitted task should go: its agent's node; else this node when one of its live
   * agents fits (the crew's members for a crew's task; no network hop), else a live node whose
   * agent fits; else the crew's node, or here (it queues, spawns on demand, or says
   * NO_SUCH_TARGET). A crew task with a reward goes to the crew's node, which pays it.
   */
  async placeTask(request: { role?: string | undefined; profile?: string | undefined; crewId?: string | undefined; agentId?: string | undefined; reward?: unknown }): Promise<Location> {
    const crewId = request.crewId ?? null;
    // A reward is paid from the crew's wallet, which only its own node debits: the task runs
    // there, even when it names a member another node runs (that node would refuse it).
    if (crewId !== null && request.reward !== undefined) return this.locate("crew", crewId);
    if (request.agentId !== undefined) return this.locate("agent", request.agentId);
    const { registry, deps, node } = this.#parts;
    if (deps.store.ownerOf === undefined || (request.role === undefined && request.profile === undefined)) return crewId === null ? { on: "here" } : this.locate("crew", crewId);
    // A crew's task goes to a member that fits, wherever it runs (a crew may span nodes); the crew's own node when none does.
    const fits = (a: { role: string; profile: string; crewId: string | null; state: string }): boolean =>
      a.crewId === crewId && a.state !== "TERMINATED" && a.state !== "DRAINING" && (request.role === undefined || a.role === request.role) && (request.profile === undefined || a.profile === request.profile);
    for (const agent of registry.values()) if (fits(agent)) return { on: "here" };
    const elsewhere = await deps.store.listAgents({
      states: ["READY", "BUSY", "IDLE", "WARMING", "PROVISIONING"],
      ...(request.role === undefined ? {} : { role: request.role }),
      ...(crewId === null ? {} : { crewId }),
      limit: 1000,
    });
    const alive = new Map((await this.#parts.recentNodes()).filter((n) => n.alive && n.url !== null).map((n) => [n.id, n.url as string]));
    for (const agent of elsewhere) {
      const url = alive.get(agent.nodeId);
      if (agent.nodeId !== node.id && url !== undefined && fits(agent)) return { on: "node", node: agent.nodeId, url, alive: true };
    }
    return crewId === null ? { on: "here" } : this.locate("crew", crewId);
  }
}
