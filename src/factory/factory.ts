import type { Logger } from "../core/ports/logger.ts";
import type { Agent } from "../core/agent.ts";
import type { Crew, CrewMessage } from "../core/crew.ts";
import type { FactoryEvent } from "../core/events.ts";
import type { LedgerEntry, LedgerReport } from "../core/ledger.ts";
import type { Unsubscribe } from "../core/ports/bus.ts";
import type { LedgerQuery, OwnedKind } from "../core/ports/store.ts";
import type { CrewManifest, CrewManifestInput } from "../core/schemas/manifest.ts";
import type { LedgerReportQueryInput } from "../core/schemas/ledger-report.ts";
import type { ProfileInput, ProfileRecord } from "../core/schemas/profile.ts";
import type { TaskSubmitInput } from "../core/schemas/task.ts";
import type { Task } from "../core/task.ts";
import type { ToolCallResult, ToolCaller, ToolInfo } from "../core/tool.ts";
import type { ToolFilter } from "../tools/tool-host.ts";
import type { AgentModelRequest, ModelCallResult } from "../core/model-call.ts";
import type { Wallet } from "../core/wallet.ts";
import type { OperatorKey, OperatorRole } from "../core/operator-key.ts";
import type { CreatedOperatorKey } from "../security/operator-keys.ts";
import type { FactoryStats } from "../core/stats.ts";
import { countAgents } from "../core/fleet-counts.ts";
import type { FleetStats } from "../core/fleet-stats.ts";
import type { NodeInfo } from "../core/ports/membership.ts";
import type { NodeState } from "../cluster/cluster-node.ts";
import type { BudgetView } from "../models/budget-guard.ts";
import type { Budgets } from "../models/budgets.ts";
import type { RouteDecision } from "../models/policy.ts";
import type { PoolView } from "../scheduler/pools/pool-manager.ts";
import { EVENTS_CHANNEL } from "../state/event-log.ts";
import type { Ledger } from "../economics/ledger.ts";
import type { AgentFilter, SpawnRequest } from "../agents/agents.ts";
import type { CrewFilter } from "../crews/crews.ts";
import type { TaskFilter, WaitingView } from "../tasks/task-intake.ts";
import { FactoryError } from "../core/errors.ts";
import { startFactory } from "./restore.ts";
import type { FactoryParts } from "./wiring.ts";
import { Locator, type Location } from "./locator.ts";

export type { AgentFilter, SpawnRequest } from "../agents/agents.ts";
export type { CrewFilter } from "../crews/crews.ts";
export type { TaskFilter, WaitingView } from "../tasks/task-intake.ts";
export type { FactoryStats, HealingStats } from "../core/stats.ts";

export interface EventFilter {
  types?: readonly string[];
  crewId?: string;
  agentId?: string;
  taskId?: string;
}

/**
 * The factory facade: every operation the HTTP API, the CLI and library users have, each
 * handed to the service that owns it (wiring.ts builds them). Build it with `createFactory()`;
 * the constructor is internal and does no I/O, and `start()` restores from the store.
 */
export class Factory {
  readonly #p: FactoryParts;
  readonly #locator: Locator;
  readonly #fencedListeners = new Set<(reason: string) => void>();
  #restored = { agents: 0, tasks: 0 };
  #closing: Promise<void> | undefined;

  /** @internal Use `createFactory()`. */
  constructor(parts: FactoryParts) {
    this.#p = parts;
    this.#locator = new Locator(parts);
    // Fenced: another node runs this node's agents now, so this one stops its own copies at once.
    parts.node.hooks.state.add((state, reason) => {
      if (state !== "fenced") return;
      void this.close({ force: true }).finally(() => {
        for (const listener of this.#fencedListeners) listener(reason);
      });
    });
  }

  /** Loads state from the store and brings back what was live; idempotent. */
  async start(): Promise<void> {
    if (this.#p.phase.current !== "new") return;
    this.#restored = await startFactory(this.#p);
  }

  // ---------------------------------------------------------------- chaos

  /** Chaos: kills an agent the hard way (`kill -9` of a process agent; a function agent's runtime is dropped). */
  chaosKill(id: string): { agentId: string; pid: number | null; at: string } {
    return this.#p.chaos.kill(id);
  }

  /** Chaos: freezes a process agent (SIGSTOP) for `ms`, then lets it go on (SIGCONT). */
  chaosFreeze(id: string, ms: number): { agentId: string; pid: number | null; at: string } {
    return this.#p.chaos.freeze(id, ms);
  }

  /** Chaos: adds `ms` before every task's handler starts (0 turns it off). */
  chaosLatency(ms: number): { latencyMs: number } {
    return this.#p.chaos.latency(ms);
  }

  get chaosEnabled(): boolean {
    return this.#p.chaos.enabled;
  }

  // ---------------------------------------------------------------- hibernation

  /**
   * Puts an agent to sleep: it must be READY or IDLE with nothing running. Its context is
   * saved with its row, its runtime is stopped (a process is asked to exit and may save its
   * context first; the workspace stays) and it leaves memory: a hibernated agent costs one store
   * row. A task addressed to it (by id or by an affinity key bound to it) wakes it.
   */
  async hibernateAgent(id: string): Promise<Agent> {
    this.#p.phase.assertOpen();
    return this.#p.agents.hibernate(id);
  }

  /** Wakes a hibernated agent and resolves when it is READY; an awake agent comes back as it is. */
  async wakeAgent(id: string): Promise<Agent> {
    this.#p.phase.assertOpen();
    return this.#p.agents.wake(id);
  }

  // ---------------------------------------------------------------- profiles

  /** Registers a profile (typed; still validated at run time, naming the field at fault); a changed one becomes a new version. */
  registerProfile(input: ProfileInput): { profile: ProfileRecord; created: boolean } {
    this.#p.phase.assertOpen();
    return this.#p.profiles.register(input);
  }

  /** The latest version of each profile. */
  listProfiles(): ProfileRecord[] {
    return this.#p.profiles.list();
  }

  /** A profile's latest version, or the given one. */
  getProfile(name: string, version?: number): ProfileRecord {
    return this.#p.profiles.get(name, version);
  }

  profileVersions(name: string): readonly ProfileRecord[] {
    return this.#p.profiles.versions(name);
  }

  // ---------------------------------------------------------------- agents

  /** Spawns one agent outside any crew and resolves when it is READY. */
  async spawnAgent(request: SpawnRequest): Promise<Agent> {
    this.#p.phase.assertOpen();
    return this.#p.agents.spawn(request);
  }

  /** Agents in memory (all but TERMINATED and HIBERNATING), newest first (`spawnedAt`, id); those two states are read from the store. */
  listAgents(filter: AgentFilter = {}): Promise<Agent[]> {
    return this.#p.agents.list(filter);
  }

  getAgent(id: string): Promise<Agent> {
    return this.#p.agents.get(id);
  }

  /** Drains and terminates an agent (at once if it runs nothing). Terminating a TERMINATED agent is a 409. */
  async terminateAgent(id: string): Promise<Agent> {
    this.#p.phase.assertOpen();
    return this.#p.agents.terminate(id);
  }

  /** The tool registry of this node's agents (their MCP servers' tools, namespaced `server.tool`), as far as each agent's allow-list goes. */
  listTools(filter: ToolFilter = {}): ToolInfo[] {
    return this.#p.tools.list(filter);
  }

  /**
   * Calls one of an agent's MCP tools with that agent's rights (its allow-list), through the one
   * executor; the agent must run on this node. Tool failures are results with `isError: true`.
   */
  async callTool(request: { agentId: string; server: string; tool: string; arguments?: unknown }, caller: ToolCaller = { kind: "operator", keyId: "library" }, signal?: AbortSignal): Promise<ToolCallResult> {
    this.#p.phase.assertOpen();
    // AGENT_NOT_FOUND for an agent that does not exist, rather than "no servers".
    await this.#p.agents.get(request.agentId);
    return this.#p.tools.call(request.agentId, request.server, request.tool, request.arguments, caller, signal);
  }

  /**
   * Clones a live agent for fan-out: a new agent of the same profile version, in the same crew,
   * starting from the source's saved context. (What the source is computing right now is not
   * copied: only what it saved with `saveContext`.)
   */
  async cloneAgent(id: string): Promise<Agent> {
    this.#p.phase.assertOpen();
    return this.#p.agents.cloneLive(id);
  }

  /** Every pool (one per profile): size, states, queue, wait times, target and scaling decisions. */
  listPools(): PoolView[] {
    return this.#p.pools.views();
  }

  getPool(profile: string): PoolView {
    return this.#p.pools.view(this.getProfile(profile));
  }

  /**
   * Tasks waiting for an agent, counted by what they ask for (most first), with the profiles
   * whose pools could serve each (none for a crew's or one agent's tasks: those wait for members
   * or for that agent). Tasks waiting out a retry backoff are not in it.
   */
  listWaiting(): WaitingView[] {
    return this.#p.intake.waiting();
  }

  // ---------------------------------------------------------------- wallets and the ledger

  /** A wallet, with its balance as the ledger sums it. */
  getWallet(address: string): Promise<Wallet> {
    return this.#p.accounts.getWallet(address);
  }

  /** Ledger entries in order (read from the store). */
  listLedger(query: LedgerQuery = {}): Promise<LedgerEntry[]> {
    return this.#p.accounts.listLedger(query);
  }

  /**
   * Sums of one kind of entry (usage by default) per agent, crew, model or UTC hour, day or
   * month, and their total; `from` is inclusive, `to` exclusive.
   */
  ledgerReport(query: LedgerReportQueryInput): Promise<LedgerReport> {
    return this.#p.accounts.report(query);
  }

  /** An operator grants credits from outside to an agent's or crew's wallet. */
  async grantCredits(wallet: string, amount: number, memo?: string): Promise<LedgerEntry> {
    this.#p.phase.assertOpen();
    return this.#p.accounts.grant(wallet, amount, memo);
  }

  /** Moves credits between two wallets (the payer must hold them). */
  async transferCredits(from: string, to: string, amount: number, memo?: string): Promise<LedgerEntry> {
    this.#p.phase.assertOpen();
    return this.#p.accounts.transfer(from, to, amount, memo);
  }

  /** The ledger (for the model router and its budget guard). */
  get ledger(): Ledger {
    return this.#p.ledger;
  }

  // ---------------------------------------------------------------- models and budgets

  /**
   * Which model a call with this metadata and input size would go to, by which rule and why.
   * For a crew, the remaining budget is its wallet's balance against the budget it was given.
   */
  routeModel(request: { metadata?: Record<string, unknown>; estimatedInputTokens: number; crewId?: string; agentId?: string }): Promise<RouteDecision & { budgetFraction: number | null }> {
    return this.#p.budgets.route(request);
  }

  /**
   * A model call an agent makes for one of its attempts — over HTTP with its token, as on its
   * stdio channel: the crew's wallet pays (its own without a crew), under the crew's and its
   * budgets. A task that is not one of its attempts is NOT_YOUR_TASK; the agent must run here.
   */
  async callModelAsAgent(agentId: string, taskId: string, request: AgentModelRequest): Promise<ModelCallResult> {
    this.#p.phase.assertOpen();
    const agent = this.#p.registry.get(agentId);
    if (agent === undefined) throw new FactoryError("AGENT_NOT_FOUND", `no live agent ${agentId} on this node`, { field: "id" });
    return this.#p.agentCalls.callModel(agent, taskId, request);
  }

  /** Every budget limit as it stands. */
  listBudgets(): BudgetView[] {
    return this.#p.budgets.list();
  }

  /**
   * Sets a budget: `global`, `crew:<id>` or `agent:<id>`, in credits, optionally per period.
   * Kept in the store; what its window has spent survives a restart (summed from the ledger).
   */
  async setBudget(key: string, input: { credits: number; periodMs?: number | null }): Promise<BudgetView> {
    this.#p.phase.assertOpen();
    return this.#p.budgets.set(key, input);
  }

  async removeBudget(key: string): Promise<void> {
    this.#p.phase.assertOpen();
    return this.#p.budgets.remove(key);
  }

  /** Providers (with their failure counts and cooldowns), prices and routing rules. */
  modelsInfo(): ReturnType<Budgets["info"]> {
    return this.#p.budgets.info();
  }

  // ---------------------------------------------------------------- operator keys

  /** Makes a named key with a role, optionally limited to crews (which must exist); the answer holds the secret, shown once. */
  async createOperatorKey(input: { name: string; role: OperatorRole; crews?: readonly string[] | undefined }): Promise<CreatedOperatorKey> {
    this.#p.phase.assertOpen();
    return this.#p.keys.create(input);
  }

  /** Every operator key, oldest first, without secrets. */
  listOperatorKeys(): Promise<OperatorKey[]> {
    return this.#p.keys.list();
  }

  /** Revokes a key: refused on this node at once, on the cluster's other nodes within a second. */
  async revokeOperatorKey(id: string): Promise<void> {
    this.#p.phase.assertOpen();
    return this.#p.keys.revoke(id);
  }

  /** The stored key whose secret this is, or undefined. */
  authenticateOperatorKey(secret: string): Promise<OperatorKey | undefined> {
    return this.#p.keys.authenticate(secret);
  }

  /** Whether any operator key is stored. */
  hasOperatorKeys(): Promise<boolean> {
    return this.#p.keys.any();
  }

  /**
   * Records a refused request as a `security.denied` event (nothing while the factory is closing),
   * at most 5 a second per caller (`data.keyId`; everyone without a key is one caller) after a
   * burst of 20: the next one recorded counts those left out in `data.suppressed`.
   */
  recordDenied(denied: { crewId?: string | undefined; data: Record<string, unknown> }): void {
    if (!this.isOpen) return;
    const caller = denied.data.keyId;
    this.#p.denials.record(typeof caller === "string" ? caller : "no key", denied);
  }

  // ---------------------------------------------------------------- crews

  /**
   * Spawns an agent of a registered profile into a live crew, as a new member; resolves when it is
   * READY. It gets no more scopes than the crew's manifest gave that profile's members and, asked
   * by an agent (`byAgent`), none that agent lacks.
   */
  async spawnCrewMember(crewId: string, profile: string, options: { byAgent?: string } = {}): Promise<Agent> {
    this.#p.phase.assertOpen();
    if (options.byAgent === undefined) return this.#p.spawnIntoCrew(crewId, profile, "spawned into its crew");
    const asker = this.#p.registry.get(options.byAgent) ?? (await this.getAgent(options.byAgent));
    return this.#p.spawnIntoCrew(crewId, profile, `spawned by agent ${asker.id}`, asker.scopes);
  }

  /** Spawns every member; resolves when all are READY. On any failure nothing of the crew remains. */
  async assembleCrew(manifest: CrewManifestInput | CrewManifest, options: { requestId?: string } = {}): Promise<{ crew: Crew; agents: Agent[] }> {
    this.#p.phase.assertOpen();
    return this.#p.crews.assemble(manifest, options);
  }

  getCrew(id: string): Promise<Crew> {
    return this.#p.crews.get(id);
  }

  /** Crews not yet disbanded, newest first (`createdAt`, id); `state: "DISBANDED"` reads the store. */
  listCrews(filter: CrewFilter = {}): Promise<Crew[]> {
    return this.#p.crews.list(filter);
  }

  /** The crew's members as they are now (live or as last stored). */
  async crewAgents(crew: Crew): Promise<Agent[]> {
    return this.#p.crews.members(crew);
  }

  /** Delivers `signal` to every member; PAUSE stops the crew taking tasks, RESUME restarts it. */
  async broadcast(crewId: string, signal: string, payload?: unknown): Promise<CrewMessage> {
    this.#p.phase.assertOpen();
    return this.#p.crews.broadcast(crewId, signal, payload);
  }

  async publish(crewId: string, topic: string, payload?: unknown): Promise<CrewMessage> {
    this.#p.phase.assertOpen();
    return this.#p.crews.publish(crewId, topic, payload);
  }

  /** Subscribes to a crew topic (`signals` carries broadcasts). */
  subscribe(crewId: string, topic: string, handler: (message: CrewMessage) => void): Unsubscribe {
    return this.#p.crews.subscribe(crewId, topic, handler);
  }

  listMessages(crewId: string, options: { topic?: string; afterSeq?: number; limit?: number } = {}): Promise<Array<CrewMessage & { seq: number }>> {
    return this.#p.crews.listMessages(crewId, options);
  }

  getContext(crewId: string): Promise<Record<string, unknown>> {
    return this.#p.crews.getContext(crewId);
  }

  async setContext(crewId: string, key: string, value: unknown): Promise<void> {
    this.#p.phase.assertOpen();
    return this.#p.crews.setContext(crewId, key, value);
  }

  async deleteContext(crewId: string, key: string): Promise<void> {
    this.#p.phase.assertOpen();
    return this.#p.crews.deleteContext(crewId, key);
  }

  /** Cancels the crew's queued tasks, drains and terminates its members. */
  async disbandCrew(id: string): Promise<Crew> {
    this.#p.phase.assertOpen();
    return this.#p.crews.disband(id);
  }

  // ---------------------------------------------------------------- tasks

  /** Accepts a task durably (it is in the store when this resolves), then dispatches it. */
  async submitTask(input: TaskSubmitInput): Promise<Task> {
    return (await this.submit(input)).task;
  }

  /**
   * Like `submitTask`, and says whether the task is new: with an `idempotencyKey` already
   * used, the first task comes back (`created: false`) and nothing is submitted.
   */
  submit(input: TaskSubmitInput): Promise<{ task: Task; created: boolean }> {
    return this.#p.intake.submit(input);
  }

  /** Re-drives a dead-lettered task: QUEUED again with a fresh set of attempts. */
  async retryTask(id: string): Promise<Task> {
    this.#p.phase.assertOpen();
    return this.#p.intake.retry(id);
  }

  getTask(id: string): Promise<Task> {
    return this.#p.intake.get(id);
  }

  /** Resolves with the task once it is final, or as it is after `waitMs`. */
  waitForTask(id: string, waitMs: number): Promise<Task> {
    return this.#p.intake.waitFor(id, waitMs);
  }

  /** Tasks by state and crew, newest first (`createdAt`, id), read from the store once every accepted task is in it. */
  listTasks(filter: TaskFilter = {}): Promise<Task[]> {
    return this.#p.intake.list(filter);
  }

  /** Cancels a queued or running task (a running handler's AbortSignal fires). */
  async cancelTask(id: string): Promise<Task> {
    this.#p.phase.assertOpen();
    return this.#p.intake.cancel(id);
  }

  // ---------------------------------------------------------------- nodes

  /** This factory's node id: every agent it runs carries it (`Agent.nodeId`). */
  get nodeId(): string {
    return this.#p.node.id;
  }

  /** Cluster: runs a member of a crew another node owns here (that node asked); resolves once it is READY. */
  async hostCrewMember(crew: Crew, profile: ProfileRecord, name: string, scopes?: readonly string[]): Promise<Agent> {
    this.#p.phase.assertOpen();
    return this.#p.crewHost.spawnMember(crew, profile, name, scopes);
  }

  /** Cluster: delivers a signal of another node's crew to the members this node runs; how many took it. */
  deliverCrewSignal(crewId: string, agentIds: readonly string[], signal: string, payload: unknown, at: string): Promise<number> {
    this.#p.phase.assertOpen();
    return this.#p.crewHost.deliverSignal(crewId, agentIds, signal, payload, at);
  }

  /** Cluster: a model call of a member (run by another node) of a crew this node owns. */
  callModelForMember(crewId: string, agentId: string, taskId: string, request: AgentModelRequest): Promise<ModelCallResult> {
    this.#p.phase.assertOpen();
    return this.#p.crewHost.callModel(crewId, agentId, taskId, request);
  }

  /**
   * The public keys agents' tokens are signed with, as a JWK set (`/.well-known/jwks.json`):
   * anyone verifies a token with them (`jose`'s `createRemoteJWKSet`).
   */
  async jwks(): Promise<{ keys: Array<Record<string, unknown>> }> {
    // Made at the first ask if none is stored yet, so a verifier never finds the set empty.
    await this.#p.signingKeys.signer();
    return { keys: (await this.#p.signingKeys.published()) };
  }

  /**
   * Who a bearer token signed with the factory's keys is: another node of the cluster, or an agent
   * while it lives (a terminated agent's token is refused before it expires); undefined otherwise.
   */
  async identifyBearer(token: string): Promise<{ kind: "node"; node: string } | { kind: "agent"; agentId: string; crewId: string | null; scopes: readonly string[] } | undefined> {
    const bearer = await this.#p.tokens.identify(token);
    if (bearer?.kind !== "agent") return bearer;
    const live = this.#p.registry.get(bearer.agentId) ?? (await this.#p.journal.read(() => this.#p.deps.store.getAgent(bearer.agentId)));
    if (live === undefined || live.state === "TERMINATED" || live.crewId !== bearer.crewId) return undefined;
    // The agent's scopes as the factory keeps them (a token's claim is a copy, never wider).
    return { kind: "agent", agentId: bearer.agentId, crewId: bearer.crewId, scopes: live.scopes };
  }

  /** Which node runs an agent, crew or task: this one, another (with its URL), or none known. */
  locate(kind: OwnedKind, id: string): Promise<Location> {
    return this.#locator.locate(kind, id);
  }

  /** Which node a task should be submitted to: the one running its crew or agent, else this one if it can serve it, else one that can. */
  placeTask(request: Parameters<Locator["placeTask"]>[0]): Promise<Location> {
    return this.#locator.placeTask(request);
  }

  /**
   * Calls `listener` once this node has been fenced out of its cluster (another node took its
   * agents and tasks over after its lease ran out) and has closed itself. A server exits then, so
   * its supervisor starts it again as a new member.
   */
  onFenced(listener: (reason: string) => void): Unsubscribe {
    this.#fencedListeners.add(listener);
    return () => this.#fencedListeners.delete(listener);
  }

  /** Where this node stands in its cluster: `member` while it holds its lease, `lapsed` when it could not renew it in time. */
  get nodeState(): NodeState {
    return this.#p.node.state;
  }

  /**
   * The nodes of the cluster, this one included, oldest join first, each with its lease, agents
   * and load; a node whose lease ran out is listed `alive: false`. A single node lists itself.
   */
  listNodes(): Promise<NodeInfo[]> {
    return this.#p.node.list();
  }

  // ---------------------------------------------------------------- metrics and alerts

  /** Where this factory logs (the API logs failed requests here, with their request ids). */
  get logger(): Logger {
    return this.#p.deps.logger;
  }

  /** This node's metrics in the Prometheus exposition format (`GET /metrics`). */
  scrapeMetrics(): Promise<{ contentType: string; body: string }> {
    // Turned off (createFactory({ metrics: false })): a valid exposition with nothing in it.
    return this.#p.metrics?.scrape() ?? Promise.resolve({ contentType: "text/plain; version=0.0.4; charset=utf-8", body: "# metrics are off on this node\n" });
  }

  /** An answered HTTP request, for the metrics: the route's template, never the raw path. */
  recordHttpRequest(method: string, route: string, status: number, seconds: number): void {
    this.#p.metrics?.httpRequest(method, route, status, seconds);
  }

  /** The bus reported an error (a networked bus's connection): counted in `agent_factory_bus_errors_total`. */
  recordBusError(): void {
    this.#p.metrics?.busError();
  }

  /** Alerts firing on this node now (`alert.* subject`). */
  firingAlerts(): string[] {
    return this.#p.alerts.firing();
  }

  // ---------------------------------------------------------------- events

  /** Calls `listener` with every event from now on that passes the filter. */
  onEvent(listener: (event: FactoryEvent) => void, filter: EventFilter = {}): Unsubscribe {
    return this.#p.deps.bus.subscribe(EVENTS_CHANNEL, (message) => {
      const event = message as FactoryEvent;
      if (matchesFilter(event, filter)) listener(event);
    });
  }

  /** Stored events after `afterSeq`, in order. */
  listEvents(options: { afterSeq?: number; limit?: number } & EventFilter = {}): Promise<FactoryEvent[]> {
    return this.#p.journal.read(() =>
      this.#p.deps.store.listEvents({
        afterSeq: options.afterSeq ?? 0,
        ...(options.crewId === undefined ? {} : { crewId: options.crewId }),
        ...(options.agentId === undefined ? {} : { agentId: options.agentId }),
        ...(options.taskId === undefined ? {} : { taskId: options.taskId }),
        ...(options.types === undefined ? {} : { types: options.types }),
        limit: options.limit ?? 1000,
      }),
    );
  }

  // ---------------------------------------------------------------- lifecycle of the factory

  /** What the last `start()` brought back from the store: live agents and unfinished tasks. */
  get restored(): { agents: number; tasks: number } {
    return { ...this.#restored };
  }

  /** Aborted when `close()` begins: long-lived readers (event streams) end with it. */
  get closing(): AbortSignal {
    return this.#p.phase.closingSignal;
  }

  get isOpen(): boolean {
    return this.#p.phase.started;
  }

  /** False while the store refuses writes; `/ready` reports it. */
  get storeHealthy(): boolean {
    return this.#p.journal.healthy;
  }

  /**
   * The fleet at a glance for the dashboard: this node's live agents counted by state, profile,
   * node and crew (the largest `topCrews`), crews by state, the queue, healing, and every node of
   * the cluster with its agents — aggregated here so a page never lists 100,000 agents.
   */
  async fleetStats(topCrews = 20): Promise<FleetStats> {
    const { registry, crews } = this.#p;
    const stats = this.stats();
    const nodes = await this.listNodes();
    return {
      nodeId: this.nodeId,
      at: new Date().toISOString(),
      agents: countAgents(registry.values(), topCrews),
      crews: { total: crews.size, byState: crews.countByState() },
      tasks: { queued: stats.queuedTasks, running: stats.runningTasks },
      nodes: nodes.map((n) => ({ id: n.id, alive: n.alive, agents: n.agents, load: n.load, capacity: n.capacity })),
      health: stats.health,
      dispatch: stats.dispatch,
      lastEventSeq: stats.lastEventSeq,
      unreachable: [],
    };
  }

  stats(): FactoryStats {
    const { registry, dispatcher, runner, crews, events, deps, watchdog, healer, hibernation, agentCalls } = this.#p;
    return {
      agents: registry.size,
      availableAgents: dispatcher.availableAgents,
      crews: crews.size,
      queuedTasks: dispatcher.queued,
      runningTasks: runner.running,
      lateResults: runner.lateResults,
      lastEventSeq: events.lastSeq,
      dispatch: dispatcher.dispatchLatency(),
      runtimes: Object.fromEntries(deps.runtimes.filter((r) => r.stats !== undefined).map((r) => [r.kind, (r.stats as () => Record<string, unknown>)()])),
      health: { watched: watchdog.watched, ...healer.stats(), ...hibernation.stats() },
      security: { denied: agentCalls.denied },
    };
  }

  /**
   * Stops intake, lets running tasks finish for `shutdownGraceMs` (not with `force`), puts
   * what is still running back in the queue for the next start, writes everything, closes
   * the store. Agents keep their stored state, so the next start brings them back.
   */
  close(options: { force?: boolean } = {}): Promise<void> {
    if (this.#closing !== undefined) {
      if (options.force === true) this.#p.runner.abandonRunning("forced shutdown");
      return this.#closing;
    }
    this.#closing = this.#close(options.force === true);
    return this.#closing;
  }

  async #close(force: boolean): Promise<void> {
    const { phase, watchdog, retention, pools, dispatcher, runner, registry, book, journal, deps, node } = this.#p;
    const wasStarted = phase.started;
    phase.close();
    watchdog.stop();
    this.#p.alerts.stop();
    await retention.stop();
    if (wasStarted) {
      pools.stop();
      dispatcher.stop();
      if (!force) await runner.waitIdle(deps.shutdownGraceMs);
      const abandoned = runner.abandonRunning("factory shut down before the task finished");
      // Stats change without a state transition and are written with the next one; write the unwritten now.
      registry.persistDirty();
      // Agents' MCP servers first: a process agent's stop would pull its workspace from under them.
      await this.#p.tools.close();
      // End agent processes (their workspaces stay for the next start).
      await Promise.all(
        deps.runtimes.map(async (r) => {
          try {
            await r.close?.();
          } catch (error) {
            deps.logger.error(`closing the ${r.kind} runtime failed`, error);
          }
        }),
      );
      if (abandoned > 0) deps.logger.warn(`${abandoned} running task(s) re-queued for the next start`);
      book.releaseWaiters();
      const lost = await journal.drain(deps.shutdownGraceMs);
      if (lost > 0) deps.logger.error(`the store refused ${lost} write(s) until shutdown; they are lost`);
    }
    journal.close();
    // The id is free at once for a restart (rather than after the lease runs out).
    await node.leave();
    await deps.node.membership.close().catch((error: unknown) => deps.logger.error("closing the membership failed", error));
    await deps.store.close();
    await deps.bus.close();
    // Last: the spans of tasks that ended during the shutdown are sent before the process goes.
    await deps.tracer?.close().catch((error: unknown) => deps.logger.error("closing the tracer failed", error));
    phase.closed();
  }
}

function matchesFilter(event: FactoryEvent, filter: EventFilter): boolean {
  if (filter.types !== undefined && filter.types.length > 0 && !filter.types.some((t) => event.type === t || (t.endsWith(".*") && event.type.startsWith(t.slice(0, -1))))) {
    return false;
  }
  if (filter.crewId !== undefined && event.crewId !== filter.crewId) return false;
  if (filter.agentId !== undefined && event.agentId !== filter.agentId) return false;
  if (filter.taskId !== undefined && event.taskId !== filter.taskId) return false;
  return true;
}
