import type { Agent } from "../core/agent.ts";
import type { Crew } from "../core/crew.ts";
import { FactoryError } from "../core/errors.ts";
import type { AgentModelRequest, ModelCallResult } from "../core/model-call.ts";
import type { Store } from "../core/ports/store.ts";
import type { ProfileRecord } from "../core/schemas/profile.ts";
import type { Peers } from "../cluster/peers.ts";
import type { CrewHome } from "../agents/agent-calls.ts";
import type { CrewManager, CrewPeers } from "../crews/crew-manager.ts";
import type { Journal } from "../state/journal.ts";

/** The node-to-node routes a crew spread over several nodes uses (documented in the OpenAPI document under `cluster`). */
export const CLUSTER_ROUTES = {
  members: (crewId: string) => `/v1/cluster/crews/${encodeURIComponent(crewId)}/members`,
  signals: (crewId: string) => `/v1/cluster/crews/${encodeURIComponent(crewId)}/signals`,
  modelCalls: "/v1/cluster/model-calls",
};

/** What a crew needs of the other nodes, over their APIs; undefined unless the store is shared (a cluster). */
export function crewPeersOver(peers: Peers, store: Store): CrewPeers | undefined {
  const ownerOf = store.ownerOf?.bind(store);
  if (ownerOf === undefined) return undefined;
  return {
    nodes: async () => (await peers.others()).map((n) => n.id),
    spawnMember: (node: string, crew: Crew, profile: ProfileRecord, name: string, scopes?: readonly string[]) =>
      peers.post<Agent>(node, CLUSTER_ROUTES.members(crew.id), { crew, profile, name, ...(scopes === undefined ? {} : { scopes }) }),
    async terminateMember(agentId: string) {
      const node = await ownerOf("agent", agentId);
      if (typeof node === "string" && node !== peers.self) await peers.call(node, "DELETE", `/v1/agents/${encodeURIComponent(agentId)}`);
    },
    signal: async (node, crewId, agentIds, signal, payload, at) =>
      (await peers.post<{ delivered: number }>(node, CLUSTER_ROUTES.signals(crewId), { agentIds, signal, payload, at })).delivered,
    async nodesOf(agentIds) {
      const pairs = await Promise.all(agentIds.map(async (id) => [id, await ownerOf("agent", id)] as const));
      return new Map(pairs.filter((p): p is readonly [string, string] => typeof p[1] === "string"));
    },
  };
}

/** Model calls of members of a crew another node owns go to that node; undefined unless the store is shared. */
export function crewHomeOver(peers: Peers, store: Store, crews: CrewManager, journal: Pick<Journal, "commit">): CrewHome | undefined {
  const ownerOf = store.ownerOf?.bind(store);
  if (ownerOf === undefined) return undefined;
  return {
    isRemote: (crewId) => crews.isMirror(crewId),
    async callModel(crewId: string, agentId: string, taskId: string, request: AgentModelRequest): Promise<ModelCallResult> {
      // Looked up for each call: after a take-over the crew is another node's.
      const node = await ownerOf("crew", crewId);
      if (typeof node !== "string") throw new FactoryError("CREW_NOT_FOUND", `no node owns crew '${crewId}'`);
      const { signal, ...rest } = request;
      // The crew's node checks the attempt against the store: it must be stored first.
      await journal.commit();
      return peers.post<ModelCallResult>(node, CLUSTER_ROUTES.modelCalls, { crewId, agentId, taskId, request: rest }, signal);
    },
  };
}
