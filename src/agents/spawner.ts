import { freshHealth, type Agent } from "../core/agent.ts";
import { FactoryError, isFactoryError } from "../core/errors.ts";
import { newAgentId, newWalletAddress } from "../core/ids.ts";
import type { AgentModelRequest, ModelCallResult } from "../core/model-call.ts";
import type { AgentAdmin, AgentHandle, AgentRuntime, AgentServices, AgentToken, CrewAccess, ModelAccess, SubtaskRequest, TaskAccess } from "../core/ports/runtime.ts";
import type { Task } from "../core/task.ts";
import { jsonProblem } from "../core/schemas/json-value.ts";
import type { ProfileRecord } from "../core/schemas/profile.ts";
import { STARTING_ACHIEVEMENT_TOKENS } from "../core/wallet.ts";
import type { AgentRegistry } from "../state/agent-registry.ts";
import type { Journal } from "../state/journal.ts";
import { Hook } from "../core/hook.ts";

/** The context of an agent that saved none; shared, never mutated (saving replaces it). */
const EMPTY_CONTEXT: Record<string, unknown> = Object.freeze({});

export interface SpawnerDeps {
  registry: AgentRegistry;
  journal: Journal;
  runtimes: ReadonlyMap<string, AgentRuntime>;
  /** The node this factory is: every agent it starts (spawn, restore, replacement, wake) carries it. */
  nodeId: string;
}

/**
 * What an agent's runtime may ask of the rest of the factory. The services that answer are built
 * after the spawner (they need it), so `createFactory` hands them over with `Spawner.serve`.
 */
export interface AgentCallHandler {
  /** The crew context an agent of this crew sees. */
  crewAccess(crewId: string): CrewAccess;
  /** A model call for one of the agent's tasks (the llm runtime's loop). */
  callModel(agent: Agent, taskId: string, request: AgentModelRequest): Promise<ModelCallResult>;
  submitSubtask(agent: Agent, parentTaskId: string, request: SubtaskRequest): Promise<Task>;
  /** The agent waits for a task (one of its own, or a sub-task of one). */
  waitForTask(agent: Agent, id: string, waitMs: number): Promise<Task>;
  /** A fresh signed token naming the agent (its identity for whoever it calls); absent: agents get none. */
  issueToken?(agent: Agent): Promise<AgentToken>;
  /** An `admin` agent spawns an agent into its crew; absent: none may. */
  spawnForAgent?(agent: Agent, profile: string): Promise<Agent>;
  /** An `admin` agent terminates a member of its crew; absent: none may. */
  terminateForAgent?(agent: Agent, agentId: string): Promise<Agent>;
  /** Records a refusal of something the agent asked as a `security.denied` event. */
  recordDenied?(agent: Agent, operation: string, code: string, reason: string): void;
}

/** What the spawner's agents report, for whoever listens (healing, the watchdog, the dispatcher, logs). */
export class SpawnerHooks {
  /** A started agent's runtime is gone (its process exited): it is to be replaced. */
  readonly lost = new Hook<[agent: Agent, reason: string]>();
  readonly progress = new Hook<[agent: Agent, taskId: string, message: string | undefined, fraction: number | undefined]>();
  readonly log = new Hook<[agent: Agent, level: "debug" | "info" | "warn" | "error", message: string]>();
  /** The agent said something: it is alive. */
  readonly heartbeat = new Hook<[agent: Agent]>();
  /** The agent is READY with a running handle (spawned, replaced or woken). */
  readonly started = new Hook<[agent: Agent, handle: AgentHandle, profile: ProfileRecord]>();
}

export interface SpawnOptions {
  crewId?: string | null;
  name?: string;
  /** Why it is spawned (shown in its first event): "spawned", "on-demand: …", "clone of …". */
  reason?: string;
  /** Saved context it starts from (a clone's). */
  context?: Record<string, unknown>;
  /** Fewer scopes than its profile gives (a crew manifest narrowing them); never more. */
  scopes?: readonly string[];
  /** `crew`: its sandbox joins its crew's network (a crew manifest's `network: crew`). */
  network?: "crew";
}

/**
 * Brings agents to READY and takes them down: PROVISIONING (id, wallet, store row) →
 * WARMING (the runtime starts it) → READY.
 */
export class Spawner {
  readonly #deps: SpawnerDeps;
  /** Each agent's current services: a new start retires the previous ones, so a replaced runtime that lingers cannot speak for the agent. */
  readonly #services = new WeakMap<Agent, AgentServicesFor>();

  readonly hooks = new SpawnerHooks();
  /** What every agent's services share, made once at `serve` (one field per agent, not three). */
  #shared: SharedServices | undefined;

  constructor(deps: SpawnerDeps) {
    this.#deps = deps;
  }

  /** Hands over the services that answer agents' calls; agents start only after this. */
  serve(calls: AgentCallHandler): void {
    this.#shared = { registry: this.#deps.registry, hooks: this.hooks, calls };
  }

  #sharedServices(): SharedServices {
    if (this.#shared === undefined) throw new FactoryError("INTERNAL", "the spawner starts agents only once their calls are served (Spawner.serve)");
    return this.#shared;
  }

  runtimeFor(profile: Pick<ProfileRecord, "runtime">): AgentRuntime {
    const runtime = this.#deps.runtimes.get(profile.runtime.kind);
    if (runtime === undefined) {
      throw new FactoryError("VALIDATION_FAILED", `runtime.kind: no runtime '${profile.runtime.kind}' in this factory`, { field: "runtime.kind" });
    }
    return runtime;
  }

  /** Creates a new agent of `profile` and waits until it is READY. */
  async spawn(profile: ProfileRecord, options: SpawnOptions = {}): Promise<Agent> {
    const runtime = this.runtimeFor(profile);
    const now = new Date().toISOString();
    const agent: Agent = {
      id: newAgentId(),
      name: options.name ?? profile.name,
      profile: profile.name,
      profileVersion: profile.version,
      role: profile.role,
      // Shared with the (immutable) profile version: a fleet of agents needs one copy.
      capabilities: profile.capabilities,
      scopes: options.scopes === undefined ? profile.scopes : profile.scopes.filter((scope) => options.scopes?.includes(scope)),
      cognitiveLoadLimit: profile.cognitiveLoadLimit,
      state: "PROVISIONING",
      crewId: options.crewId ?? null,
      ...(options.network === "crew" ? { network: "crew" as const } : {}),
      nodeId: this.#deps.nodeId,
      walletAddress: newWalletAddress(profile.role),
      spawnedAt: now,
      load: 0,
      stats: { completed: 0, failed: 0 },
      restarts: 0,
      health: freshHealth(),
      pid: null,
      lastSignal: null,
      context: options.context === undefined ? EMPTY_CONTEXT : (JSON.parse(JSON.stringify(options.context)) as Record<string, unknown>),
      updatedAt: now,
    };
    this.#deps.journal.put({
      kind: "wallet",
      value: { address: agent.walletAddress, ownerKind: "agent", ownerId: agent.id, balance: 0, achievementTokens: STARTING_ACHIEVEMENT_TOKENS, createdAt: now },
    });
    this.#deps.registry.add(agent, options.reason ?? "spawned");
    await this.#start(agent, profile, runtime);
    return agent;
  }

  /**
   * Starts an existing agent again under the same id, wallet, crew and saved context — after
   * a factory restart, or when the watchdog replaces it. The agent must be UNHEALTHY.
   */
  async reprovision(agent: Agent, profile: ProfileRecord, reason: string): Promise<void> {
    const registry = this.#deps.registry;
    registry.transition(agent, "PROVISIONING", reason);
    agent.restarts++;
    // This node runs it now (after a restart, or, later, taken over from a node that died).
    agent.nodeId = this.#deps.nodeId;
    await this.#start(agent, profile, this.runtimeFor(profile));
  }

  /** Wakes a HIBERNATING agent (HIBERNATING → WARMING → READY) with its saved context. */
  async wake(agent: Agent, profile: ProfileRecord): Promise<void> {
    // Whichever node wakes it runs it from now on.
    agent.nodeId = this.#deps.nodeId;
    await this.#start(agent, profile, this.runtimeFor(profile));
  }

  /**
   * Takes an agent out of service: straight to TERMINATED when it runs nothing that could be
   * drained, otherwise DRAINING until its running tasks end.
   */
  terminate(agent: Agent, reason: string): void {
    const registry = this.#deps.registry;
    switch (agent.state) {
      case "PROVISIONING":
      case "WARMING":
      case "HIBERNATING":
      case "UNHEALTHY":
        registry.transition(agent, "TERMINATED", reason);
        return;
      default:
        registry.transition(agent, "DRAINING", reason);
        if (agent.load === 0) registry.transition(agent, "TERMINATED", "drained");
    }
  }

  /**
   * What the agent's current runtime reports from now on is ignored (it was replaced or put to
   * sleep) — except a context saved while it goes to sleep, until `seal()`.
   */
  retire(agent: Agent): { seal(): void } | undefined {
    const previous = this.#services.get(agent);
    this.#services.delete(agent);
    if (previous === undefined) return undefined;
    previous.retired = true;
    return { seal: () => (previous.sealed = true) };
  }

  async #start(agent: Agent, profile: ProfileRecord, runtime: AgentRuntime): Promise<void> {
    const registry = this.#deps.registry;
    registry.transition(agent, "WARMING", agent.state === "HIBERNATING" ? "waking" : `starting ${runtime.kind} runtime`);
    // Every start is judged afresh (the last heartbeat stays, for the record); a new agent's health already is.
    const h = agent.health;
    if (h.samples !== 0 || h.missed !== 0 || h.suspect !== null) agent.health = { ...freshHealth(), lastHeartbeatAt: h.lastHeartbeatAt };
    const services = new AgentServicesFor(agent, this.#sharedServices());
    this.retire(agent);
    this.#services.set(agent, services);
    let handle;
    try {
      handle = await runtime.start(agent, profile, services);
    } catch (error) {
      if (agent.state === "WARMING") registry.transition(agent, "TERMINATED", "failed to start");
      const message = error instanceof Error ? error.message : String(error);
      throw new FactoryError("AGENT_START_FAILED", `agent ${agent.id} (${profile.name}) failed to start: ${message}`, {
        cause: error,
        ...(isFactoryError(error) && error.field !== undefined ? { field: error.field } : {}),
      });
    }
    if (agent.state !== "WARMING") {
      // Terminated while it was starting (e.g. an aborted crew assembly).
      await handle.stop();
      throw new FactoryError("AGENT_START_FAILED", `agent ${agent.id} was ${agent.state} before it finished starting`);
    }
    registry.setHandle(agent.id, handle);
    agent.pid = handle.pid ?? null;
    services.started = true;
    this.hooks.started.emit(agent, handle, profile);
    registry.transition(agent, "READY", "started");
  }
}

/**
 * What one agent's runtime may call. A class with shared methods rather than an object of
 * closures: a fleet of a million agents pays for three fields each, not six functions.
 */
interface SharedServices {
  readonly registry: AgentRegistry;
  readonly hooks: SpawnerHooks;
  readonly calls: AgentCallHandler;
}

class AgentServicesFor implements AgentServices {
  readonly #agent: Agent;
  readonly #shared: SharedServices;
  readonly crew: CrewAccess | null;
  /** Before READY a lost runtime is a failed start, which the start itself reports. */
  started = false;
  /** The agent has a newer runtime (or none): this one's reports are ignored. */
  retired = false;
  /** Not even a context it saves counts any more (it has gone to sleep). */
  sealed = false;

  constructor(agent: Agent, shared: SharedServices) {
    this.#agent = agent;
    this.#shared = shared;
    this.crew = agent.crewId === null ? null : shared.calls.crewAccess(agent.crewId);
  }

  get models(): ModelAccess {
    return { call: (taskId, request) => this.#shared.calls.callModel(this.#agent, taskId, request) };
  }

  /** A fresh token for the agent, or none while it has a newer runtime (a lingering one cannot speak for it). */
  async token(): Promise<AgentToken | undefined> {
    const calls = this.#shared.calls;
    if (calls.issueToken === undefined || this.retired) return undefined;
    return calls.issueToken(this.#agent);
  }

  get agents(): AgentAdmin | undefined {
    const calls = this.#shared.calls;
    if (calls.spawnForAgent === undefined || calls.terminateForAgent === undefined) return undefined;
    return { spawn: (profile) => calls.spawnForAgent!(this.#agent, profile), terminate: (id) => calls.terminateForAgent!(this.#agent, id) };
  }

  get tasks(): TaskAccess {
    return { submit: (parentTaskId, request) => this.#shared.calls.submitSubtask(this.#agent, parentTaskId, request), wait: (id, waitMs) => this.#shared.calls.waitForTask(this.#agent, id, waitMs) };
  }

  saveContext(context: Record<string, unknown>): void {
    if (this.sealed || (this.retired && this.#agent.state !== "HIBERNATING")) return;
    const problem = typeof context !== "object" || context === null || Array.isArray(context) ? "must be an object" : jsonProblem(context);
    if (problem !== undefined) throw new FactoryError("VALIDATION_FAILED", `context: ${problem}`, { field: "context", nonRetryable: true });
    this.#agent.context = JSON.parse(JSON.stringify(context)) as Record<string, unknown>;
    this.#shared.registry.persist(this.#agent);
  }

  lost(reason: string): void {
    if (this.started && !this.retired) this.#shared.hooks.lost.emit(this.#agent, reason);
  }

  heartbeat(): void {
    if (this.started && !this.retired) this.#shared.hooks.heartbeat.emit(this.#agent);
  }

  progress(taskId: string, message: string | undefined, fraction: number | undefined): void {
    if (this.retired) return;
    this.#shared.hooks.progress.emit(this.#agent, taskId, message, fraction);
  }

  log(level: "debug" | "info" | "warn" | "error", message: string): void {
    this.#shared.hooks.log.emit(this.#agent, level, message);
  }

  denied(operation: string, code: string, reason: string): void {
    this.#shared.calls.recordDenied?.(this.#agent, operation, code, reason);
  }
}
