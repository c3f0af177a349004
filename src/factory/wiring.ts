import type { Crew } from "../core/crew.ts";
import { McpRuntime } from "../tools/mcp-runtime.ts";
import { ToolHost, type ToolHostDeps } from "../tools/tool-host.ts";
import type { Agent } from "../core/agent.ts";
import { Hook } from "../core/hook.ts";
import type { LoadBalancer } from "../core/ports/balancer.ts";
import type { Bus } from "../core/ports/bus.ts";
import type { Logger } from "../core/ports/logger.ts";
import type { Membership } from "../core/ports/membership.ts";
import type { ModelProvider } from "../core/ports/model-provider.ts";
import type { AgentRuntime } from "../core/ports/runtime.ts";
import type { Store } from "../core/ports/store.ts";
import type { BalancerName } from "../core/schemas/profile.ts";
import type { Task } from "../core/task.ts";
import { Accounts } from "../economics/accounts.ts";
import { Ledger } from "../economics/ledger.ts";
import { PricingTable } from "../economics/pricing.ts";
import { Healer } from "../health/healer.ts";
import { Hibernation } from "../health/hibernation.ts";
import { Watchdog } from "../health/watchdog.ts";
import { BudgetGuard } from "../models/budget-guard.ts";
import { Budgets } from "../models/budgets.ts";
import { OperatorKeys } from "../security/operator-keys.ts";
import type { ModelsConfig } from "../models/models-config.ts";
import { DEFAULT_RULES } from "../models/policy.ts";
import { ModelRouter } from "../models/router.ts";
import type { ScalingPolicy } from "../scheduler/pools/autoscaler.ts";
import { Dispatcher } from "../scheduler/dispatcher.ts";
import type { Runner } from "../scheduler/runner.ts";
import type { Lane } from "../scheduler/lane.ts";
import { PoolManager } from "../scheduler/pools/pool-manager.ts";
import { AgentRegistry } from "../state/agent-registry.ts";
import { EventLog } from "../state/event-log.ts";
import { FactoryError, isFactoryError } from "../core/errors.ts";
import { FactoryPhase } from "../state/factory-phase.ts";
import { Journal } from "../state/journal.ts";
import { ProfileRegistry } from "../state/profile-registry.ts";
import { Retention, type RetentionSettings } from "../state/retention.ts";
import { AgentCalls } from "../agents/agent-calls.ts";
import { AgentLog } from "../agents/agent-log.ts";
import { Agents } from "../agents/agents.ts";
import { Profiles } from "../agents/profiles.ts";
import { Spawner } from "../agents/spawner.ts";
import { CrewManager } from "../crews/crew-manager.ts";
import { ClusterNode } from "../cluster/cluster-node.ts";
import { Peers } from "../cluster/peers.ts";
import type { NodeInfo } from "../core/ports/membership.ts";
import { recentNodes as recentNodesOf } from "../cluster/recent-nodes.ts";
import { crewHomeOver, crewPeersOver } from "./crew-peers.ts";
import { CrewHost } from "../crews/crew-host.ts";
import { SigningKeys } from "../security/signing-keys.ts";
import { AgentTokens } from "../security/agent-tokens.ts";
import { Crews } from "../crews/crews.ts";
import { TaskBook } from "../tasks/task-book.ts";
import { TaskIntake } from "../tasks/task-intake.ts";
import { Targets } from "../tasks/targets.ts";
import { Chaos } from "./chaos.ts";
import { DenialLog } from "../security/denial-log.ts";
import { Alerts, type AlertThresholds } from "../health/alerts.ts";
import { FactoryMetrics } from "./metrics.ts";
import type { Tracer } from "../core/ports/tracer.ts";
import { newTraceId } from "../core/ids.ts";
import { TaskTracing } from "./task-tracing.ts";
import { IncidentLog } from "./incident-log.ts";

/** The ready parts `createFactory` hands to the wiring: adapters chosen, options resolved. */
export interface FactoryDeps {
  store: Store;
  bus: Bus;
  runtimes: readonly AgentRuntime[];
  /** Where agents' MCP servers run and what they may mount (the process runtime's sandboxes and rules). */
  tools: Omit<ToolHostDeps, "events" | "log">;
  /** Balancers by name (the built-in three and any the caller adds). */
  balancers: ReadonlyMap<BalancerName, LoadBalancer>;
  /** Affinity bindings: how long one lives unused, and how many are kept (least recently used go first). */
  affinity: { ttlMs: number; maxBindings: number };
  /** The pool sizer's round, the autoscaling policies and the scale-down stabilization window. */
  scaling: { tickMs: number; policies: readonly ScalingPolicy[]; stabilizationMs: number };
  logger: Logger;
  /** Most agents one crew manifest may ask for. */
  maxCrewSize: number;
  /** How long `close()` lets running tasks finish before it re-queues them. */
  shutdownGraceMs: number;
  /** Finished tasks kept in memory for fast reads; older ones are read from the store. */
  recentTaskLimit: number;
  /** How often the watchdog checks heartbeats and running tasks. */
  watchdogTickMs: number;
  /** Chaos actions (kill, freeze, latency) are allowed: only for servers started to be tested. */
  chaos: boolean;
  /** Model providers, pricing, routing rules, budgets (resolved: offline, the mock serves). */
  models: ModelsConfig;
  /** Built providers (`createProviders(models.providers)`); none: the mock serves every model name. */
  providers: readonly ModelProvider[];
  /** What the store keeps of finished tasks, events and crew messages. */
  retention: RetentionSettings;
  /** This node: its id (carried by its agents), its API's URL, its membership and lease timing. */
  node: { id: string; url: string | null; apiKey?: string | undefined; membership: Membership; leaseMs: number; renewMs: number };
  /** Agents' tokens: who signs (`iss`), who accepts (`aud`), how long one is valid, how long a key signs. */
  tokens: { issuer: string; audience: string; lifetimeMs: number; rotateAfterMs: number };
  /** The thresholds that raise `alert.*` events. */
  alerts: AlertThresholds;
  /** Where trace spans go; absent: nothing is traced (no ids made, nothing recorded). */
  tracer?: Tracer | undefined;
  /** Prometheus metrics on (default); false: nothing is counted and `/metrics` says so. */
  metrics?: boolean;
}

/** Every service of one factory, built and connected. */
export interface FactoryParts {
  deps: FactoryDeps;
  /** The keys agents' tokens are signed with (the JWKS route publishes their public halves). */
  signingKeys: SigningKeys;
  /** Agents' tokens and nodes' credentials. */
  tokens: AgentTokens;
  /** The cluster's nodes as read at most half a second ago (where another node answers). */
  recentNodes: () => Promise<NodeInfo[]>;
  crewHost: CrewHost;
  phase: FactoryPhase;
  journal: Journal;
  events: EventLog;
  registry: AgentRegistry;
  profileRegistry: ProfileRegistry;
  retention: Retention;
  ledger: Ledger;
  router: ModelRouter;
  budgets: Budgets;
  accounts: Accounts;
  spawner: Spawner;
  profiles: Profiles;
  crewManager: CrewManager;
  targets: Targets;
  dispatcher: Dispatcher;
  runner: Runner;
  pools: PoolManager;
  healer: Healer;
  hibernation: Hibernation;
  watchdog: Watchdog;
  agents: Agents;
  crews: Crews;
  book: TaskBook;
  intake: TaskIntake;
  agentCalls: AgentCalls;
  /** Records refusals as `security.denied` events, each caller under a rate. */
  denials: DenialLog;
  /** This node's Prometheus metrics (undefined: turned off). */
  metrics: FactoryMetrics | undefined;
  /** Thresholds that raise `alert.*` events. */
  alerts: Alerts;
  /** Each task's trace, when the factory traces. */
  tracing: TaskTracing | undefined;
  /** Spawns an agent of a registered profile into a live crew of this node, as a member. */
  spawnIntoCrew(crewId: string, profile: string, reason: string, within?: readonly string[]): Promise<Agent>;
  chaos: Chaos;
  node: ClusterNode;
  keys: OperatorKeys;
  /** Agents' MCP servers on this node: the tool registry and the executor. */
  tools: ToolHost;
}

/**
 * The one wiring point: builds every service in dependency order from ready parts, then
 * connects the notifications that run upward (a lower service's hook, a higher one's listener).
 * No constructor does I/O; `start()` (restore.ts) reads the store.
 */
export function wireFactory(deps: FactoryDeps): FactoryParts {
  const { store, bus, logger, models } = deps;

  // state
  const phase = new FactoryPhase();
  const journal = new Journal(
    store,
    (error) => {
      metrics?.storeError();
      logger.error(isFactoryError(error) && error.code === "NODE_FENCED" ? "store write refused for good" : "store write failed; will retry", error);
    },
    // Another node took this node's agents and tasks over: it stops taking part (the node is made below).
    (error) => void node.fence(error.message),
  );
  const events = new EventLog(journal, bus, deps.node.id);
  // Refusals become security.denied events, each caller under a rate (a storm is counted, not stored).
  const denials = new DenialLog({ emit: (denied) => events.emit({ type: "security.denied", ...(denied.crewId === undefined ? {} : { crewId: denied.crewId }), data: denied.data }) });
  const registry = new AgentRegistry(journal, events);
  // Every runtime's agents get their profile's MCP servers, started and stopped with them.
  const tools: ToolHost = new ToolHost({
    ...deps.tools,
    events,
    log: (ownerId, level, message) => logger[level](`${ownerId.startsWith("crew") ? "crew" : "agent"} ${ownerId}: ${message}`),
    // Read when a member starts (the crew manager is built below, before any agent starts).
    crewServers: (crewId) => {
      const crew: Crew | undefined = crewManager.get(crewId);
      return crew === undefined ? undefined : { servers: crew.mcpServers ?? [], active: crew.state !== "DISBANDING" && crew.state !== "DISBANDED" };
    },
  });
  const runtimes: AgentRuntime[] = deps.runtimes.map((r) => new McpRuntime(r, tools, deps.tools.workspaceRoot));
  const runtimesByKind = new Map(runtimes.map((r) => [r.kind, r]));
  const profileRegistry = new ProfileRegistry();
  const retention = new Retention({
    store,
    settings: deps.retention,
    onPruned: (d) => logger.info(`retention: deleted ${d.tasks} finished task(s), ${d.events} event(s), ${d.messages} crew message(s)`),
    onError: (message, error) => logger.error(message, error),
  });
  const book = new TaskBook(deps.recentTaskLimit);
  /** Hibernated agents affinity keys are bound to: hibernation fills it, the dispatcher reads it. */
  const asleep = new Set<string>();

  // this node in its cluster: it reports the registry's agents
  const fenceLost = store.fenceLost?.bind(store);
  const node = new ClusterNode({ ...deps.node, agents: registry, logger, ...(fenceLost === undefined ? {} : { fenceLost }) });

  // economics and models
  const ledger = new Ledger(journal);
  const guard = new BudgetGuard(ledger);
  const router = new ModelRouter({
    providers: deps.providers,
    providerSettings: new Map(models.providers.map((p) => [p.name, { ...(p.serves === undefined ? {} : { serves: p.serves }), ...(p.model === undefined ? {} : { model: p.model }) }])),
    pricing: new PricingTable(models.pricing, models.defaultPrice),
    rules: models.rules ?? DEFAULT_RULES,
    guard,
    callTimeoutMs: models.callTimeoutMs,
    cooldown: models.cooldown,
    maxOutputTokens: models.maxOutputTokens,
    budgetWaitMs: models.budgetWaitMs,
    // The operator's log hears of fallbacks and cooldowns through these events (IncidentLog, below).
    onNotice: (notice) => {
      const d = notice.data;
      events.emit({ type: notice.type, ...(typeof d.taskId === "string" ? { taskId: d.taskId } : {}), data: d });
    },
  });
  const accounts = new Accounts({ ledger, journal, store });

  // agents and crews (what they need of the scheduler comes through hooks, below)
  const agentLog = new AgentLog(logger);
  const spawner = new Spawner({ registry, journal, runtimes: runtimesByKind, nodeId: deps.node.id });
  const profiles = new Profiles({ registry: profileRegistry, journal, events, runtimeFor: (profile) => spawner.runtimeFor(profile) });
  // The other nodes' APIs, for crews whose members run on several (only with a shared store).
  // Agents' identities: tokens signed with keys kept in the store (a cluster's nodes share them).
  const signingKeys = new SigningKeys({ store, rotateAfterMs: deps.tokens.rotateAfterMs, keepMs: deps.tokens.lifetimeMs + 60_000 });
  const tokens = new AgentTokens({ keys: signingKeys, issuer: deps.tokens.issuer, audience: deps.tokens.audience, lifetimeMs: deps.tokens.lifetimeMs });
  const recentNodes = recentNodesOf(() => node.list());
  const peers = new Peers({
    self: deps.node.id,
    // The cluster's key if it has one; else a credential signed with the store's key, which every node verifies.
    credential: async () => deps.node.apiKey ?? (await tokens.issueNode(deps.node.id)).token,
    nodes: recentNodes,
  });
  const crewPeers = crewPeersOver(peers, store);
  const crewManager = new CrewManager({
    ...(crewPeers === undefined ? {} : { peers: crewPeers }),
    registry,
    spawner,
    journal,
    events,
    bus,
    store,
    resolveProfile: (member, field) => {
      const inline = member.config ?? (typeof member.profile === "object" ? member.profile : undefined);
      if (inline !== undefined) return profiles.registerValidated(inline, `${field}.${member.config === undefined ? "profile" : "config"}`).profile;
      return profileRegistry.require(member.profile as string, field);
    },
    maxCrewSize: deps.maxCrewSize,
  });
  const budgets = new Budgets({ guard, router, ledger, registry, crews: crewManager, journal, store, configured: models.budgets });
  const targets = new Targets({ profiles: profileRegistry, registry, crews: crewManager, journal, store });

  // the scheduler: it takes plain callbacks (its unit tests pass their own); here each is a
  // hook's emit, so the services built after it (pools, intake, health) can listen
  const dispatched = {
    final: new Hook<[task: Task]>(),
    waiting: new Hook<[task: Task, lane: Lane]>(),
    assigned: new Hook<[task: Task, agent: Agent, waitedMs: number]>(),
    outcome: new Hook<[agent: Agent, ok: boolean, latencyMs: number]>(),
    wake: new Hook<[agentId: string]>(),
  };
  const dispatcher = new Dispatcher({
    registry,
    journal,
    events,
    balancers: deps.balancers,
    defaultBalancer: (target) => targets.defaultBalancer(target),
    queueDepth: (target) => targets.queueDepth(target),
    affinity: deps.affinity,
    crewAcceptsWork: (crewId) => crewManager.acceptsWork(crewId),
    onFinal: dispatched.final.emit,
    onWaiting: dispatched.waiting.emit,
    onAssigned: dispatched.assigned.emit,
    ...(deps.metrics === false ? {} : { onDispatched: (us: number) => metrics?.dispatched(us) }),
    onOutcome: dispatched.outcome.emit,
    isAsleep: (agentId) => asleep.has(agentId),
    wake: dispatched.wake.emit,
  });
  // The dispatcher builds its runner: each hands the other tasks (a retry goes back to matching).
  const runner = dispatcher.runner;

  // health
  const healer = new Healer({ registry, profiles: profileRegistry, runner, restarter: spawner, phase, logger });
  const hibernation = new Hibernation({
    registry,
    profiles: profileRegistry,
    dispatcher,
    waker: spawner,
    journal,
    store,
    runtimes,
    crewAcceptsWork: (crewId) => crewManager.acceptsWork(crewId),
    asleep,
    maxBindings: deps.affinity.maxBindings,
    logger,
  });
  const watchdog = new Watchdog({
    registry,
    dispatcher,
    runner,
    events,
    profileOf: (agent) => profileRegistry.version(agent.profile, agent.profileVersion),
    replace: (agent, reason, kind, silence) => healer.replace(agent, reason, kind, silence),
    hibernate: (agent, reason) => hibernation.sleepIfIdle(agent, reason),
    onError: (message, error) => logger.error(message, error),
    tickMs: deps.watchdogTickMs,
  });

  // services operators and agents call
  const agents = new Agents({ profiles, profileRegistry, spawner, registry, hibernation, crews: crewManager, journal, store });
  const crews = new Crews({ manager: crewManager, registry, spawner, hibernation, ledger, journal, store, agents });
  const intake = new TaskIntake({ book, dispatcher, targets, crews, crewManager, registry, ledger, journal, store, events, phase, logger, ...(deps.tracer === undefined ? {} : { newTraceId }) });
  const crewHome = crewHomeOver(peers, store, crewManager, journal);
  // A new member of a live crew (an admin agent's spawn, or an operator's): as a clone joins a
  // crew — spawn, then add the member; ended if the crew cannot take it.
  async function spawnIntoCrew(crewId: string, profileName: string, reason: string, within?: readonly string[]): Promise<Agent> {
    const crew = crewManager.requireOpen(crewId);
    if (crewManager.isMirror(crewId)) throw new FactoryError("VALIDATION_FAILED", `crew ${crewId} is run by another node of the cluster: spawn its members through that node`);
    const profile = profileRegistry.require(profileName, "profile");
    // No more scopes than the manifest gave this profile's members, nor than the agent that asks has.
    let scopes: readonly string[] | undefined = crew.memberScopes?.[profile.name];
    if (within !== undefined) scopes = (scopes ?? profile.scopes).filter((scope) => within.includes(scope));
    // A member added later joins the crew's network as its first members did.
    const agent = await spawner.spawn(profile, { crewId, reason, ...(scopes === undefined ? {} : { scopes }), ...(crew.network === undefined ? {} : { network: crew.network }) });
    try {
      crewManager.addMember(crewId, agent.id);
    } catch (error) {
      spawner.terminate(agent, "its crew could not take it");
      throw error;
    }
    return agent;
  }
  const agentCalls = new AgentCalls({
    runner,
    book,
    intake,
    router,
    budgets,
    crews: crewManager,
    events,
    agentLog,
    denials,
    tokens,
    ...(crewHome === undefined ? {} : { crewHome }),
    spawnIntoCrew,
    terminateAgent: (agentId) => agents.terminate(agentId),
    liveAgent: (agentId) => registry.get(agentId),
  });
  const pools = new PoolManager({
    profiles: profileRegistry,
    registry,
    dispatcher,
    events,
    spawn: (profile, reason) => spawner.spawn(profile, { reason }),
    clone: (source, reason) => agents.clone(source, reason),
    terminate: (agent, reason) => spawner.terminate(agent, reason),
    onError: (message, error) => logger.error(message, error),
    policies: deps.scaling.policies,
    tickMs: deps.scaling.tickMs,
    stabilizationMs: deps.scaling.stabilizationMs,
  });
  const chaos = new Chaos({ enabled: deps.chaos, registry, profiles: profileRegistry, healer, runner, phase });

  // upward notifications, each to the service that owns the reaction
  spawner.serve(agentCalls);
  spawner.hooks.lost.add((agent, reason) => healer.replace(agent, reason, "lost"));
  spawner.hooks.progress.add((agent, taskId, message, fraction) => agentCalls.progress(agent, taskId, message, fraction));
  spawner.hooks.log.add((agent, level, message) => {
    runner.agentOutput(agent);
    agentLog.line(agent.id, level, message);
  });
  spawner.hooks.heartbeat.add((agent) => watchdog.heard(agent));
  spawner.hooks.started.add((agent, handle, profile) => {
    healer.started(agent);
    watchdog.attach(agent, handle, profile);
  });
  crewManager.ending.add((crewId, reason) => intake.cancelQueued(crewId, reason));
  crewManager.availabilityChanged.add((crew) => {
    for (const id of crew.agentIds) {
      const agent = registry.get(id);
      if (agent !== undefined) dispatcher.refresh(agent);
    }
  });
  dispatched.final.add((task) => {
    pools.onFinished(task);
    intake.finished(task);
  });
  dispatched.waiting.add((task, lane) => {
    pools.onWaiting(task, lane);
    if (task.crewId !== null && lane.target.agentId === null) hibernation.wakeCrewSleeperFor(task.crewId, lane.target);
  });
  dispatched.assigned.add((_task, agent, waitedMs) => pools.onAssigned(agent, waitedMs));
  dispatched.outcome.add((agent, ok, latencyMs) => watchdog.onOutcome(agent, ok, latencyMs));
  dispatched.wake.add((agentId) => hibernation.wakeForTask(agentId));
  hibernation.slept.add((agentId) => healer.forget(agentId));
  registry.terminated.add((agent) => agentLog.forget(agent.id));

  const crewHost = new CrewHost({ store, crewManager, profileRegistry, spawner, agentCalls });
  const keys = new OperatorKeys({ store, crews });
  // What operators watch: metrics (GET /metrics) and alerts, fed by this node's events and hooks.
  const metrics =
    deps.metrics === false
      ? undefined
      : new FactoryMetrics({
          nodeId: deps.node.id,
          agents: () => registry.values(),
          crews: () => [...crewManager.values()].filter((crew) => !crewManager.isMirror(crew.id)),
          pools: () => pools.views(),
          healing: () => ({ watched: watchdog.watched, ...healer.stats(), ...hibernation.stats() }),
          budgets: () => budgets.list(),
          hibernatedAtStart: async () => (await store.listAgents({ states: ["HIBERNATING"] })).filter((a) => a.nodeId === deps.node.id || a.nodeId === undefined).length,
        });
  const alerts = new Alerts({
    thresholds: deps.alerts,
    emit: (event) => events.emit(event),
    queueDepths: () => pools.views().map((v) => ({ profile: v.profile, queued: v.queued })),
    budgets: () => budgets.list(),
  });
  if (metrics !== undefined) {
    events.emitted.add((event) => metrics.onEvent(event));
    dispatched.final.add((task) => metrics.taskFinished(task));
    dispatched.assigned.add((_task, agent, waitedMs) => metrics.taskAssigned(agent, waitedMs));
    router.called.add((call) => metrics.modelCall(call));
    ledger.posted.add((entry) => metrics.ledgerPosted(entry));
  }
  dispatched.final.add((task) => alerts.taskFinished(task.state));
  node.hooks.expired.add((dead) => alerts.nodeLost(dead.id, dead.leaseUntil));
  // Failed tasks, heals, budget refusals, provider failures and security refusals: logged once each.
  const incidents = new IncidentLog(logger, (id) => book.find(id));
  events.emitted.add((event) => incidents.onEvent(event));
  router.called.add((call) => incidents.onModelCall(call));
  // Traces, only when a tracer is given: otherwise no listener is added and nothing is paid.
  let tracing: TaskTracing | undefined;
  if (deps.tracer !== undefined) {
    const traces = new TaskTracing({
      tracer: deps.tracer,
      nodeId: deps.node.id,
      taskOf: (id) => book.find(id),
      providerOf: (model) => {
        try {
          return router.resolve(model).provider.name;
        } catch {
          return undefined;
        }
      },
    });
    events.emitted.add((event) => {
      traces.onEvent(event);
      // An MCP tool call becomes a span under the attempt its agent runs.
      const data = event.data;
      if (event.type === "tool.called" && event.agentId !== undefined && data !== undefined && data.outcome !== "refused") {
        const endMs = Date.parse(event.at);
        const ms = Number(data.durationMs ?? 0);
        traces.onToolCall({
          agentId: event.agentId,
          crewId: event.crewId ?? null,
          tool: `${String(data.server)}.${String(data.tool)}`,
          startMs: endMs - ms,
          endMs,
          ...(data.outcome === "ok" ? {} : { error: String(data.error ?? data.outcome) }),
        });
      }
    });
    agentCalls.modelCalled.add((call) => traces.onModelCall(call));
    tracing = traces;
  }

  return { tools, tracing, metrics, alerts, denials, spawnIntoCrew, recentNodes, keys, signingKeys, tokens, deps, phase, journal, events, registry, profileRegistry, retention, ledger, router, budgets, accounts, spawner, profiles, crewManager, targets, dispatcher, runner, pools, healer, hibernation, watchdog, agents, crews, book, intake, agentCalls, chaos, node, crewHost };
}
