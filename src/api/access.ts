import type { OperatorRole } from "../core/operator-key.ts";

/**
 * How a crew-limited key's request is tied to crews, per operation:
 * - `crewless`: about no crew (profiles, pools, nodes, models, spawning a crewless agent,
 *   assembling a new crew, keys, chaos): refused to a crew-limited key;
 * - `crewPath` / `agentPath` / `taskPath` / `walletPath`: one thing named in the path, whose crew must be one of the key's;
 * - `crewList`: a list of crews, cut to the key's; `itemList`: a list of things with a `crewId`,
 *   cut to the key's crews (a `crewId` query must be one of them);
 * - `crewQuery`: a read across things that must name one of the key's crews in `crewId` (the event stream, the ledger report);
 * - `taskBody` / `routeBody`: the body's `crewId` must be one of the key's crews (and its `agentId`, if any, in one);
 * - `agentBody`: the body's `agentId` must be an agent of one of the key's crews (a tool call with that agent's rights);
 * - `grantBody` / `transferBody`: every wallet in the body must be of the key's crews or their agents;
 * - `budgetPath` / `budgetList`: a budget of one of the key's crews or their agents (never `global`).
 */
export type CrewScope =
  | "crewless"
  | "crewPath"
  | "agentPath"
  | "taskPath"
  | "walletPath"
  | "crewList"
  | "itemList"
  | "crewQuery"
  | "taskBody"
  | "agentBody"
  | "routeBody"
  | "grantBody"
  | "transferBody"
  | "budgetPath"
  | "budgetList";

export interface Access {
  /** The weakest role that may call it. */
  role: OperatorRole;
  /** What ties it to crews, for a crew-limited key. */
  crews: CrewScope;
}

/**
 * The one table of who may call what, by operationId: the middleware enforces it and the OpenAPI
 * document shows it (`x-required-role`, `x-crew-scope`). A route missing here is refused to every
 * key but admin (and a test fails). Reads are `viewer`; changes `operator`; keys, chaos actions and
 * the node-to-node routes `admin`.
 */
export const ACCESS: Readonly<Record<string, Access>> = {
  // profiles: shared definitions, not a crew's
  registerProfile: { role: "operator", crews: "crewless" },
  listProfiles: { role: "viewer", crews: "crewless" },
  getProfile: { role: "viewer", crews: "crewless" },
  listProfileVersions: { role: "viewer", crews: "crewless" },
  // agents and wallets
  spawnAgent: { role: "operator", crews: "crewless" },
  listAgents: { role: "viewer", crews: "itemList" },
  getAgent: { role: "viewer", crews: "agentPath" },
  terminateAgent: { role: "operator", crews: "agentPath" },
  cloneAgent: { role: "operator", crews: "agentPath" },
  hibernateAgent: { role: "operator", crews: "agentPath" },
  wakeAgent: { role: "operator", crews: "agentPath" },
  callAgentModel: { role: "operator", crews: "agentPath" },
  getWallet: { role: "viewer", crews: "walletPath" },
  // crews
  assembleCrew: { role: "operator", crews: "crewless" },
  listCrews: { role: "viewer", crews: "crewList" },
  getCrew: { role: "viewer", crews: "crewPath" },
  disbandCrew: { role: "operator", crews: "crewPath" },
  spawnCrewMember: { role: "operator", crews: "crewPath" },
  broadcastToCrew: { role: "operator", crews: "crewPath" },
  listCrewMessages: { role: "viewer", crews: "crewPath" },
  publishCrewMessage: { role: "operator", crews: "crewPath" },
  getCrewContext: { role: "viewer", crews: "crewPath" },
  getCrewContextKey: { role: "viewer", crews: "crewPath" },
  setCrewContextKey: { role: "operator", crews: "crewPath" },
  deleteCrewContextKey: { role: "operator", crews: "crewPath" },
  // tasks
  submitTask: { role: "operator", crews: "taskBody" },
  listTasks: { role: "viewer", crews: "itemList" },
  getTask: { role: "viewer", crews: "taskPath" },
  retryTask: { role: "operator", crews: "taskPath" },
  cancelTask: { role: "operator", crews: "taskPath" },
  // MCP tools: an agent's, with its rights
  listTools: { role: "viewer", crews: "itemList" },
  callTool: { role: "operator", crews: "agentBody" },
  // pools and nodes: the whole factory's
  listPools: { role: "viewer", crews: "crewless" },
  getPool: { role: "viewer", crews: "crewless" },
  listNodes: { role: "viewer", crews: "crewless" },
  // the whole fleet counted (the dashboard's overview): every crew's agents, so not a crew-limited key's
  getFleetStats: { role: "viewer", crews: "crewless" },
  // ledger
  listLedgerEntries: { role: "viewer", crews: "itemList" },
  getLedgerReport: { role: "viewer", crews: "crewQuery" },
  grantCredits: { role: "operator", crews: "grantBody" },
  transferCredits: { role: "operator", crews: "transferBody" },
  // models and budgets
  getModels: { role: "viewer", crews: "crewless" },
  // A POST that only explains (changes nothing): a read.
  routeModel: { role: "viewer", crews: "routeBody" },
  listBudgets: { role: "viewer", crews: "budgetList" },
  setBudget: { role: "operator", crews: "budgetPath" },
  removeBudget: { role: "operator", crews: "budgetPath" },
  // events and metrics
  streamEvents: { role: "viewer", crews: "crewQuery" },
  getMetrics: { role: "viewer", crews: "crewless" },
  // keys, chaos, node to node: admin only (an admin key is never crew-limited)
  createKey: { role: "admin", crews: "crewless" },
  listKeys: { role: "admin", crews: "crewless" },
  revokeKey: { role: "admin", crews: "crewless" },
  chaosKill: { role: "admin", crews: "crewless" },
  chaosFreeze: { role: "admin", crews: "crewless" },
  chaosLatency: { role: "admin", crews: "crewless" },
  hostCrewMember: { role: "admin", crews: "crewless" },
  deliverCrewSignal: { role: "admin", crews: "crewless" },
  callModelForMember: { role: "admin", crews: "crewless" },
};

/** What an agent's token needs, beyond its own crew, to call an agent-facing operation. */
export interface AgentAccess {
  /** A scope the agent's profile must have (`admin`: spawn and terminate). */
  scope?: "admin";
  /** Only about itself: the path's `{id}` must be the agent's own (its model calls). */
  self?: true;
}

/**
 * What an agent may call over HTTP with its token as bearer — the stdio channel's operations:
 * its crew's context and bus, tasks (submitted into its crew, read if they are its crew's),
 * model calls as itself, and with the `admin` scope spawning into and terminating in its crew.
 * Any other operation is FORBIDDEN to an agent's token; the crews these name must be its own.
 */
export const AGENT_OPERATIONS: Readonly<Record<string, AgentAccess>> = {
  getCrew: {},
  getCrewContext: {},
  getCrewContextKey: {},
  setCrewContextKey: {},
  deleteCrewContextKey: {},
  listCrewMessages: {},
  publishCrewMessage: {},
  submitTask: {},
  getTask: {},
  callAgentModel: { self: true },
  spawnCrewMember: { scope: "admin" },
  terminateAgent: { scope: "admin" },
  // Its crew's agents' MCP tools (its own too, though its stdio channel is the shorter way).
  listTools: {},
  callTool: {},
};

/** What an agent's token needs for an operation; undefined: no agent may call it. */
export function agentAccessOf(operationId: string | undefined): AgentAccess | undefined {
  return operationId !== undefined && Object.hasOwn(AGENT_OPERATIONS, operationId) ? AGENT_OPERATIONS[operationId] : undefined;
}

/** Fail closed: an operation the table does not name needs admin, and no crew-limited key reaches it. */
export const UNLISTED: Access = { role: "admin", crews: "crewless" };

/** What an operation needs. */
export function accessOf(operationId: string | undefined): Access {
  return (operationId !== undefined && Object.hasOwn(ACCESS, operationId) ? ACCESS[operationId] : undefined) ?? UNLISTED;
}
