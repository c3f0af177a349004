import type { Agent } from "../core/agent.ts";
import { FactoryError } from "../core/errors.ts";
import { fromMicro, toMicro } from "../core/ledger.ts";
import type { AgentModelRequest, ModelCallResult } from "../core/model-call.ts";
import type { CrewAccess, SubtaskRequest } from "../core/ports/runtime.ts";
import type { Task } from "../core/task.ts";
import type { Budgets } from "../models/budgets.ts";
import type { AgentTokens } from "../security/agent-tokens.ts";
import type { AgentToken } from "../core/ports/runtime.ts";
import type { ModelRouter } from "../models/router.ts";
import type { Runner } from "../scheduler/runner.ts";
import type { EventLog } from "../state/event-log.ts";
import type { Crew } from "../core/crew.ts";
import type { TaskSubmitInput } from "../core/schemas/task.ts";
import type { AgentLog } from "./agent-log.ts";
import type { DenialLog } from "../security/denial-log.ts";
import type { AgentCallHandler } from "./spawner.ts";
import { Hook } from "../core/hook.ts";

/** One model call an agent of this node made for one of its tasks, as it ended (tracing listens). */
export interface AgentModelCall {
  agent: Agent;
  taskId: string;
  /** The model the agent pinned, if it did (else the rules chose). */
  requestedModel: string | undefined;
  startMs: number;
  endMs: number;
  result?: ModelCallResult;
  error?: unknown;
}

/**
 * What agent calls need of tasks and crews, one folder over and built later: declared here so
 * the imports keep pointing down (the task intake, task book and crew manager satisfy them).
 */
export interface TaskDesk {
  get(id: string): Promise<Task>;
  waitFor(id: string, waitMs: number): Promise<Task>;
  submit(input: TaskSubmitInput): Promise<{ task: Task; created: boolean }>;
}
export interface HeldTasks {
  /** A live or recently finished task. */
  find(id: string): Task | undefined;
  /** A task not yet final. */
  live(id: string): Task | undefined;
}
export interface CrewDesk {
  get(id: string): Pick<Crew, "walletAddress"> | undefined;
  access(crewId: string): CrewAccess;
}

export interface AgentCallsDeps {
  runner: Pick<Runner, "attemptOf" | "progressed">;
  book: HeldTasks;
  intake: TaskDesk;
  router: ModelRouter;
  budgets: Pick<Budgets, "fraction">;
  crews: CrewDesk;
  events: EventLog;
  agentLog: AgentLog;
  /** Records agents' refused requests as `security.denied` events (absent: only logged and counted). */
  denials?: Pick<DenialLog, "record">;
  /** Signs each agent's token (its identity for whoever it calls); absent: agents get none. */
  tokens?: Pick<AgentTokens, "issue">;
  /** Spawns an agent of a registered profile into a crew (the wiring's: spawn, then add the member); absent: admin agents may not. */
  spawnIntoCrew?(crewId: string, profile: string, reason: string, within?: readonly string[]): Promise<Agent>;
  /** Terminates an agent by id (drains it first). */
  terminateAgent?(agentId: string, reason: string): Promise<Agent>;
  /** A live agent by id (to check whose crew it is in). */
  liveAgent?(agentId: string): Agent | undefined;
  /**
   * Model calls of members of a crew another node owns are made at that node (its wallet and
   * budgets are kept there); absent on a single node.
   */
  crewHome?: CrewHome;
}

/** Where model calls of a crew another node owns are made. */
export interface CrewHome {
  /** Whether this crew is owned by another node. */
  isRemote(crewId: string): boolean;
  /** The call, made at the crew's node for this member: its wallet pays, its budgets apply. */
  callModel(crewId: string, agentId: string, taskId: string, request: AgentModelRequest): Promise<ModelCallResult>;
}

/**
 * What agents ask of the factory while they work — progress, model calls, sub-tasks, waits —
 * each checked against the agent's own attempts: a message naming another task is a security
 * denial, logged with the agent and the task, counted, and never recorded.
 */
export class AgentCalls implements AgentCallHandler {
  readonly #deps: AgentCallsDeps;
  /** Each model call of this node's agents, answered or failed, once it ends (made here or at the crew's node). */
  readonly modelCalled = new Hook<[call: AgentModelCall]>();
  /** Agent messages refused because they named a task that is not one of the agent's attempts. */
  #denied = 0;

  constructor(deps: AgentCallsDeps) {
    this.#deps = deps;
  }

  get denied(): number {
    return this.#denied;
  }

  crewAccess(crewId: string): CrewAccess {
    return this.#deps.crews.access(crewId);
  }

  /**
   * Whether a task an agent names (progress, a model call, a sub-task, a wait) is one of its own
   * attempts: the one it runs now (`current`), or one it ran whose outcome is already decided
   * (`earlier`: ignored or allowed, never a denial). Anything else is a denial.
   */
  #attemptOf(agent: Agent, taskId: string, action: string): "current" | "earlier" | undefined {
    const attempt = this.#ownAttempt(agent, taskId);
    if (attempt === undefined) this.#deny(agent, taskId, action);
    return attempt;
  }

  #ownAttempt(agent: Agent, taskId: string): "current" | "earlier" | undefined {
    const attempt = this.#deps.runner.attemptOf(agent, taskId);
    if (attempt !== undefined) return attempt;
    // Its attempt just ended (a message sent as it answered).
    return this.#deps.book.find(taskId)?.agentId === agent.id ? "earlier" : undefined;
  }

  #deny(agent: Agent, taskId: string, action: string): void {
    this.#denied++;
    // The operator's log line of this refusal (the security.denied event is not logged again).
    this.#deps.agentLog.warn(agent.id, `security: agent ${agent.id} named task ${taskId} (${action}), which is not one of its attempts; ignored`, {
      event: "security.denied",
      code: "NOT_YOUR_TASK",
      agentId: agent.id,
      crewId: agent.crewId ?? undefined,
      taskId,
      operation: action,
    });
    this.recordDenied(agent, action, "NOT_YOUR_TASK", `task ${taskId} is not one of its attempts`);
  }

  /**
   * Records a refusal of something an agent asked (on its channel, or of these calls) as a
   * `security.denied` event: the agent (`keyId` `agent:<id>`), its crew, what and why.
   */
  recordDenied(agent: Agent, operation: string, code: string, reason: string): void {
    this.#deps.denials?.record(`agent:${agent.id}`, {
      ...(agent.crewId === null ? {} : { crewId: agent.crewId }),
      data: { code, keyId: `agent:${agent.id}`, role: null, agentId: agent.id, operation, method: "agent", path: null, reason },
    });
  }

  #notYours(agent: Agent, taskId: string): FactoryError {
    return new FactoryError("NOT_YOUR_TASK", `task ${taskId} is not one of agent ${agent.id}'s attempts`, { nonRetryable: true, details: { taskId } });
  }

  /** An agent reports progress: only its current attempt's resets the stuck timer and is recorded. */
  progress(agent: Agent, taskId: string, message: string | undefined, fraction: number | undefined): void {
    // Another's task (or its own earlier attempt) must not reset a stuck timer.
    if (this.#attemptOf(agent, taskId, "progress") !== "current") return;
    this.#deps.runner.progressed(taskId);
    this.#deps.events.emit({ type: "task.progress", taskId, agentId: agent.id, ...(agent.crewId === null ? {} : { crewId: agent.crewId }), data: { message: message ?? null, fraction: fraction ?? null } });
  }

  /** An agent waits for one of its own attempts or for a sub-task of one of them. */
  async waitForTask(agent: Agent, id: string, waitMs: number): Promise<Task> {
    const task = await this.#deps.intake.get(id);
    const own = task.agentId === agent.id || this.#ownAttempt(agent, id) !== undefined || (task.parentTaskId !== undefined && this.#ownAttempt(agent, task.parentTaskId) !== undefined);
    if (!own) {
      this.#deny(agent, id, "a wait");
      throw this.#notYours(agent, id);
    }
    return this.#deps.intake.waitFor(id, waitMs);
  }

  /** One model call of an agent's task: its crew's wallet pays (its own without a crew); the task counts the usage. */
  async callModel(agent: Agent, taskId: string, request: AgentModelRequest): Promise<ModelCallResult> {
    if (this.#attemptOf(agent, taskId, "a model call") === undefined) throw this.#notYours(agent, taskId);
    const home = this.#deps.crewHome;
    const startMs = Date.now();
    let result: ModelCallResult;
    try {
      result =
        agent.crewId !== null && home?.isRemote(agent.crewId) === true
          ? await home.callModel(agent.crewId, agent.id, taskId, request)
          : await this.callModelFor(agent.crewId, agent.id, agent.walletAddress, taskId, request);
    } catch (error) {
      this.modelCalled.emit({ agent, taskId, requestedModel: request.model, startMs, endMs: Date.now(), error });
      throw error;
    }
    this.modelCalled.emit({ agent, taskId, requestedModel: request.model, startMs, endMs: Date.now(), result });
    const task = this.#deps.book.live(taskId);
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

  /** An `admin` agent spawns an agent of a registered profile into its own crew. */
  async spawnForAgent(agent: Agent, profile: string): Promise<Agent> {
    const crewId = this.#requireAdmin(agent, "spawn agents");
    if (this.#deps.spawnIntoCrew === undefined) throw new FactoryError("FORBIDDEN", "this factory lets no agent spawn agents");
    // The new member gets no scope its spawner lacks.
    return this.#deps.spawnIntoCrew(crewId, profile, `spawned by admin agent ${agent.id}`, agent.scopes);
  }

  /** An `admin` agent terminates a member of its own crew (another crew's agent is CROSS_CREW). */
  async terminateForAgent(agent: Agent, agentId: string): Promise<Agent> {
    const crewId = this.#requireAdmin(agent, "terminate agents");
    const target = this.#deps.liveAgent?.(agentId);
    if (target === undefined || target.crewId !== crewId) {
      // Not told apart from a missing one: another crew's agents are not the caller's to know of.
      this.#denied++;
      this.#deps.agentLog.warn(agent.id, `security: agent ${agent.id} tried to terminate agent ${agentId}, which is not in its crew ${crewId}; refused`, {
        event: "security.denied",
        code: "CROSS_CREW",
        agentId: agent.id,
        crewId,
        operation: "agent/terminate",
      });
      this.recordDenied(agent, "agent/terminate", "CROSS_CREW", `agent ${agentId} is not a live member of its crew ${crewId}`);
      throw new FactoryError("CROSS_CREW", `agent ${agentId} is not a live member of crew ${crewId}`, { field: "id" });
    }
    if (this.#deps.terminateAgent === undefined) throw new FactoryError("FORBIDDEN", "this factory lets no agent terminate agents");
    return this.#deps.terminateAgent(agentId, `terminated by admin agent ${agent.id}`);
  }

  #requireAdmin(agent: Agent, what: string): string {
    if (!agent.scopes.includes("admin")) {
      this.recordDenied(agent, what, "FORBIDDEN", "needs the admin scope");
      throw new FactoryError("FORBIDDEN", `agent ${agent.id} may not ${what}: that needs the admin scope`, { details: { required: "admin", scopes: agent.scopes } });
    }
    if (agent.crewId === null) {
      this.recordDenied(agent, what, "CROSS_CREW", "the agent is in no crew");
      throw new FactoryError("CROSS_CREW", `agent ${agent.id} is in no crew: an admin agent ${what} only in its own crew`);
    }
    return agent.crewId;
  }

  /** A fresh signed token naming the agent: `sub` its id, `crew`, `scopes`. */
  issueToken(agent: Agent): Promise<AgentToken> {
    const tokens = this.#deps.tokens;
    if (tokens === undefined) return Promise.reject(new FactoryError("INTERNAL", "this factory signs no agent tokens"));
    return tokens.issue({ id: agent.id, crewId: agent.crewId, scopes: agent.scopes });
  }

  /**
   * A model call for an agent of this node or, at a crew's node, for a member another node runs:
   * the crew's wallet pays (the agent's own without a crew), under the crew's and agent's budgets.
   */
  callModelFor(crewId: string | null, agentId: string, agentWallet: string, taskId: string, request: AgentModelRequest): Promise<ModelCallResult> {
    const crew = crewId === null ? undefined : this.#deps.crews.get(crewId);
    return this.#deps.router.call({
      ...request,
      payer: crew?.walletAddress ?? agentWallet,
      scope: { crewId, agentId },
      taskId,
      budgetFraction: this.#deps.budgets.fraction(crewId, agentId),
    });
  }

  /** A sub-task an agent submits: in its own crew (or to agents in none), linked to the task it runs. */
  async submitSubtask(agent: Agent, parentTaskId: string, request: SubtaskRequest): Promise<Task> {
    if (this.#attemptOf(agent, parentTaskId, "a sub-task") === undefined) throw this.#notYours(agent, parentTaskId);
    const { task } = await this.#deps.intake.submit({
      role: request.role,
      input: request.input,
      ...(agent.crewId === null ? {} : { crewId: agent.crewId }),
      ...(request.priority === undefined ? {} : { priority: request.priority }),
      ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }),
      parentTaskId,
    });
    return task;
  }
}
