import type { AgentModelCall } from "../agents/agent-calls.ts";
import { isFactoryError } from "../core/errors.ts";
import type { FactoryEvent } from "../core/events.ts";
import { newSpanId, rootSpanIdOf } from "../core/ids.ts";
import type { SpanAttributes, Tracer } from "../core/ports/tracer.ts";
import { isFinalTaskState } from "../core/task-states.ts";
import type { Task } from "../core/task.ts";

export interface TaskTracingDeps {
  tracer: Tracer;
  /** The live (or recently finished) task, for its role, times and error. */
  taskOf(id: string): Task | undefined;
  /** The provider that serves a model as served (`provider:model`), for `gen_ai.provider.name`. */
  providerOf(model: string): string | undefined;
  nodeId: string;
}

/** What this node knows of a traced task it holds: when it last started to wait, and its running attempt. */
interface Traced {
  traceId: string;
  queuedAtMs: number | undefined;
  /** Set when it was re-driven out of the dead letters: its new life ends in a span of its own. */
  redrivenAtMs: number | undefined;
  attempt: { spanId: string; startMs: number; agentId: string; number: number } | undefined;
}

/**
 * One trace per task (docs/observability.md "Traces"), built from the task's state events as
 * this node emits them: the root span `task <role>` from submit to final state, with children
 * `queue wait` (each time it waited for an agent), `attempt <n>` (each run on an agent) and, under
 * an attempt, `chat <model>` for each model call (GenAI semantic conventions). Every span is
 * recorded when its work ends, by the node that sees it end, under ids the task carries (its
 * `traceId`; the root's span id is derived from it): so a task finished by another node after a
 * take-over still closes its own trace, and no span is left open by a node that died.
 */
export class TaskTracing {
  readonly #deps: TaskTracingDeps;
  readonly #live = new Map<string, Traced>();

  constructor(deps: TaskTracingDeps) {
    this.#deps = deps;
  }

  /** Traced tasks this node follows now (tests: nothing leaks once tasks end). */
  get following(): number {
    return this.#live.size;
  }

  /** Each event this node emits: task.state events of traced tasks move their spans along. */
  onEvent(event: FactoryEvent): void {
    if (event.type !== "task.state" || event.taskId === undefined) return;
    const traceId = event.data?.traceId;
    if (typeof traceId !== "string") return;
    const now = Date.now();
    const taskId = event.taskId;
    let traced = this.#live.get(taskId);
    if (traced === undefined) {
      traced = { traceId, queuedAtMs: undefined, redrivenAtMs: undefined, attempt: undefined };
      this.#live.set(taskId, traced);
    }
    const task = this.#deps.taskOf(taskId);
    const from = event.from;
    const to = event.to;
    // An attempt ended: it ran (or was assigned) and now the task is queued again or final.
    if ((from === "RUNNING" || from === "ASSIGNED") && to !== "RUNNING") this.#endAttempt(traced, taskId, task, to ?? "", String(event.data?.reason ?? ""), now);
    if (to === "QUEUED") {
      traced.queuedAtMs = now;
      if (from !== undefined && isFinalTaskState(from as Task["state"])) traced.redrivenAtMs = now;
      if (event.data?.reason === "submitted" && task?.parentTaskId !== undefined) this.#subtaskSubmitted(task.parentTaskId, taskId, traceId, now);
    } else if (to === "ASSIGNED") {
      this.#queueWait(traced, taskId, task, now);
      traced.attempt = { spanId: newSpanId(), startMs: now, agentId: event.agentId ?? task?.agentId ?? "", number: Number(event.data?.attempts ?? task?.attempts ?? 0) };
    } else if (to !== undefined && isFinalTaskState(to as Task["state"])) {
      // Cancelled (or failed) while it waited: the wait ends here too.
      if (from === "QUEUED") this.#queueWait(traced, taskId, task, now);
      this.#root(traced, taskId, task, to, String(event.data?.reason ?? ""), now);
      this.#live.delete(taskId);
    }
  }

  /** A model call of one of this node's agents ended: a `chat` span under the attempt that made it. */
  onModelCall(call: AgentModelCall): void {
    const traced = this.#live.get(call.taskId);
    const attempt = traced?.attempt;
    if (traced === undefined || attempt === undefined) return;
    const result = call.result;
    const requested = call.requestedModel ?? result?.failedAttempts[0]?.model ?? result?.model;
    const model = result?.model ?? requested ?? "unknown";
    const provider = this.#deps.providerOf(model);
    const attributes: SpanAttributes = {
      "gen_ai.operation.name": "chat",
      ...(requested === undefined ? {} : { "gen_ai.request.model": requested }),
      ...(provider === undefined ? {} : { "gen_ai.provider.name": provider, "gen_ai.system": provider }),
      ...this.#ids(call.taskId, call.agent.id, call.agent.crewId),
    };
    if (result !== undefined) {
      attributes["gen_ai.response.model"] = result.model;
      attributes["gen_ai.usage.input_tokens"] = result.usage.inputTokens;
      attributes["gen_ai.usage.output_tokens"] = result.usage.outputTokens;
      attributes["gen_ai.response.finish_reasons"] = [result.finishReason];
      attributes["agent_factory.model.rule"] = result.rule;
      attributes["agent_factory.model.cost_credits"] = result.cost;
      if (result.failedAttempts.length > 0) attributes["agent_factory.model.fallbacks"] = result.failedAttempts.map((a) => `${a.model}: ${a.error}`);
    } else if (call.error !== undefined) {
      attributes["error.type"] = isFactoryError(call.error) ? call.error.code : "ERROR";
    }
    this.#deps.tracer.record({
      name: `chat ${model}`,
      kind: "client",
      traceId: traced.traceId,
      spanId: newSpanId(),
      parentSpanId: attempt.spanId,
      startMs: call.startMs,
      endMs: call.endMs,
      attributes,
      ...(call.error === undefined ? {} : { error: call.error instanceof Error ? call.error.message : String(call.error) }),
    });
  }

  /**
   * A tool call made during an attempt: an `execute_tool <name>` span under it. Nothing calls
   * this yet — the tool executor (MCP) is to report each call here, as the model calls are.
   */
  onToolCall(call: { taskId?: string; agentId: string; crewId: string | null; tool: string; startMs: number; endMs: number; error?: string }): void {
    // Without a task named (the executor knows the agent only): the one attempt that agent runs now.
    const taskId = call.taskId ?? this.#onlyAttemptOf(call.agentId);
    if (taskId === undefined) return;
    const traced = this.#live.get(taskId);
    const attempt = traced?.attempt;
    if (traced === undefined || attempt === undefined) return;
    this.#deps.tracer.record({
      name: `execute_tool ${call.tool}`,
      traceId: traced.traceId,
      spanId: newSpanId(),
      parentSpanId: attempt.spanId,
      startMs: call.startMs,
      endMs: call.endMs,
      attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": call.tool, ...this.#ids(taskId, call.agentId, call.crewId) },
      ...(call.error === undefined ? {} : { error: call.error }),
    });
  }

  /** The task whose attempt `agentId` runs now, if it runs exactly one (an agent running several cannot say which a tool call was for). */
  #onlyAttemptOf(agentId: string): string | undefined {
    let found: string | undefined;
    for (const [taskId, traced] of this.#live) {
      if (traced.attempt?.agentId !== agentId) continue;
      if (found !== undefined) return undefined;
      found = taskId;
    }
    return found;
  }

  #queueWait(traced: Traced, taskId: string, task: Task | undefined, now: number): void {
    // Not seen queued on this node (restored, or taken over): its first wait began at submit.
    const start = traced.queuedAtMs ?? (task !== undefined && task.attempts <= 1 ? Date.parse(task.createdAt) : undefined);
    traced.queuedAtMs = undefined;
    if (start === undefined || !Number.isFinite(start)) return;
    this.#deps.tracer.record({
      name: "queue wait",
      traceId: traced.traceId,
      spanId: newSpanId(),
      parentSpanId: rootSpanIdOf(traced.traceId),
      startMs: start,
      endMs: now,
      attributes: { ...this.#ids(taskId, null, task?.crewId ?? null), ...(task?.profile == null ? {} : { "agent_factory.task.profile": task.profile }), ...(task?.role == null ? {} : { "agent_factory.task.role": task.role }) },
    });
  }

  #endAttempt(traced: Traced, taskId: string, task: Task | undefined, to: string, reason: string, now: number): void {
    const attempt = traced.attempt;
    traced.attempt = undefined;
    // An attempt this node did not start (its node died, or this node restarted): it ran from
    // the task's startedAt until the take-over noticed, and it is shown as interrupted.
    const startMs = attempt?.startMs ?? (task?.startedAt == null ? undefined : Date.parse(task.startedAt));
    if (startMs === undefined || !Number.isFinite(startMs)) return;
    const agentId = attempt?.agentId ?? task?.agentId ?? null;
    const ok = to === "SUCCEEDED";
    this.#deps.tracer.record({
      name: `attempt ${attempt?.number ?? task?.attempts ?? 0}`,
      traceId: traced.traceId,
      spanId: attempt?.spanId ?? newSpanId(),
      parentSpanId: rootSpanIdOf(traced.traceId),
      startMs,
      endMs: now,
      attributes: {
        ...this.#ids(taskId, agentId, task?.crewId ?? null),
        "agent_factory.attempt.number": attempt?.number ?? task?.attempts ?? 0,
        "agent_factory.attempt.outcome": to,
        ...(attempt === undefined ? { "agent_factory.attempt.interrupted": true } : {}),
      },
      ...(ok ? {} : { error: task?.error?.message ?? reason }),
    });
  }

  #root(traced: Traced, taskId: string, task: Task | undefined, state: string, reason: string, now: number): void {
    const created = task === undefined ? Number.NaN : Date.parse(task.createdAt);
    const target = task?.role ?? task?.profile ?? (task?.targetAgentId == null ? "task" : "agent");
    // A re-driven task's root ended with its first life: each later life is a span under it,
    // from the re-drive to its new final state (never a second span with the root's id).
    const redriven = traced.redrivenAtMs;
    this.#deps.tracer.record({
      name: redriven === undefined ? `task ${target}` : `re-drive ${task?.redrives ?? "?"} of task ${target}`,
      kind: "consumer",
      traceId: traced.traceId,
      ...(redriven === undefined ? { spanId: rootSpanIdOf(traced.traceId) } : { spanId: newSpanId(), parentSpanId: rootSpanIdOf(traced.traceId) }),
      startMs: redriven ?? (Number.isFinite(created) ? created : now),
      endMs: now,
      attributes: {
        ...this.#ids(taskId, task?.agentId ?? null, task?.crewId ?? null),
        "agent_factory.task.state": state,
        "agent_factory.task.attempts": task?.attempts ?? 0,
        "agent_factory.node.id": this.#deps.nodeId,
        ...(task?.role == null ? {} : { "agent_factory.task.role": task.role }),
        ...(task?.profile == null ? {} : { "agent_factory.task.profile": task.profile }),
        ...(task?.parentTaskId === undefined ? {} : { "agent_factory.task.parent_id": task.parentTaskId }),
        ...(task?.error === undefined ? {} : { "error.type": task.error.code }),
        ...(task?.usage === undefined ? {} : { "gen_ai.usage.input_tokens": task.usage.inputTokens, "gen_ai.usage.output_tokens": task.usage.outputTokens, "agent_factory.task.cost_credits": task.usage.cost }),
      },
      ...(state === "SUCCEEDED" ? {} : { error: task?.error?.message ?? reason }),
    });
  }

  /**
   * A sub-task is a trace of its own (one trace per task); its parent's trace shows the moment
   * it was submitted, under the attempt that submitted it, linked to the sub-task's root.
   */
  #subtaskSubmitted(parentTaskId: string, taskId: string, traceId: string, now: number): void {
    const parent = this.#live.get(parentTaskId);
    if (parent?.attempt === undefined) return;
    this.#deps.tracer.record({
      name: "submit sub-task",
      kind: "producer",
      traceId: parent.traceId,
      spanId: newSpanId(),
      parentSpanId: parent.attempt.spanId,
      startMs: now,
      endMs: now,
      attributes: { "agent_factory.task.id": parentTaskId, "agent_factory.subtask.id": taskId },
      links: [{ traceId, spanId: rootSpanIdOf(traceId), attributes: { "agent_factory.task.id": taskId } }],
    });
  }

  #ids(taskId: string, agentId: string | null, crewId: string | null): SpanAttributes {
    return { "agent_factory.task.id": taskId, ...(agentId === null || agentId === "" ? {} : { "agent_factory.agent.id": agentId }), ...(crewId === null ? {} : { "agent_factory.crew.id": crewId }) };
  }
}
