import { snapshotAgent, type Agent } from "../core/agent.ts";
import { snapshotCrew, type Crew, type CrewMessage, type CrewState } from "../core/crew.ts";
import { FactoryError, isFactoryError } from "../core/errors.ts";
import type { FactoryEvent } from "../core/events.ts";
import { newTaskId } from "../core/ids.ts";
import { isWorkingState, type AgentState } from "../core/lifecycle.ts";
import type { LoadBalancer } from "../core/ports/balancer.ts";
import type { Bus, Unsubscribe } from "../core/ports/bus.ts";
import type { AgentRuntime } from "../core/ports/runtime.ts";
import type { Store } from "../core/ports/store.ts";
import type { Logger } from "../core/ports/logger.ts";
import { isPast, newestFirst, type ListPosition } from "../core/list-position.ts";
import { CrewManifestSchema, type CrewManifest, type CrewManifestInput } from "../core/schemas/manifest.ts";
import { parseWith } from "../core/schemas/parse.ts";
import { ProfileSchema, type BalancerName, type Profile, type ProfileInput, type ProfileRecord } from "../core/schemas/profile.ts";
import type { ScalingPolicy } from "../scheduler/pools/autoscaler.ts";
import { laneKey, targetMatches, type LaneTarget } from "../scheduler/lane.ts";
import { PoolManager, type PoolView } from "../scheduler/pools/pool-manager.ts";
import { TaskSubmitSchema, type TaskSubmitInput } from "../core/schemas/task.ts";
import type { Task } from "../core/task.ts";
import { isFinalTaskState, type TaskState } from "../core/task-states.ts";
import { walletFromRecord, type Wallet } from "../core/wallet.ts";
import { Dispatcher } from "../scheduler/dispatcher.ts";
import { Watchdog } from "../health/watchdog.ts";
import { Samples } from "../core/samples.ts";
import { Ledger } from "../economics/ledger.ts";
import { DEFAULT_RULES, type RouteDecision } from "../models/policy.ts";
import { BudgetGuard, budgetScopeOf, type BudgetView } from "../models/budget-guard.ts";
import { ModelRouter } from "../models/router.ts";
import { BudgetConfigSchema, ModelsConfigSchema, type ModelsConfig } from "../models/models-config.ts";
import { PricingTable } from "../economics/pricing.ts";
import type { ModelProvider } from "../core/ports/model-provider.ts";
import type { AgentModelRequest, ModelCallResult } from "../core/model-call.ts";
import type { SubtaskRequest } from "../core/ports/runtime.ts";
import { fromMicro, SYSTEM_WALLETS, toMicro, type LedgerEntry, type LedgerReport } from "../core/ledger.ts";
import type { LedgerQuery } from "../core/ports/store.ts";
import { LedgerReportQuerySchema, type LedgerReportQueryInput } from "../core/schemas/ledger-report.ts";
import { AgentLog } from "../agents/agent-log.ts";
import { AgentRegistry } from "../state/agent-registry.ts";
import { CrewManager } from "../crews/crew-manager.ts";
import { EventLog, EVENTS_CHANNEL } from "../state/event-log.ts";
import { Journal } from "../state/journal.ts";
import { Retention, retentionSettings, type RetentionSettings } from "../state/retention.ts";
import { noSuchTargetError, type TargetCandidate } from "../tasks/no-such-target.ts";
import { ProfileRegistry } from "../state/profile-registry.ts";
import { Spawner } from "../agents/spawner.ts";

/** Queue depth for tasks no registered profile can serve (seed 003's default). */
const DEFAULT_QUEUE_DEPTH = 100;
/** A crash loop: an agent that dies this soon after starting, this many times in a row. */
const CRASH_LOOP_UPTIME_MS = 3_000;
const CRASH_LOOP_LIMIT = 5;


export interface FactoryDeps {
  store: Store;
  bus: Bus;
  runtimes: readonly AgentRuntime[];
  /** One balancer per name; tasks and profiles choose by name. */
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
  /** Model providers, pricing, routing rules, budgets (all optional: offline, the mock serves). */
  models?: ModelsConfig;
  /** Built providers (`createProviders(models.providers)`); none: the mock serves every model name. */
  providers?: readonly ModelProvider[];
  /** What the store keeps of finished tasks, events and crew messages; default `retentionSettings()`. */
  retention?: RetentionSettings;
}

/** How the factory has healed and slept its agents since it started. */
export interface HealingStats {
  /** Agents watched for heartbeats or probes now. */
  watched: number;
  /** Replacements under the same id, by cause. */
  replaced: Record<"lost" | "silent" | "stuck" | "quality", number>;
  /** Agents given up on (crash loop). */
  givenUp: number;
  /** Silent agents: from their last sign of life to UNHEALTHY, ms. */
  detectionMs: { samples: number; p50: number; p99: number };
  /** From UNHEALTHY to the replacement READY, ms. */
  replacementMs: { samples: number; p50: number; p99: number };
  hibernated: number;
  woken: number;
  /** From a wake request to READY, ms. */
  wakeMs: { samples: number; p50: number; p99: number };
}

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

export interface TaskFilter {
  state?: TaskState;
  crewId?: string;
  /** Only tasks past this place in newest-first order (`createdAt`, id): the next page. */
  after?: ListPosition;
  limit?: number;
}

/** Which crews `listCrews` gives. */
export interface CrewFilter {
  state?: CrewState;
  /** Only crews past this place in newest-first order (`createdAt`, id): the next page. */
  after?: ListPosition;
  limit?: number;
}

export interface EventFilter {
  types?: readonly string[];
  crewId?: string;
  agentId?: string;
  taskId?: string;
}

/** Tasks waiting for one target (what they ask for) and who could serve them. */
export interface WaitingView {
  crewId: string | null;
  role: string | null;
  profile: string | null;
  capabilities: string[];
  /** Set for tasks addressed to (or bound by affinity to) one agent. */
  agentId: string | null;
  queued: number;
  /** Latest profiles whose pools could serve these tasks (crewless targets only). */
  profiles: string[];
}

/** Counts for /ready and the CLI. */
export interface FactoryStats {
  agents: number;
  availableAgents: number;
  crews: number;
  queuedTasks: number;
  runningTasks: number;
  lateResults: number;
  lastEventSeq: number;
  /** Recent direct dispatches to a free agent: enqueue → handler started, in µs. */
  dispatch: { samples: number; p50Us: number; p99Us: number };
  /** Per runtime kind, what it reports (process: live processes, warm sandboxes, lease times). */
  runtimes: Record<string, Record<string, unknown>>;
  health: HealingStats;
  /** Agent messages refused since start: `denied` named a task that is not one of the agent's attempts. */
  security: { denied: number };
}

/**
 * The factory facade: every operation the HTTP API, the CLI and library users have. Build it
 * with `createFactory()`; the constructor does no I/O and `start()` restores from the store.
 */
export class Factory {
  readonly #deps: FactoryDeps;
  readonly #journal: Journal;
  readonly #profiles = new ProfileRegistry();
  readonly #events: EventLog;
  readonly #registry: AgentRegistry;
  readonly #spawner: Spawner;
  readonly #crews: CrewManager;
  readonly #dispatcher: Dispatcher;
  readonly #pools: PoolManager;
  readonly #runtimes: ReadonlyMap<string, AgentRuntime>;
  /** Tasks not yet final. */
  readonly #tasks = new Map<string, Task>();
  /** Recently finished tasks, oldest first. */
  readonly #recent = new Map<string, Task>();
  /** Insertion order of #recent as a ring: evicting through a Map's keys() gets slower as deletes pile up. */
  readonly #recentRing: Array<string | undefined>;
  #recentNext = 0;
  readonly #waiters = new Map<string, Set<(task: Task) => void>>();
  /** Idempotency keys of the tasks held in memory; older ones are looked up in the store. */
  readonly #byIdempotencyKey = new Map<string, Task>();
  readonly #balancerCache = new Map<string, { epoch: number; name: BalancerName }>();
  /** Losses in a row, each soon after the agent started (crash-loop guard). */
  readonly #youngLosses = new Map<string, number>();
  /** When each agent last became READY. */
  readonly #readyAt = new Map<string, number>();
  readonly #watchdog: Watchdog;
  readonly #retention: Retention;
  readonly #ledger: Ledger;
  readonly #guard: BudgetGuard;
  readonly #router: ModelRouter;
  /** Wakes under way, by agent id (a second wake joins the first). */
  readonly #waking = new Map<string, Promise<Agent>>();
  /** Hibernated agents that affinity keys are bound to: a task with such a key wakes its agent. */
  readonly #asleep = new Set<string>();
  /** Hibernations under way (the runtime is stopping), by agent id: a wake waits for them. */
  readonly #sleeping = new Map<string, Promise<void>>();
  /** Wakes to abandon after their store read: the sleeper was terminated meanwhile. */
  readonly #wakeAborted = new Set<string>();
  /** Sleeping members of each crew, so that a crew task no awake member takes can wake one. */
  readonly #crewSleepers = new Map<string, Map<string, Pick<Agent, "id" | "crewId" | "role" | "profile" | "capabilities">>>();
  /** Crews whose sleepers from before this start were read from the store (when crew work first needed one). */
  readonly #crewSleepersRead = new Set<string>();
  /** Crewless targets a profile was found to serve, by lane key, with the profiles' epoch then. */
  readonly #servedByProfile = new Map<string, number>();
  /** Agent messages refused because they named a task that is not one of the agent's attempts. */
  #denied = 0;
  /** Agents' log lines and warnings about agents, on the logger within a per-agent rate. */
  readonly #agentLog: AgentLog;
  readonly #healing = {
    replaced: { lost: 0, silent: 0, stuck: 0, quality: 0 },
    givenUp: 0,
    detectionMs: new Samples(1_024),
    replacementMs: new Samples(1_024),
    hibernated: 0,
    woken: 0,
    wakeMs: new Samples(1_024),
  };
  #state: "new" | "started" | "closing" | "closed" = "new";
  readonly #closingController = new AbortController();
  #restored = { agents: 0, tasks: 0 };
  #closing: Promise<void> | undefined;

  constructor(deps: FactoryDeps) {
    this.#deps = deps;
    this.#runtimes = new Map(deps.runtimes.map((r) => [r.kind, r]));
    this.#journal = new Journal(deps.store, (error) => deps.logger.error("store write failed; will retry", error));
    this.#recentRing = new Array<string | undefined>(Math.max(1, deps.recentTaskLimit));
    this.#retention = new Retention({
      store: deps.store,
      settings: deps.retention ?? retentionSettings(),
      onPruned: (d) => deps.logger.info(`retention: deleted ${d.tasks} finished task(s), ${d.events} event(s), ${d.messages} crew message(s)`),
      onError: (message, error) => deps.logger.error(message, error),
    });
    this.#agentLog = new AgentLog(deps.logger);
    const bus = deps.bus;
    this.#events = new EventLog(this.#journal, bus);
    this.#ledger = new Ledger(this.#journal);
    this.#guard = new BudgetGuard(this.#ledger);
    const models = deps.models ?? ModelsConfigSchema.parse({});
    this.#router = new ModelRouter({
      providers: deps.providers ?? [],
      providerSettings: new Map(models.providers.map((p) => [p.name, { ...(p.serves === undefined ? {} : { serves: p.serves }), ...(p.model === undefined ? {} : { model: p.model }) }])),
      pricing: new PricingTable(models.pricing, models.defaultPrice),
      rules: models.rules ?? DEFAULT_RULES,
      guard: this.#guard,
      callTimeoutMs: models.callTimeoutMs,
      cooldown: models.cooldown,
      maxOutputTokens: models.maxOutputTokens,
      budgetWaitMs: models.budgetWaitMs,
      onNotice: (notice) => {
        // The operator's log says which model and provider failed and what the provider said.
        const d = notice.data;
        if (notice.type === "model.fallback") deps.logger.warn(`model call failed: model ${String(d.model)}, provider ${String(d.provider)}${d.baseURL == null ? "" : ` (${String(d.baseURL)})`}: ${String(d.error)}${d.taskId == null ? "" : ` (task ${String(d.taskId)})`}`);
        else deps.logger.warn(`model provider ${String(d.provider)} cools down until ${String(d.until)} after failures in a row; last: ${String(d.lastError)}`);
        this.#events.emit({ type: notice.type, ...(typeof d.taskId === "string" ? { taskId: d.taskId } : {}), data: d });
      },
    });
    this.#registry = new AgentRegistry(this.#journal, this.#events);
    this.#spawner = new Spawner({
      registry: this.#registry,
      journal: this.#journal,
      runtimes: this.#runtimes,
      crewAccess: (crewId) => this.#crews.access(crewId),
      onLost: (agent, reason) => this.#replace(agent, reason, "lost"),
      onProgress: (agent, taskId, message, fraction) => {
        // Only its current attempt: another's task (or its own earlier attempt) must not reset a stuck timer.
        if (this.#attemptOf(agent, taskId, "progress") !== "current") return;
        this.#dispatcher.progressed(taskId);
        this.#events.emit({ type: "task.progress", taskId, agentId: agent.id, ...(agent.crewId === null ? {} : { crewId: agent.crewId }), data: { message: message ?? null, fraction: fraction ?? null } });
      },
      onLog: (agent, level, message) => {
        this.#dispatcher.agentOutput(agent);
        this.#agentLog.line(agent.id, level, message);
      },
      onHeartbeat: (agent) => this.#watchdog.heard(agent),
      callModel: (agent, taskId, request) => this.#callModel(agent, taskId, request),
      submitSubtask: (agent, parentTaskId, request) => this.#submitSubtask(agent, parentTaskId, request),
      waitForTask: (agent, id, waitMs) => this.#waitForOwnTask(agent, id, waitMs),
      onStarted: (agent, handle, profile) => {
        this.#readyAt.set(agent.id, Date.now());
        this.#watchdog.attach(agent, handle, profile);
      },
    });
    this.#crews = new CrewManager({
      registry: this.#registry,
      spawner: this.#spawner,
      journal: this.#journal,
      events: this.#events,
      bus,
      store: deps.store,
      resolveProfile: (member, field) => {
        const inline = member.config ?? (typeof member.profile === "object" ? member.profile : undefined);
        if (inline !== undefined) return this.#registerValidated(inline, `${field}.${member.config === undefined ? "profile" : "config"}`).profile;
        return this.#profiles.require(member.profile as string, field);
      },
      cancelQueuedTasks: (crewId, reason) => {
        for (const task of [...this.#tasks.values()]) if (task.crewId === crewId && task.state === "QUEUED") this.#dispatcher.cancel(task, reason);
      },
      onCrewAvailabilityChanged: (crew) => {
        for (const id of crew.agentIds) {
          const agent = this.#registry.get(id);
          if (agent !== undefined) this.#dispatcher.refresh(agent);
        }
      },
      maxCrewSize: deps.maxCrewSize,
    });
    this.#dispatcher = new Dispatcher({
      registry: this.#registry,
      journal: this.#journal,
      events: this.#events,
      balancers: deps.balancers,
      defaultBalancer: (target) => {
        // Per lane, until a profile is registered: this is on the dispatch path.
        const key = laneKey(target);
        const cached = this.#balancerCache.get(key);
        if (cached !== undefined && cached.epoch === this.#profiles.epoch) return cached.name;
        const names = new Set(this.#profilesFor(target).map((p) => p.pool.balancer));
        const name: BalancerName = names.size === 1 ? ([...names][0] as BalancerName) : "least-loaded";
        this.#balancerCache.set(key, { epoch: this.#profiles.epoch, name });
        return name;
      },
      queueDepth: (target) => {
        if (target.agentId !== null) {
          const agent = this.#registry.get(target.agentId);
          return (agent === undefined ? undefined : this.#profiles.latest(agent.profile)?.pool.queueDepth) ?? DEFAULT_QUEUE_DEPTH;
        }
        return Math.max(0, ...this.#profilesFor(target).map((p) => p.pool.queueDepth)) || DEFAULT_QUEUE_DEPTH;
      },
      affinity: deps.affinity,
      crewAcceptsWork: (crewId) => this.#crews.acceptsWork(crewId),
      onFinal: (task) => {
        this.#pools.onFinished(task);
        this.#onFinal(task);
      },
      onWaiting: (task, lane) => {
        this.#pools.onWaiting(task, lane);
        if (task.crewId !== null && lane.target.agentId === null) this.#wakeCrewSleeperFor(task.crewId, lane.target);
      },
      onAssigned: (_task, agent, waitedMs) => this.#pools.onAssigned(agent, waitedMs),
      onOutcome: (agent, ok, latencyMs) => this.#watchdog.onOutcome(agent, ok, latencyMs),
      isAsleep: (agentId) => this.#asleep.has(agentId),
      wake: (agentId) => {
        this.#wake(agentId, "a task waits for it").catch((error: unknown) => {
          // It ended (or never was): tasks addressed to it fail, tasks bound to it go elsewhere.
          this.#asleep.delete(agentId);
          this.#dispatcher.releaseAgentLane(agentId);
          if (!(isFactoryError(error) && (error.code === "ILLEGAL_TRANSITION" || error.code === "AGENT_NOT_FOUND"))) deps.logger.error(`agent ${agentId} could not be woken`, error);
        });
      },
    });
    this.#registry.onChange((agent) => {
      if (agent.state !== "TERMINATED") return;
      this.#readyAt.delete(agent.id);
      this.#youngLosses.delete(agent.id);
      this.#asleep.delete(agent.id);
      this.#agentLog.forget(agent.id);
    });
    this.#watchdog = new Watchdog({
      registry: this.#registry,
      dispatcher: this.#dispatcher,
      events: this.#events,
      profileOf: (agent) => this.#profiles.version(agent.profile, agent.profileVersion),
      replace: (agent, reason, kind, silence) => this.#replace(agent, reason, kind, silence),
      hibernate: (agent, reason) => {
        if (this.#whyAwake(agent) !== undefined) return; // not now; the watchdog asks again later
        this.#hibernate(agent, reason).catch((error: unknown) => deps.logger.error(`agent ${agent.id} could not hibernate`, error));
      },
      onError: (message, error) => deps.logger.error(message, error),
      tickMs: deps.watchdogTickMs,
    });
    this.#pools = new PoolManager({
      profiles: this.#profiles,
      registry: this.#registry,
      dispatcher: () => this.#dispatcher,
      events: this.#events,
      spawn: (profile, reason) => this.#spawner.spawn(profile, { reason }),
      clone: (source, reason) => this.#clone(source, reason),
      terminate: (agent, reason) => this.#spawner.terminate(agent, reason),
      onError: (message, error) => deps.logger.error(message, error),
      policies: deps.scaling.policies,
      tickMs: deps.scaling.tickMs,
      stabilizationMs: deps.scaling.stabilizationMs,
    });
  }

  /** Loads state from the store and brings back what was live; idempotent. */
  async start(): Promise<void> {
    if (this.#state !== "new") return;
    const { store } = this.#deps;
    const [profiles, lastSeq, crews, agents, tasks, ledger, orphans] = await Promise.all([
      store.listProfiles(),
      store.lastEventSeq(),
      store.listCrews({ states: ["ASSEMBLING", "ACTIVE", "PAUSED", "DISBANDING"] }),
      // Hibernated agents stay in the store (a row each) until something wakes them.
      store.listAgents({ states: ["PROVISIONING", "WARMING", "READY", "BUSY", "IDLE", "DRAINING", "UNHEALTHY"] }),
      store.listTasks({ states: ["QUEUED", "ASSIGNED", "RUNNING"] }),
      store.ledgerTotals(),
      store.openReservations(),
    ]);
    this.#ledger.load(ledger);
    // No call is under way yet, so a reservation still open was made by a factory that stopped
    // mid-call (this factory is its store's only ledger writer). Written by #restore's commit.
    try {
      const released = this.#ledger.releaseOrphans(orphans);
      if (released.length > 0) {
        const credits = fromMicro(released.reduce((n, e) => n + toMicro(e.amount), 0));
        this.#deps.logger.info(`released ${released.length} reservation(s) left open when the factory stopped (${credits} credits back to their wallets)`);
      }
    } catch (error) {
      // Only a store whose entries do not add up gets here; the factory still starts.
      this.#deps.logger.error("reservations left open when the factory stopped could not be released", error);
    }
    await this.#restoreBudgets();
    this.#events.resumeAfter(lastSeq);
    this.#profiles.load(profiles);
    this.#crews.load(crews);
    this.#state = "started";
    await this.#restore(crews, agents, tasks);
    this.#restored = { agents: this.#registry.size, tasks: tasks.length };
    this.#pools.start();
    this.#watchdog.start();
    this.#retention.start();
  }

  /**
   * After a restart every agent's runtime is gone. Live agents are brought back under the same
   * id, wallet, crew and saved context (UNHEALTHY → PROVISIONING → … → READY, `restarts` + 1);
   * DRAINING ones finish terminating; HIBERNATING ones stay asleep in the store. Tasks that were running go
   * back to the queue (attempts counted) and run again: delivery is at-least-once.
   */
  async #restore(crews: readonly Crew[], agents: readonly Agent[], tasks: readonly Task[]): Promise<void> {
    for (const task of tasks) {
      this.#tasks.set(task.id, task);
      if (task.idempotencyKey !== null) this.#byIdempotencyKey.set(task.idempotencyKey, task);
      if (task.state !== "QUEUED") {
        const from = task.state;
        task.state = "QUEUED";
        task.agentId = null;
        task.updatedAt = new Date().toISOString();
        this.#journal.put({ kind: "task", value: { ...task } });
        this.#events.emit({ type: "task.state", taskId: task.id, from, to: "QUEUED", data: { reason: "factory restarted", attempts: task.attempts } });
      }
    }
    // Members of a crew caught mid-assembly or mid-disband are not brought back: assembly is
    // atomic and a disband was asked for.
    const ending = new Set(crews.filter((c) => c.state === "ASSEMBLING" || c.state === "DISBANDING").map((c) => c.id));
    const revive: Array<{ agent: Agent; profile: ProfileRecord }> = [];
    // Oldest first, so the registry keeps spawn order. No agent has a runtime yet, so none can
    // take work until it is re-provisioned below.
    for (const agent of [...agents].reverse()) {
      agent.load = 0;
      agent.health.missed = 0;
      agent.health.suspect = null;
      this.#registry.add(agent, "restored from store");
      const profile = this.#profiles.version(agent.profile, agent.profileVersion);
      const gone =
        agent.state === "DRAINING"
          ? "factory restarted while draining"
          : agent.crewId !== null && ending.has(agent.crewId)
            ? "its crew was ending when the factory stopped"
            : profile === undefined
              ? `profile ${agent.profile} v${agent.profileVersion} is gone`
              : undefined;
      if (agent.state !== "UNHEALTHY" && agent.state !== "DRAINING") this.#registry.transition(agent, "UNHEALTHY", "factory restarted: runtime lost");
      if (gone !== undefined || profile === undefined) this.#registry.transition(agent, "TERMINATED", gone ?? "profile missing");
      else revive.push({ agent, profile });
    }
    this.#crews.finishInterrupted();
    for (const task of this.#tasks.values()) if (task.state === "QUEUED") this.#dispatcher.enqueue(task);
    await Promise.all(
      revive.map(({ agent, profile }) =>
        this.#spawner.reprovision(agent, profile, "factory restarted").catch((error: unknown) => {
          this.#deps.logger.error(`agent ${agent.id} could not be restored`, error);
          if (agent.state !== "TERMINATED") this.#registry.transition(agent, "TERMINATED", "restore failed");
        }),
      ),
    );
    await this.#journal.commit();
  }

  /**
   * Takes a dead or hopeless agent down and brings it back under the same id, wallet, crew and
   * saved context (`restarts` + 1). `lost`: its runtime died (the process exited); `silent`: it
   * missed its heartbeats; `stuck`: a handler stayed stuck after it was cancelled; `quality`: its
   * success rate fell below the profile's minimum (it was drained first). Its running tasks go
   * back to the queue at once (attempts counted); what is left of the old runtime is killed
   * before the replacement starts (they share the workspace), and anything it still says is
   * ignored. A draining agent just ends. An agent that dies young 5 times in a row (a crash
   * loop) is given up on.
   */
  #replace(agent: Agent, reason: string, kind: "lost" | "silent" | "stuck" | "quality", silence?: { silentMs: number; neverHeard: boolean }): void {
    if (this.#state !== "started") return;
    if (agent.state !== "READY" && agent.state !== "BUSY" && agent.state !== "IDLE" && agent.state !== "DRAINING") return;
    const detectedAt = Date.now();
    const handle = this.#registry.handle(agent.id);
    this.#registry.setHandle(agent.id, undefined);
    this.#spawner.retire(agent);
    agent.pid = null;
    this.#dispatcher.abandonAgent(agent, `agent ${agent.id} ${kind === "lost" ? "was lost" : "is being replaced"}: ${reason}`);
    const gone = handle === undefined ? Promise.resolve() : (handle.kill?.() ?? handle.stop()).catch((error: unknown) => this.#deps.logger.error(`ending agent ${agent.id}'s runtime failed`, error));
    if (agent.state === "DRAINING") {
      this.#registry.transition(agent, "TERMINATED", reason);
      // Terminated, so its workspace goes too.
      void gone.then(() => handle?.stop()).catch(() => {});
      return;
    }
    if (silence !== undefined) this.#healing.detectionMs.add(silence.silentMs);
    this.#registry.transition(agent, "UNHEALTHY", reason);
    this.#healing.replaced[kind]++;
    // Dying young: soon after starting, or silent without ever having said a word since.
    const young = kind !== "quality" && (silence?.neverHeard === true || detectedAt - (this.#readyAt.get(agent.id) ?? 0) < CRASH_LOOP_UPTIME_MS);
    const inARow = young ? (this.#youngLosses.get(agent.id) ?? 0) + 1 : 0;
    this.#youngLosses.set(agent.id, inARow);
    const profile = this.#profiles.version(agent.profile, agent.profileVersion);
    if (profile === undefined || inARow >= CRASH_LOOP_LIMIT) {
      this.#registry.transition(agent, "TERMINATED", profile === undefined ? "its profile version is gone" : `died within ${CRASH_LOOP_UPTIME_MS} ms of starting ${inARow} times in a row: given up`);
      this.#youngLosses.delete(agent.id);
      this.#healing.givenUp++;
      return;
    }
    void gone.then(async () => {
      if (agent.state !== "UNHEALTHY" || this.#state !== "started") return;
      try {
        await this.#spawner.reprovision(agent, profile, `replacing: ${reason}`);
        this.#healing.replacementMs.add(Date.now() - detectedAt);
      } catch (error) {
        this.#deps.logger.error(`agent ${agent.id} could not be replaced`, error);
        // A failed start already ended it; anything else still standing is ended here.
        const now = agent.state as AgentState;
        if (now !== "TERMINATED") this.#registry.transition(agent, now === "UNHEALTHY" || now === "PROVISIONING" || now === "WARMING" ? "TERMINATED" : "DRAINING", "replacement failed");
      }
    });
  }

  // ---------------------------------------------------------------- chaos

  /** Throws CHAOS_DISABLED (404) unless the factory was created with `chaos: true`. */
  #assertChaos(): void {
    this.#assertOpen();
    if (!this.#deps.chaos) throw new FactoryError("CHAOS_DISABLED", "chaos actions are off; start the server with --chaos to allow them");
  }

  /**
   * Chaos: kills an agent the hard way. A process agent gets `kill -9` from outside, and the
   * factory finds out as it would in real life (the process is gone); a function agent's
   * runtime is dropped as if it had crashed.
   */
  chaosKill(id: string): { agentId: string; pid: number | null; at: string } {
    this.#assertChaos();
    const agent = this.#requireWorking(id);
    const pid = agent.pid;
    const at = new Date().toISOString();
    if (pid === null) this.#replace(agent, "chaos: killed", "lost");
    else {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        throw new FactoryError("ILLEGAL_TRANSITION", `agent ${id}'s process ${pid} has already exited; it is being replaced`, { details: { current: agent.state } });
      }
    }
    return { agentId: id, pid, at };
  }

  /** Chaos: freezes a process agent (SIGSTOP) for `ms`, then lets it go on (SIGCONT). */
  chaosFreeze(id: string, ms: number): { agentId: string; pid: number | null; at: string } {
    this.#assertChaos();
    const agent = this.#requireWorking(id);
    const handle = this.#registry.handle(id);
    if (handle?.freeze === undefined) {
      throw new FactoryError("VALIDATION_FAILED", `agent ${id} is a ${this.#profiles.version(agent.profile, agent.profileVersion)?.runtime.kind ?? "?"} agent; only process agents can be frozen`, { field: "agentId" });
    }
    const at = new Date().toISOString();
    handle.freeze(ms);
    return { agentId: id, pid: agent.pid, at };
  }

  /** Chaos: adds `ms` before every task's handler starts (0 turns it off). */
  chaosLatency(ms: number): { latencyMs: number } {
    this.#assertChaos();
    this.#dispatcher.injectedLatencyMs = ms;
    return { latencyMs: ms };
  }

  #requireWorking(id: string): Agent {
    const agent = this.#registry.get(id);
    if (agent === undefined) throw new FactoryError("AGENT_NOT_FOUND", `no live agent with id '${id}'`, { field: "agentId" });
    if (!isWorkingState(agent.state)) {
      throw new FactoryError("ILLEGAL_TRANSITION", `agent ${id} is ${agent.state}; chaos picks READY, BUSY or IDLE agents`, { details: { current: agent.state } });
    }
    return agent;
  }

  get chaosEnabled(): boolean {
    return this.#deps.chaos;
  }

  // ---------------------------------------------------------------- hibernation

  /**
   * Puts an agent to sleep: it must be READY or IDLE with nothing running. Its context is
   * saved with its row, its runtime is stopped (a process is asked to exit and may save its
   * context first; the workspace stays) and it leaves memory: a hibernated agent costs one store
   * row. A task addressed to it (by id or by an affinity key bound to it) wakes it.
   */
  async hibernateAgent(id: string): Promise<Agent> {
    this.#assertOpen();
    const agent = this.#registry.get(id);
    if (agent === undefined) {
      const stored = await this.getAgent(id);
      if (stored.state === "HIBERNATING") return stored;
      throw new FactoryError("ILLEGAL_TRANSITION", `agent ${id} cannot go from ${stored.state} to HIBERNATING`, { details: { current: stored.state, requested: "HIBERNATING" } });
    }
    await this.#hibernate(agent, "hibernated by request");
    return snapshotAgent(agent);
  }

  /** Why an agent cannot sleep now, or undefined if it can. */
  #whyAwake(agent: Agent): string | undefined {
    if (agent.load > 0 || (agent.state !== "READY" && agent.state !== "IDLE")) return `it is ${agent.state} with ${agent.load} task(s) running`;
    const waiting = this.#dispatcher.waitingFor(agent.id);
    if (waiting > 0) return `${waiting} task(s) wait for it`;
    if (agent.health.suspect !== null) return `it is suspect (${agent.health.suspect})`;
    if (agent.health.missed > 0) return "it missed a heartbeat";
    return undefined;
  }

  async #hibernate(agent: Agent, reason: string): Promise<void> {
    const why = this.#whyAwake(agent);
    if (why !== undefined) {
      throw new FactoryError("AGENT_BUSY", `agent ${agent.id} cannot hibernate: ${why}; only an idle agent can`, { details: { current: agent.state, load: agent.load } });
    }
    if (agent.state === "READY") this.#registry.transition(agent, "IDLE", "going to sleep");
    const handle = this.#registry.handle(agent.id);
    this.#registry.setHandle(agent.id, undefined);
    const services = this.#spawner.retire(agent);
    agent.pid = null;
    if (this.#dispatcher.affinity.countFor(agent.id) > 0) this.#noteAsleep(agent.id);
    this.#registry.transition(agent, "HIBERNATING", reason);
    this.#healing.hibernated++;
    let done!: () => void;
    this.#sleeping.set(agent.id, new Promise<void>((resolve) => (done = resolve)));
    try {
      await (handle?.suspend?.() ?? handle?.stop());
    } finally {
      // Nothing the old runtime says from now on counts, not even a context saved too late.
      services?.seal();
      if ((agent.state as AgentState) === "HIBERNATING") {
        // Out of memory: from here on it is its store row (with the context it saved on the way out).
        this.#registry.evict(agent);
        if (agent.crewId !== null) this.#crewSleeper(agent.crewId, agent, true);
      } else if ((agent.state as AgentState) === "TERMINATED") {
        // Terminated while it went to sleep.
        for (const runtime of this.#deps.runtimes) runtime.forget?.(agent.id);
      }
      this.#readyAt.delete(agent.id);
      this.#youngLosses.delete(agent.id);
      this.#sleeping.delete(agent.id);
      done();
      await this.#journal.commit();
    }
  }

  /** Affinity bindings outlive nothing forever: the set of bound sleepers is trimmed to those still bound. */
  #noteAsleep(id: string): void {
    this.#asleep.add(id);
    if (this.#asleep.size > this.#deps.affinity.maxBindings) {
      for (const other of this.#asleep) if (this.#dispatcher.affinity.countFor(other) === 0) this.#asleep.delete(other);
    }
  }

  #crewSleeper(crewId: string, agent: Pick<Agent, "id" | "crewId" | "role" | "profile" | "capabilities">, asleep: boolean): void {
    let sleepers = this.#crewSleepers.get(crewId);
    if (asleep) {
      if (sleepers === undefined) this.#crewSleepers.set(crewId, (sleepers = new Map()));
      sleepers.set(agent.id, { id: agent.id, crewId, role: agent.role, profile: agent.profile, capabilities: agent.capabilities });
    } else if (sleepers !== undefined) {
      sleepers.delete(agent.id);
      if (sleepers.size === 0) this.#crewSleepers.delete(crewId);
    }
  }

  /** A crew task found no free member: wake a sleeping member that can serve it, if there is one. */
  #wakeCrewSleeperFor(crewId: string, target: LaneTarget): void {
    if (!this.#crews.acceptsWork(crewId)) return;
    if (!this.#crewSleepersRead.has(crewId)) {
      // Members that went to sleep before this start are only in the store: read them the first
      // time the crew's work needs one (not at start, where most crews never will).
      this.#crewSleepersRead.add(crewId);
      void this.#deps.store.listAgents({ states: ["HIBERNATING"], crewId }).then(
        (stored) => {
          for (const sleeper of stored) if (this.#registry.get(sleeper.id) === undefined) this.#crewSleeper(crewId, sleeper, true);
          this.#wakeCrewSleeperFor(crewId, target);
        },
        (error: unknown) => this.#deps.logger.error(`the sleeping members of crew ${crewId} could not be read`, error),
      );
      return;
    }
    const sleepers = this.#crewSleepers.get(crewId);
    if (sleepers === undefined) return;
    for (const sleeper of sleepers.values()) {
      if (this.#waking.has(sleeper.id) || !targetMatches(target, sleeper)) continue;
      this.#wake(sleeper.id, "a crew task needs it").catch((error: unknown) => this.#deps.logger.error(`agent ${sleeper.id} could not be woken`, error));
      return;
    }
  }

  /** Wakes a hibernated agent and resolves when it is READY; an awake agent comes back as it is. */
  async wakeAgent(id: string): Promise<Agent> {
    this.#assertOpen();
    return snapshotAgent(await this.#wake(id, "woken by request"));
  }

  /**
   * Brings a hibernated agent back: a hibernation still under way ends first, then its row is
   * read, it rejoins memory (HIBERNATING → WARMING) and its runtime starts with its saved
   * context. Resolves when it is READY. Concurrent wakes of one agent share one.
   */
  #wake(id: string, reason: string): Promise<Agent> {
    const live = this.#registry.get(id);
    if (live !== undefined && live.state !== "HIBERNATING") return this.#waking.get(id) ?? Promise.resolve(live);
    const pending = this.#waking.get(id);
    if (pending !== undefined) return pending;
    const started = Date.now();
    const waking = (async (): Promise<Agent> => {
      await this.#sleeping.get(id);
      await this.#journal.commit();
      const stored = await this.#deps.store.getAgent(id);
      if (this.#wakeAborted.delete(id)) throw new FactoryError("ILLEGAL_TRANSITION", `agent ${id} was terminated while it was being woken`, { details: { current: "TERMINATED", requested: "WARMING" } });
      if (stored === undefined) throw new FactoryError("AGENT_NOT_FOUND", `no agent with id '${id}'`);
      // Woken meanwhile by another path, or never asleep.
      const again = this.#registry.get(id);
      if (again !== undefined) return again;
      if (stored.state !== "HIBERNATING") {
        throw new FactoryError("ILLEGAL_TRANSITION", `agent ${id} is ${stored.state}; only a HIBERNATING agent can be woken`, { details: { current: stored.state, requested: "WARMING" } });
      }
      if (stored.crewId !== null) this.#crewSleeper(stored.crewId, stored, false);
      const profile = this.#profiles.version(stored.profile, stored.profileVersion);
      stored.load = 0;
      this.#registry.add(stored, `waking: ${reason}`);
      if (profile === undefined) {
        this.#registry.transition(stored, "TERMINATED", `profile ${stored.profile} v${stored.profileVersion} is gone`);
        throw new FactoryError("PROFILE_NOT_FOUND", `agent ${id} cannot wake: profile ${stored.profile} v${stored.profileVersion} is gone`);
      }
      await this.#spawner.wake(stored, profile);
      this.#asleep.delete(id);
      this.#healing.woken++;
      this.#healing.wakeMs.add(Date.now() - started);
      return stored;
    })();
    this.#waking.set(id, waking);
    const forget = (): void => {
      this.#waking.delete(id);
      this.#wakeAborted.delete(id);
    };
    waking.then(forget, forget);
    return waking;
  }

  // ---------------------------------------------------------------- profiles

  /** Registers a profile (typed; still validated at run time, naming the field at fault); a changed one becomes a new version. */
  registerProfile(input: ProfileInput): { profile: ProfileRecord; created: boolean } {
    this.#assertOpen();
    return this.#registerValidated(parseWith(ProfileSchema, input, "profile"), undefined);
  }

  #registerValidated(profile: Profile, fieldPrefix: string | undefined): { profile: ProfileRecord; created: boolean } {
    try {
      this.#spawner.runtimeFor(profile).validate(profile);
    } catch (error) {
      if (fieldPrefix !== undefined && error instanceof FactoryError && error.field !== undefined) {
        throw new FactoryError(error.code, `${fieldPrefix}.${error.message}`, { field: `${fieldPrefix}.${error.field}` });
      }
      throw error;
    }
    const { record, created } = this.#profiles.register(profile);
    if (created) {
      this.#journal.put({ kind: "profile", value: record });
      this.#events.emit({ type: "profile.registered", data: { name: record.name, version: record.version } });
    }
    return { profile: record, created };
  }

  /** The latest version of each profile. */
  listProfiles(): ProfileRecord[] {
    return this.#profiles.list();
  }

  /** A profile's latest version, or the given one. */
  getProfile(name: string, version?: number): ProfileRecord {
    const record = version === undefined ? this.#profiles.latest(name) : this.#profiles.version(name, version);
    if (record === undefined) {
      throw new FactoryError("PROFILE_NOT_FOUND", version === undefined ? `no profile named '${name}'` : `profile '${name}' has no version ${version}`);
    }
    return record;
  }

  profileVersions(name: string): readonly ProfileRecord[] {
    this.getProfile(name);
    return this.#profiles.versions(name);
  }

  // ---------------------------------------------------------------- agents

  /** Spawns one agent outside any crew and resolves when it is READY. */
  async spawnAgent(request: SpawnRequest): Promise<Agent> {
    this.#assertOpen();
    if ((request.profile === undefined) === (request.config === undefined)) {
      throw new FactoryError("VALIDATION_FAILED", "give exactly one of 'profile' (a name) and 'config' (an inline profile)", { field: "profile" });
    }
    const profile =
      request.config !== undefined
        ? this.#registerValidated(parseWith(ProfileSchema, request.config, "config"), "config").profile
        : this.#profiles.require(request.profile as string);
    return snapshotAgent(await this.#spawner.spawn(profile, request.name === undefined ? {} : { name: request.name }));
  }

  /** Agents in memory (all but TERMINATED and HIBERNATING), newest first (`spawnedAt`, id); those two states are read from the store. */
  async listAgents(filter: AgentFilter = {}): Promise<Agent[]> {
    const limit = filter.limit ?? 1000;
    if (filter.state === "TERMINATED" || filter.state === "HIBERNATING") {
      // These live in the store only.
      await this.#journal.commit();
      return this.#deps.store.listAgents({
        states: [filter.state],
        ...(filter.role === undefined ? {} : { role: filter.role }),
        ...(filter.crewId === undefined ? {} : { crewId: filter.crewId }),
        ...(filter.after === undefined ? {} : { after: filter.after }),
        limit,
      });
    }
    const out: Agent[] = [];
    for (const agent of this.#registry.values()) {
      if (filter.state !== undefined && agent.state !== filter.state) continue;
      if (filter.role !== undefined && agent.role !== filter.role) continue;
      if (filter.crewId !== undefined && agent.crewId !== filter.crewId) continue;
      if (filter.after !== undefined && !isPast(agentPosition(agent), filter.after)) continue;
      out.push(agent);
    }
    out.sort((a, b) => newestFirst(agentPosition(a), agentPosition(b)));
    return out.slice(0, limit).map(snapshotAgent);
  }

  async getAgent(id: string): Promise<Agent> {
    const live = this.#registry.get(id);
    if (live !== undefined) return snapshotAgent(live);
    await this.#journal.commit();
    const stored = await this.#deps.store.getAgent(id);
    if (stored === undefined) throw new FactoryError("AGENT_NOT_FOUND", `no agent with id '${id}'`);
    return stored;
  }

  /** Drains and terminates an agent (at once if it runs nothing). Terminating a TERMINATED agent is a 409. */
  async terminateAgent(id: string): Promise<Agent> {
    this.#assertOpen();
    const agent = this.#registry.get(id);
    if (agent === undefined) {
      const stored = await this.getAgent(id);
      if (stored.state === "HIBERNATING") {
        // Asleep: nothing runs, so it ends at once (its workspace goes with it).
        this.#terminateSleeping(stored, "terminated by request");
        await this.#journal.commit();
        return (await this.#deps.store.getAgent(id)) ?? stored;
      }
      throw new FactoryError("ILLEGAL_TRANSITION", `agent ${id} cannot go from ${stored.state} to DRAINING`, {
        details: { current: stored.state, requested: "DRAINING" },
      });
    }
    if (agent.state !== "DRAINING") this.#spawner.terminate(agent, "terminated by request");
    return snapshotAgent(agent);
  }

  /** Ends a hibernated agent as read from the store: its row becomes TERMINATED (or, if it woke meanwhile, it is terminated live). */
  #terminateSleeping(agent: Agent, reason: string): void {
    this.#asleep.delete(agent.id);
    if (agent.crewId !== null) this.#crewSleeper(agent.crewId, agent, false);
    const live = this.#registry.get(agent.id);
    if (live !== undefined) {
      if (live.state !== "DRAINING") this.#spawner.terminate(live, reason);
      return;
    }
    // A wake that has read the row but not yet brought it back must not bring it back.
    if (this.#waking.has(agent.id)) this.#wakeAborted.add(agent.id);
    this.#registry.add(agent, "terminating a hibernated agent");
    this.#registry.transition(agent, "TERMINATED", reason);
    for (const runtime of this.#deps.runtimes) runtime.forget?.(agent.id);
  }

  /**
   * Clones a live agent for fan-out: a new agent of the same profile version, in the same crew,
   * starting from the source's saved context. (What the source is computing right now is not
   * copied: only what it saved with `saveContext`.)
   */
  async cloneAgent(id: string): Promise<Agent> {
    this.#assertOpen();
    const source = this.#registry.get(id);
    if (source === undefined) throw new FactoryError("AGENT_NOT_FOUND", `no live agent with id '${id}'`);
    return snapshotAgent(await this.#clone(source, `clone of ${source.id}`));
  }

  async #clone(source: Agent, reason: string): Promise<Agent> {
    const profile = this.#profiles.version(source.profile, source.profileVersion);
    if (profile === undefined) throw new FactoryError("PROFILE_NOT_FOUND", `profile ${source.profile} v${source.profileVersion} is gone`);
    if (source.crewId !== null) this.#crews.requireOpen(source.crewId);
    const clone = await this.#spawner.spawn(profile, { crewId: source.crewId, reason, context: source.context, name: `${source.name}-clone` });
    if (source.crewId !== null) this.#crews.addMember(source.crewId, clone.id);
    return clone;
  }

  /** Every pool (one per profile): size, states, queue, wait times, target and scaling decisions. */
  listPools(): PoolView[] {
    return this.#pools.views();
  }

  getPool(profile: string): PoolView {
    return this.#pools.view(this.getProfile(profile));
  }

  /**
   * Tasks waiting for an agent, counted by what they ask for (most first), with the profiles
   * whose pools could serve each (none for a crew's or one agent's tasks: those wait for members
   * or for that agent). Tasks waiting out a retry backoff are not in it.
   */
  listWaiting(): WaitingView[] {
    const out: WaitingView[] = [];
    for (const lane of this.#dispatcher.lanes()) {
      if (lane.size === 0) continue;
      const { crewId, role, profile, capabilities, agentId } = lane.target;
      const profiles = crewId === null && agentId === null ? this.#profilesFor(lane.target).map((p) => p.name) : [];
      out.push({ crewId, role, profile, capabilities: [...capabilities], agentId, queued: lane.size, profiles });
    }
    return out.sort((a, b) => b.queued - a.queued);
  }

  /** A wallet, with its balance as the ledger sums it. */
  async getWallet(address: string): Promise<Wallet> {
    if (SYSTEM_WALLETS.has(address)) {
      return { address, ownerKind: "system", ownerId: "system", balance: this.#ledger.balance(address), achievementTokens: 0, createdAt: "1970-01-01T00:00:00.000Z" };
    }
    await this.#journal.commit();
    const wallet = await this.#deps.store.getWallet(address);
    if (wallet === undefined) throw new FactoryError("NOT_FOUND", `no wallet with address '${address}'`, { field: "wallet" });
    return { ...walletFromRecord(wallet), balance: this.#ledger.balance(address) };
  }

  // ---------------------------------------------------------------- ledger

  /** Ledger entries in order (read from the store). */
  async listLedger(query: LedgerQuery = {}): Promise<LedgerEntry[]> {
    await this.#journal.commit();
    return this.#deps.store.listLedger({ ...query, limit: query.limit ?? 1000 });
  }

  /**
   * Sums of one kind of entry (usage by default) per agent, crew, model or UTC hour, day or
   * month, and their total; `from` is inclusive, `to` exclusive.
   */
  async ledgerReport(query: LedgerReportQueryInput): Promise<LedgerReport> {
    const q = parseWith(LedgerReportQuerySchema, query, "report query");
    // Stored `at`s are UTC ISO strings: bounds in the same form compare as text.
    const from = q.from === undefined ? null : new Date(q.from).toISOString();
    const to = q.to === undefined ? null : new Date(q.to).toISOString();
    if (from !== null && to !== null && to < from) throw new FactoryError("VALIDATION_FAILED", `invalid report query: to: must not be before from (${from})`, { field: "to" });
    const kind = q.kind ?? "usage";
    await this.#journal.commit();
    const rows = await this.#deps.store.ledgerReport({
      by: q.by,
      kind,
      ...(q.crewId === undefined ? {} : { crewId: q.crewId }),
      ...(q.agentId === undefined ? {} : { agentId: q.agentId }),
      ...(q.model === undefined ? {} : { model: q.model }),
      ...(from === null ? {} : { from }),
      ...(to === null ? {} : { to }),
    });
    let micro = 0;
    const total = { entries: 0, amount: 0, tokensIn: 0, tokensOut: 0 };
    for (const row of rows) {
      total.entries += row.entries;
      micro += toMicro(row.amount);
      total.tokensIn += row.tokensIn;
      total.tokensOut += row.tokensOut;
    }
    total.amount = fromMicro(micro);
    return { by: q.by, kind, from, to, rows, total };
  }

  /** An operator grants credits from outside to an agent's or crew's wallet. */
  async grantCredits(wallet: string, amount: number, memo?: string): Promise<LedgerEntry> {
    this.#assertOpen();
    const target = await this.getWallet(wallet);
    const entry = this.#ledger.grant(target.address, amount, {
      ...(target.ownerKind === "crew" ? { crewId: target.ownerId } : target.ownerKind === "agent" ? { agentId: target.ownerId } : {}),
      memo: memo ?? "granted by an operator",
    });
    await this.#journal.commit();
    return entry;
  }

  /** Moves credits between two wallets (the payer must hold them). */
  async transferCredits(from: string, to: string, amount: number, memo?: string): Promise<LedgerEntry> {
    this.#assertOpen();
    const [payer, payee] = await Promise.all([this.getWallet(from), this.getWallet(to)]);
    if (payer.ownerKind === "system" || payee.ownerKind === "system") {
      throw new FactoryError("VALIDATION_FAILED", "from: transfers are between agent and crew wallets; grants come from the system", { field: payer.ownerKind === "system" ? "from" : "to" });
    }
    const entry = this.#ledger.post("transfer", payer.address, payee.address, amount, {
      crewId: payer.ownerKind === "crew" ? payer.ownerId : payee.ownerKind === "crew" ? payee.ownerId : null,
      memo: memo ?? null,
    });
    await this.#journal.commit();
    return entry;
  }

  /**
   * Which model a call with this metadata and input size would go to, by which rule and why.
   * For a crew, the remaining budget is its wallet's balance against the budget it was given.
   */
  async routeModel(request: { metadata?: Record<string, unknown>; estimatedInputTokens: number; crewId?: string; agentId?: string }): Promise<RouteDecision & { budgetFraction: number | null }> {
    if (request.crewId !== undefined) await this.getCrew(request.crewId);
    const budgetFraction = this.#budgetFraction(request.crewId ?? null, request.agentId ?? null);
    const decision = this.#router.explain({ ...(request.metadata === undefined ? {} : { metadata: request.metadata }), estimatedInputTokens: request.estimatedInputTokens, budgetFraction });
    return { ...decision, budgetFraction };
  }

  /**
   * What is left of the tightest budget a call for this crew and agent is under, as a fraction
   * (0–1): the crew wallet against the budget it was given, and every limit that applies. Null
   * when none applies (the rules then treat the budget as full).
   */
  #budgetFraction(crewId: string | null, agentId: string | null): number | null {
    const crew = crewId === null ? undefined : this.#crews.get(crewId);
    const wallet = crew !== undefined && crew.budget !== null && crew.budget > 0 ? this.#ledger.balance(crew.walletAddress) / crew.budget : null;
    const limits = this.#guard.remainingFraction({ crewId, agentId });
    if (wallet === null && limits === null) return null;
    return Math.max(0, Math.min(1, wallet ?? 1, limits ?? 1));
  }

  /**
   * Whether a task an agent names (progress, a model call, a sub-task, a wait) is one of its own
   * attempts: the one it runs now (`current`), or one it ran whose outcome is already decided
   * (`earlier`: ignored or allowed, never a denial). Anything else is a security denial: logged
   * with the agent and the task, counted in `stats().security.denied`, and never recorded.
   */
  #attemptOf(agent: Agent, taskId: string, action: string): "current" | "earlier" | undefined {
    const attempt = this.#ownAttempt(agent, taskId);
    if (attempt === undefined) this.#deny(agent, taskId, action);
    return attempt;
  }

  #ownAttempt(agent: Agent, taskId: string): "current" | "earlier" | undefined {
    const attempt = this.#dispatcher.attemptOf(agent, taskId);
    if (attempt !== undefined) return attempt;
    // Its attempt just ended (a message sent as it answered).
    return (this.#tasks.get(taskId) ?? this.#recent.get(taskId))?.agentId === agent.id ? "earlier" : undefined;
  }

  #deny(agent: Agent, taskId: string, action: string): void {
    this.#denied++;
    this.#agentLog.warn(agent.id, `security: agent ${agent.id} named task ${taskId} (${action}), which is not one of its attempts; ignored`);
  }

  #notYours(agent: Agent, taskId: string): FactoryError {
    return new FactoryError("NOT_YOUR_TASK", `task ${taskId} is not one of agent ${agent.id}'s attempts`, { nonRetryable: true, details: { taskId } });
  }

  /** An agent waits for one of its own attempts or for a sub-task of one of them. */
  async #waitForOwnTask(agent: Agent, id: string, waitMs: number): Promise<Task> {
    const task = await this.getTask(id);
    const own = task.agentId === agent.id || this.#ownAttempt(agent, id) !== undefined || (task.parentTaskId !== undefined && this.#ownAttempt(agent, task.parentTaskId) !== undefined);
    if (!own) {
      this.#deny(agent, id, "a wait");
      throw this.#notYours(agent, id);
    }
    return this.waitForTask(id, waitMs);
  }

  /** One model call of an agent's task: its crew's wallet pays (its own without a crew); the task counts the usage. */
  async #callModel(agent: Agent, taskId: string, request: AgentModelRequest): Promise<ModelCallResult> {
    if (this.#attemptOf(agent, taskId, "a model call") === undefined) throw this.#notYours(agent, taskId);
    const crew = agent.crewId === null ? undefined : this.#crews.get(agent.crewId);
    const result = await this.#router.call({
      ...request,
      payer: crew?.walletAddress ?? agent.walletAddress,
      scope: { crewId: agent.crewId, agentId: agent.id },
      taskId,
      budgetFraction: this.#budgetFraction(agent.crewId, agent.id),
    });
    const task = this.#tasks.get(taskId);
    if (task !== undefined) {
      const usage = task.usage ?? { calls: 0, inputTokens: 0, outputTokens: 0, cost: 0 };
      task.usage = {
        calls: usage.calls + 1,
        inputTokens: usage.inputTokens + result.usage.inputTokens,
        outputTokens: usage.outputTokens + result.usage.outputTokens,
        cost: fromMicro(toMicro(usage.cost) + toMicro(result.cost)),
      };
    }
    return result;
  }

  /** A sub-task an agent submits: in its own crew (or to agents in none), linked to the task it runs. */
  #submitSubtask(agent: Agent, parentTaskId: string, request: SubtaskRequest): Promise<Task> {
    if (this.#attemptOf(agent, parentTaskId, "a sub-task") === undefined) return Promise.reject(this.#notYours(agent, parentTaskId));
    return this.submitTask({
      role: request.role,
      input: request.input,
      ...(agent.crewId === null ? {} : { crewId: agent.crewId }),
      ...(request.priority === undefined ? {} : { priority: request.priority }),
      ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }),
      parentTaskId,
    });
  }

  // ---------------------------------------------------------------- budgets

  /** Every budget limit as it stands. */
  listBudgets(): BudgetView[] {
    return this.#guard.list();
  }

  /**
   * Sets a budget: `global`, `crew:<id>` or `agent:<id>`, in credits, optionally per period.
   * Kept in the store; what its window has spent survives a restart (summed from the ledger).
   */
  async setBudget(key: string, input: { credits: number; periodMs?: number | null }): Promise<BudgetView> {
    this.#assertOpen();
    const budget = parseWith(BudgetConfigSchema, { key, credits: input.credits, periodMs: input.periodMs ?? null }, "budget");
    await this.#requireBudgetOwner(budget.key);
    const view = this.#guard.setLimit(budget);
    await this.#deps.store.putBudget({ ...budget, windowStart: new Date(this.#guard.windowStart(budget.key) as number).toISOString() });
    return view;
  }

  async removeBudget(key: string): Promise<void> {
    this.#assertOpen();
    if (!this.#guard.removeLimit(key)) throw new FactoryError("NOT_FOUND", `no budget '${key}'`, { field: "key" });
    await this.#deps.store.deleteBudget(key);
  }

  /** A crew or agent budget names one that exists (live, asleep or ended: its past spend counts). */
  async #requireBudgetOwner(key: string): Promise<void> {
    const { crewId, agentId } = budgetScopeOf(key);
    if (crewId !== undefined) await this.getCrew(crewId);
    if (agentId !== undefined && this.#registry.get(agentId) === undefined && (await this.#deps.store.getAgent(agentId)) === undefined) {
      throw new FactoryError("AGENT_NOT_FOUND", `no agent with id '${agentId}'`, { field: "key" });
    }
  }

  /**
   * At start: the stored budgets and the configured ones (which win on credits and period), each
   * with what its current window has spent, summed from the ledger. A configured budget keeps
   * its stored window unless its period changed, so a restart never hands out a fresh budget.
   */
  async #restoreBudgets(): Promise<void> {
    const stored = new Map((await this.#deps.store.listBudgets()).map((b) => [b.key, b] as const));
    const now = Date.now();
    const budgets = new Map<string, { key: string; credits: number; periodMs: number | null; windowStart: number }>();
    for (const b of stored.values()) budgets.set(b.key, { ...b, windowStart: Date.parse(b.windowStart) });
    for (const b of this.#deps.models?.budgets ?? []) {
      const before = stored.get(b.key);
      budgets.set(b.key, { ...b, windowStart: before !== undefined && before.periodMs === b.periodMs ? Date.parse(before.windowStart) : now });
    }
    for (const budget of budgets.values()) {
      let windowStart = budget.windowStart;
      if (budget.periodMs !== null && now - windowStart >= budget.periodMs) windowStart = now - ((now - windowStart) % budget.periodMs);
      const rows = await this.#deps.store.ledgerReport({ by: "day", kind: "usage", ...budgetScopeOf(budget.key), from: new Date(windowStart).toISOString() });
      this.#guard.setLimit(budget, { windowStart, spent: fromMicro(rows.reduce((n, r) => n + toMicro(r.amount), 0)) });
      const changed = stored.get(budget.key);
      if (changed === undefined || changed.credits !== budget.credits || changed.periodMs !== budget.periodMs || Date.parse(changed.windowStart) !== windowStart) {
        await this.#deps.store.putBudget({ key: budget.key, credits: budget.credits, periodMs: budget.periodMs, windowStart: new Date(windowStart).toISOString() });
      }
    }
  }

  /** Providers (with their failure counts and cooldowns), prices and routing rules. */
  modelsInfo(): { providers: ReturnType<ModelRouter["providers"]>; rules: ModelRouter["rules"]; pricing: ReturnType<PricingTable["table"]>; calls: number; uncoveredCredits: number } {
    return { providers: this.#router.providers(), rules: this.#router.rules, pricing: this.#router.pricing.table(), ...this.#router.stats() };
  }

  /** The ledger (for the model router and its budget guard). */
  get ledger(): Ledger {
    return this.#ledger;
  }

  // ---------------------------------------------------------------- crews

  /** Throws CREW_NOT_ACTIVE (409) for a crew that exists but is disbanded, CREW_NOT_FOUND (404) otherwise. */
  async #requireOpenCrew(crewId: string): Promise<void> {
    if (this.#crews.get(crewId) !== undefined) {
      this.#crews.requireOpen(crewId);
      return;
    }
    await this.#journal.commit();
    const stored = await this.#deps.store.getCrew(crewId);
    if (stored === undefined) throw new FactoryError("CREW_NOT_FOUND", `no crew with id '${crewId}'`, { field: "crewId" });
    throw new FactoryError("CREW_NOT_ACTIVE", `crew ${crewId} is ${stored.state}`, { field: "crewId", details: { current: stored.state } });
  }

  /** Spawns every member; resolves when all are READY. On any failure nothing of the crew remains. */
  async assembleCrew(manifest: CrewManifestInput | CrewManifest, options: { requestId?: string } = {}): Promise<{ crew: Crew; agents: Agent[] }> {
    this.#assertOpen();
    const { crew, agents } = await this.#crews.assemble(parseWith(CrewManifestSchema, manifest, "manifest"), options);
    // The manifest's budget becomes the crew wallet's credits once the crew stands.
    if (crew.budget !== null && crew.budget > 0) {
      this.#ledger.grant(crew.walletAddress, crew.budget, { crewId: crew.id, memo: "crew budget (manifest)" });
      await this.#journal.commit();
    }
    return { crew: snapshotCrew(crew), agents: agents.map(snapshotAgent) };
  }

  async getCrew(id: string): Promise<Crew> {
    const live = this.#crews.get(id);
    if (live !== undefined) return snapshotCrew(live);
    await this.#journal.commit();
    const stored = await this.#deps.store.getCrew(id);
    if (stored === undefined) throw new FactoryError("CREW_NOT_FOUND", `no crew with id '${id}'`);
    return stored;
  }

  /** Crews not yet disbanded, newest first (`createdAt`, id); `state: "DISBANDED"` reads the store. */
  async listCrews(filter: CrewFilter = {}): Promise<Crew[]> {
    const limit = filter.limit ?? 1000;
    if (filter.state === "DISBANDED") {
      await this.#journal.commit();
      return this.#deps.store.listCrews({ states: ["DISBANDED"], limit, ...(filter.after === undefined ? {} : { after: filter.after }) });
    }
    const after = filter.after;
    const out = [...this.#crews.values()].filter((c) => (filter.state === undefined || c.state === filter.state) && (after === undefined || isPast({ at: c.createdAt, id: c.id }, after)));
    out.sort((a, b) => newestFirst({ at: a.createdAt, id: a.id }, { at: b.createdAt, id: b.id }));
    return out.slice(0, limit).map(snapshotCrew);
  }

  /** The crew's members as they are now (live or as last stored). */
  async crewAgents(crew: Crew): Promise<Agent[]> {
    return Promise.all(crew.agentIds.map((id) => this.getAgent(id)));
  }

  /** Delivers `signal` to every member; PAUSE stops the crew taking tasks, RESUME restarts it. */
  async broadcast(crewId: string, signal: string, payload?: unknown): Promise<CrewMessage> {
    this.#assertOpen();
    await this.#requireOpenCrew(crewId);
    return this.#crews.broadcast(crewId, signal, payload ?? null);
  }

  async publish(crewId: string, topic: string, payload?: unknown): Promise<CrewMessage> {
    this.#assertOpen();
    await this.#requireOpenCrew(crewId);
    const message = await this.#crews.publish(crewId, topic, payload ?? null);
    await this.#journal.commit();
    return message;
  }

  /** Subscribes to a crew topic (`signals` carries broadcasts). */
  subscribe(crewId: string, topic: string, handler: (message: CrewMessage) => void): Unsubscribe {
    return this.#crews.subscribe(crewId, topic, handler);
  }

  async listMessages(crewId: string, options: { topic?: string; afterSeq?: number; limit?: number } = {}): Promise<Array<CrewMessage & { seq: number }>> {
    await this.getCrew(crewId);
    return this.#crews.listMessages(crewId, options);
  }

  async getContext(crewId: string): Promise<Record<string, unknown>> {
    await this.getCrew(crewId);
    await this.#journal.commit();
    return this.#deps.store.getContext(crewId);
  }

  async setContext(crewId: string, key: string, value: unknown): Promise<void> {
    this.#assertOpen();
    await this.#requireOpenCrew(crewId);
    return this.#crews.setContext(crewId, key, value);
  }

  async deleteContext(crewId: string, key: string): Promise<void> {
    this.#assertOpen();
    await this.#requireOpenCrew(crewId);
    return this.#crews.deleteContext(crewId, key);
  }

  /** Cancels the crew's queued tasks, drains and terminates its members. */
  async disbandCrew(id: string): Promise<Crew> {
    this.#assertOpen();
    if (this.#crews.get(id) === undefined) {
      const stored = await this.getCrew(id);
      throw new FactoryError("CREW_NOT_ACTIVE", `crew ${id} is already ${stored.state}`, { details: { current: stored.state } });
    }
    const members = [...(this.#crews.get(id)?.agentIds ?? [])];
    const crew = snapshotCrew(this.#crews.disband(id));
    this.#crewSleepers.delete(id);
    this.#crewSleepersRead.delete(id);
    // Members asleep in the store end too.
    for (const agentId of members) {
      if (this.#registry.get(agentId) !== undefined) continue;
      const stored = await this.#deps.store.getAgent(agentId);
      if (stored?.state === "HIBERNATING") this.#terminateSleeping(stored, "its crew was disbanded");
    }
    await this.#journal.commit();
    return crew;
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
  async submit(input: TaskSubmitInput): Promise<{ task: Task; created: boolean }> {
    this.#assertOpen();
    const request = parseWith(TaskSubmitSchema, input, "task");
    if (request.idempotencyKey !== undefined) {
      const known = this.#byIdempotencyKey.get(request.idempotencyKey) ?? (await this.#deps.store.getTaskByIdempotencyKey(request.idempotencyKey));
      if (known !== undefined) return { task: { ...known }, created: false };
    }
    if (request.crewId !== undefined) await this.#requireOpenCrew(request.crewId);
    if (request.agentId === undefined) {
      await this.#requireServable({ crewId: request.crewId ?? null, role: request.role ?? null, profile: request.profile ?? null, capabilities: request.capabilities ?? [], agentId: null });
    }
    if (request.agentId !== undefined) {
      // An agent asleep in the store takes tasks too: the dispatcher wakes it for them.
      let agent = this.#registry.get(request.agentId);
      if (agent === undefined) {
        await this.#journal.commit();
        const stored = await this.#deps.store.getAgent(request.agentId);
        if (stored?.state === "HIBERNATING") agent = stored;
      }
      if (agent === undefined) throw new FactoryError("AGENT_NOT_FOUND", `no live or hibernating agent with id '${request.agentId}'`, { field: "agentId" });
      if (agent.crewId !== (request.crewId ?? null)) {
        throw new FactoryError(
          "VALIDATION_FAILED",
          agent.crewId === null ? `agentId: agent ${agent.id} is in no crew; drop crewId` : `agentId: agent ${agent.id} is in crew ${agent.crewId}; give that crewId`,
          { field: "agentId" },
        );
      }
    }
    const now = new Date().toISOString();
    const task: Task = {
      id: newTaskId(),
      state: "QUEUED",
      input: request.input ?? null,
      role: request.role ?? null,
      profile: request.profile ?? null,
      capabilities: request.capabilities ?? [],
      crewId: request.crewId ?? null,
      priority: request.priority,
      timeoutMs: request.timeoutMs ?? null,
      maxAttempts: request.maxAttempts,
      attempts: 0,
      retryBackoffMs: request.retryBackoffMs,
      retryAt: null,
      redrives: 0,
      affinityKey: request.affinityKey ?? null,
      idempotencyKey: request.idempotencyKey ?? null,
      balancer: request.balancer ?? null,
      targetAgentId: request.agentId ?? null,
      agentId: null,
      ...(request.parentTaskId === undefined ? {} : { parentTaskId: request.parentTaskId }),
      ...(request.reward === undefined ? {} : { reward: request.reward }),
      createdAt: now,
      startedAt: null,
      finishedAt: null,
      updatedAt: now,
    };
    if (task.idempotencyKey !== null) {
      // A concurrent submit with the same key may have got here first while this one awaited.
      const raced = this.#byIdempotencyKey.get(task.idempotencyKey);
      if (raced !== undefined) return { task: { ...raced }, created: false };
    }
    this.#dispatcher.reserve(task);
    if (task.idempotencyKey !== null) {
      // Claimed before the commit, so a later submit with the same key gets this task.
      this.#byIdempotencyKey.set(task.idempotencyKey, task);
    }
    this.#tasks.set(task.id, task);
    this.#journal.put({ kind: "task", value: task });
    try {
      await this.#journal.commit();
    } catch (error) {
      if (await this.#refuseSubmit(task)) throw error;
      // Its write was stored after all (in a batch a shutdown drain applied meanwhile): accepted.
    }
    // Announced once accepted, so no subscriber hears of a task that was refused.
    this.#events.emit({ type: "task.state", taskId: task.id, ...(task.crewId === null ? {} : { crewId: task.crewId }), to: "QUEUED", data: { reason: "submitted", attempts: 0 } });
    if (this.#state === "started") this.#dispatcher.enqueue(task);
    else this.#dispatcher.unreserve(task);
    return { task: { ...task }, created: true };
  }

  /**
   * Not durable, so not accepted: the task leaves no trace (memory, journal, store), and its
   * idempotency key stays free for the caller's retry. Its write is taken back from the journal.
   * A write the store is applying at that moment (a shutdown drain) is waited for: refused, it
   * is back among the pending writes and taken back; stored, the task is accepted after all and
   * this returns false.
   */
  async #refuseSubmit(task: Task): Promise<boolean> {
    for (;;) {
      if (this.#journal.withdraw((w) => w.kind === "task" && w.value.id === task.id) > 0) break;
      if (!this.#journal.applying) return false;
      await this.#journal.idle();
    }
    this.#tasks.delete(task.id);
    this.#dispatcher.unreserve(task);
    if (task.idempotencyKey !== null && this.#byIdempotencyKey.get(task.idempotencyKey) === task) this.#byIdempotencyKey.delete(task.idempotencyKey);
    return true;
  }

  /** Re-drives a dead-lettered task: QUEUED again with a fresh set of attempts. */
  async retryTask(id: string): Promise<Task> {
    this.#assertOpen();
    const task = this.#recent.get(id) ?? (await this.#deps.store.getTask(id));
    if (task === undefined) throw new FactoryError("TASK_NOT_FOUND", `no task with id '${id}'`);
    // Another re-drive may have taken it while the store was read.
    const live = this.#tasks.get(id);
    if (live !== undefined) throw new FactoryError("TASK_NOT_DEAD", `task ${id} is ${live.state}; only DEAD tasks can be re-driven`, { details: { current: live.state } });
    if (task.state !== "DEAD") {
      throw new FactoryError("TASK_NOT_DEAD", `task ${id} is ${task.state}; only DEAD tasks can be re-driven`, { details: { current: task.state } });
    }
    this.#recent.delete(id);
    this.#tasks.set(id, task);
    if (task.idempotencyKey !== null) this.#byIdempotencyKey.set(task.idempotencyKey, task);
    this.#dispatcher.redrive(task);
    await this.#journal.commit();
    return { ...task };
  }

  /**
   * Refuses a task that nothing could ever serve (NO_SUCH_TARGET, 422, naming the closest known
   * names): in a crew, no member — awake or asleep — matches its role, profile and capabilities;
   * outside crews, no registered profile and no agent does. A task that one could serve is
   * accepted even while no agent runs for it (spawned on demand, started by hand, or asleep):
   * `listWaiting()` and the pools show it waiting.
   */
  async #requireServable(target: LaneTarget): Promise<void> {
    const matches = (c: TargetCandidate): boolean => targetMatches(target, { id: "", crewId: target.crewId, ...c });
    const known: TargetCandidate[] = [];
    if (target.crewId === null) {
      // On the submit path: a target a profile serves stays served until the profiles change.
      const key = laneKey(target);
      if (this.#servedByProfile.get(key) === this.#profiles.epoch) return;
      for (const p of this.#profiles.list()) {
        const asAgent = { role: p.role, profile: p.name, capabilities: p.capabilities };
        if (matches(asAgent)) {
          if (this.#servedByProfile.size >= 10_000) this.#servedByProfile.clear();
          this.#servedByProfile.set(key, this.#profiles.epoch);
          return;
        }
        known.push(asAgent);
      }
      // Agents of older profile versions may serve what the latest versions no longer do.
      for (const agent of this.#registry.values()) {
        if (agent.crewId !== null) continue;
        if (matches(agent)) return;
        known.push(agent);
      }
    } else {
      const crew = this.#crews.get(target.crewId);
      // A crew still assembling lists its members once all stand; they are in the registry from their first state.
      const members = crew?.state === "ASSEMBLING" ? this.#registry.values() : (crew?.agentIds ?? []).values();
      for (const member of members) {
        const agent = typeof member === "string" ? this.#registry.get(member) : member;
        if (agent === undefined || agent.crewId !== target.crewId) continue;
        if (matches(agent)) return;
        known.push(agent);
      }
    }
    // The last resort, read from the store: agents asleep (a task for them wakes one).
    await this.#journal.commit();
    const asleep = await this.#deps.store.listAgents({ states: ["HIBERNATING"], ...(target.crewId === null ? {} : { crewId: target.crewId }), limit: 10_000 });
    for (const agent of asleep) {
      if (agent.crewId !== target.crewId || this.#registry.get(agent.id) !== undefined) continue;
      if (matches(agent)) return;
      known.push(agent);
    }
    throw noSuchTargetError(target, known);
  }

  /** The latest profiles whose agents could serve a target (for queue depth and the default balancer). */
  #profilesFor(target: LaneTarget): ProfileRecord[] {
    return this.#profiles.list().filter(
      (p) =>
        (target.profile === null || p.name === target.profile) &&
        (target.role === null || p.role === target.role) &&
        target.capabilities.every((c) => p.capabilities.includes(c)),
    );
  }

  async getTask(id: string): Promise<Task> {
    const task = this.#tasks.get(id) ?? this.#recent.get(id);
    if (task !== undefined) return { ...task };
    const stored = await this.#deps.store.getTask(id);
    if (stored === undefined) throw new FactoryError("TASK_NOT_FOUND", `no task with id '${id}'`);
    return stored;
  }

  /** Resolves with the task once it is final, or as it is after `waitMs`. */
  async waitForTask(id: string, waitMs: number): Promise<Task> {
    const task = await this.getTask(id);
    if (isFinalTaskState(task.state) || waitMs <= 0) return task;
    return new Promise<Task>((resolve) => {
      // It may have finished while getTask() was awaited.
      const live = this.#tasks.get(id);
      if (live === undefined) {
        const finished = this.#recent.get(id);
        if (finished !== undefined) return resolve({ ...finished });
        void this.getTask(id).then(resolve, () => resolve(task));
        return;
      }
      if (isFinalTaskState(live.state)) return resolve({ ...live });
      let set = this.#waiters.get(id);
      if (set === undefined) {
        set = new Set();
        this.#waiters.set(id, set);
      }
      const waiter = (final: Task): void => {
        clearTimeout(timer);
        resolve({ ...final });
      };
      const timer = setTimeout(() => {
        set.delete(waiter);
        if (set.size === 0) this.#waiters.delete(id);
        resolve({ ...(this.#tasks.get(id) ?? this.#recent.get(id) ?? task) });
      }, waitMs);
      set.add(waiter);
    });
  }

  /** Tasks by state and crew, newest first (`createdAt`, id), read from the store once every accepted task is in it. */
  async listTasks(filter: TaskFilter = {}): Promise<Task[]> {
    await this.#journal.commit();
    return this.#deps.store.listTasks({
      ...(filter.state === undefined ? {} : { states: [filter.state] }),
      ...(filter.crewId === undefined ? {} : { crewId: filter.crewId }),
      ...(filter.after === undefined ? {} : { after: filter.after }),
      newestFirst: true,
      limit: filter.limit ?? 100,
    });
  }

  /** Cancels a queued or running task (a running handler's AbortSignal fires). */
  async cancelTask(id: string): Promise<Task> {
    this.#assertOpen();
    const task = this.#tasks.get(id);
    if (task === undefined) {
      const stored = await this.getTask(id);
      throw new FactoryError("TASK_ALREADY_FINAL", `task ${id} is already ${stored.state}`, { details: { current: stored.state } });
    }
    this.#dispatcher.cancel(task, "cancelled by request");
    await this.#journal.commit();
    return { ...task };
  }

  #onFinal(task: Task): void {
    this.#tasks.delete(task.id);
    if (task.state === "SUCCEEDED" && task.reward !== undefined) this.#attribute(task, task.reward);
    const slot = this.#recentNext;
    this.#recentNext = (slot + 1) % this.#recentRing.length;
    const oldest = this.#recentRing[slot];
    this.#recentRing[slot] = task.id;
    if (oldest !== undefined && oldest !== task.id) {
      const evicted = this.#recent.get(oldest);
      // A re-driven task left #recent and may be back under a newer slot: only evict what this slot holds.
      if (evicted !== undefined && isFinalTaskState(evicted.state)) {
        this.#recent.delete(oldest);
        if (evicted.idempotencyKey !== null && this.#byIdempotencyKey.get(evicted.idempotencyKey) === evicted) this.#byIdempotencyKey.delete(evicted.idempotencyKey);
      }
    }
    this.#recent.set(task.id, task);
    const waiters = this.#waiters.get(task.id);
    if (waiters !== undefined) {
      this.#waiters.delete(task.id);
      for (const waiter of waiters) waiter(task);
    }
  }

  /** Value attribution: the crew pays the agent that completed its task the task's reward. */
  #attribute(task: Task, reward: number): void {
    const crew = task.crewId === null ? undefined : this.#crews.get(task.crewId);
    const agent = task.agentId === null ? undefined : this.#registry.get(task.agentId);
    if (crew === undefined || agent === undefined) return;
    try {
      this.#ledger.post("attribution", crew.walletAddress, agent.walletAddress, reward, { crewId: crew.id, agentId: agent.id, taskId: task.id, memo: "reward for a completed task" });
    } catch (error) {
      // The crew spent its credits on model calls meanwhile: the task still succeeded.
      this.#deps.logger.warn(`task ${task.id}: reward of ${reward} credits not paid: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  // ---------------------------------------------------------------- events

  /** Calls `listener` with every event from now on that passes the filter. */
  onEvent(listener: (event: FactoryEvent) => void, filter: EventFilter = {}): Unsubscribe {
    return this.#deps.bus.subscribe(EVENTS_CHANNEL, (message) => {
      const event = message as FactoryEvent;
      if (matchesFilter(event, filter)) listener(event);
    });
  }

  /** Stored events after `afterSeq`, in order. */
  async listEvents(options: { afterSeq?: number; limit?: number } & EventFilter = {}): Promise<FactoryEvent[]> {
    await this.#journal.commit();
    return this.#deps.store.listEvents({
      afterSeq: options.afterSeq ?? 0,
      ...(options.crewId === undefined ? {} : { crewId: options.crewId }),
      ...(options.agentId === undefined ? {} : { agentId: options.agentId }),
      ...(options.taskId === undefined ? {} : { taskId: options.taskId }),
      ...(options.types === undefined ? {} : { types: options.types }),
      limit: options.limit ?? 1000,
    });
  }

  // ---------------------------------------------------------------- lifecycle of the factory

  /** What the last `start()` brought back from the store: live agents and unfinished tasks. */
  get restored(): { agents: number; tasks: number } {
    return { ...this.#restored };
  }

  /** Aborted when `close()` begins: long-lived readers (event streams) end with it. */
  get closing(): AbortSignal {
    return this.#closingController.signal;
  }

  get isOpen(): boolean {
    return this.#state === "started";
  }

  /** False while the store refuses writes; `/ready` reports it. */
  get storeHealthy(): boolean {
    return this.#journal.healthy;
  }

  stats(): FactoryStats {
    return {
      agents: this.#registry.size,
      availableAgents: this.#dispatcher.availableAgents,
      crews: [...this.#crews.values()].length,
      queuedTasks: this.#dispatcher.queued,
      runningTasks: this.#dispatcher.running,
      lateResults: this.#dispatcher.lateResults,
      lastEventSeq: this.#events.lastSeq,
      dispatch: this.#dispatcher.dispatchLatency(),
      runtimes: Object.fromEntries(this.#deps.runtimes.filter((r) => r.stats !== undefined).map((r) => [r.kind, (r.stats as () => Record<string, unknown>)()])),
      health: {
        watched: this.#watchdog.watched,
        replaced: { ...this.#healing.replaced },
        givenUp: this.#healing.givenUp,
        detectionMs: summary(this.#healing.detectionMs),
        replacementMs: summary(this.#healing.replacementMs),
        hibernated: this.#healing.hibernated,
        woken: this.#healing.woken,
        wakeMs: summary(this.#healing.wakeMs),
      },
      security: { denied: this.#denied },
    };
  }

  /**
   * Stops intake, lets running tasks finish for `shutdownGraceMs` (not with `force`), puts
   * what is still running back in the queue for the next start, writes everything, closes
   * the store. Agents keep their stored state, so the next start brings them back.
   */
  close(options: { force?: boolean } = {}): Promise<void> {
    if (this.#closing !== undefined) {
      if (options.force === true) this.#dispatcher?.abandonRunning("forced shutdown");
      return this.#closing;
    }
    this.#closing = this.#close(options.force === true);
    return this.#closing;
  }

  async #close(force: boolean): Promise<void> {
    const wasStarted = this.#state === "started";
    this.#state = "closing";
    this.#closingController.abort();
    this.#watchdog.stop();
    await this.#retention.stop();
    if (wasStarted) {
      this.#pools.stop();
      this.#dispatcher.stop();
      if (!force) await this.#dispatcher.waitIdle(this.#deps.shutdownGraceMs);
      const abandoned = this.#dispatcher.abandonRunning("factory shut down before the task finished");
      // Stats change without a state transition and are written with the next one; write the unwritten now.
      this.#registry.persistDirty();
      // End agent processes (their workspaces stay for the next start).
      await Promise.all(this.#deps.runtimes.map((r) => r.close?.().catch((error: unknown) => this.#deps.logger.error(`closing the ${r.kind} runtime failed`, error))));
      if (abandoned > 0) this.#deps.logger.warn(`${abandoned} running task(s) re-queued for the next start`);
      for (const [id, waiters] of this.#waiters) {
        const task = this.#tasks.get(id);
        if (task !== undefined) for (const waiter of waiters) waiter(task);
      }
      this.#waiters.clear();
      const lost = await this.#journal.drain(this.#deps.shutdownGraceMs);
      if (lost > 0) this.#deps.logger.error(`the store refused ${lost} write(s) until shutdown; they are lost`);
    }
    this.#journal.close();
    await this.#deps.store.close();
    await this.#deps.bus.close();
    this.#state = "closed";
  }

  #assertOpen(): void {
    if (this.#state !== "started") {
      throw new FactoryError("SHUTTING_DOWN", this.#state === "new" ? "the factory has not started" : "the factory is shutting down and takes no new work");
    }
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

function summary(samples: Samples): { samples: number; p50: number; p99: number } {
  return { samples: samples.count, p50: samples.quantile(0.5), p99: samples.quantile(0.99) };
}

/** An agent's place in newest-first listings. */
function agentPosition(agent: Agent): ListPosition {
  return { at: agent.spawnedAt, id: agent.id };
}
