import type { FactoryEvent } from "../core/events.ts";
import type { LogFields, Logger } from "../core/ports/logger.ts";
import type { Task } from "../core/task.ts";

/** A model call's outcome as the router reports it, with who it was for. */
export interface RoutedCall {
  model: string;
  outcome: string;
  taskId?: string | null | undefined;
  agentId?: string | null | undefined;
  crewId?: string | null | undefined;
}

/**
 * What an operator must hear of, each logged once with its ids (docs/observability.md "Logs"):
 * a task that FAILED or went DEAD, an agent found unhealthy (a heal begins), a model call its
 * budget refused, a provider that failed (a fallback) or cools down, and a security refusal.
 * It only listens — to this node's events and the router's calls — so each thing is logged by
 * the node where it happened, exactly once, whatever path raised it.
 */
export class IncidentLog {
  readonly #logger: Logger;
  readonly #taskOf: (id: string) => Task | undefined;

  constructor(logger: Logger, taskOf: (id: string) => Task | undefined) {
    this.#logger = logger;
    this.#taskOf = taskOf;
  }

  onEvent(event: FactoryEvent): void {
    const d = event.data ?? {};
    const ids: LogFields = { event: event.type, taskId: event.taskId, agentId: event.agentId, crewId: event.crewId };
    switch (event.type) {
      case "task.state": {
        if (event.to !== "FAILED" && event.to !== "DEAD") return;
        const task = event.taskId === undefined ? undefined : this.#taskOf(event.taskId);
        const code = task?.error?.code;
        this.#logger.warn(`task ${event.taskId ?? "?"} ${event.to} after ${String(d.attempts ?? "?")} attempt(s): ${String(d.reason ?? "")}`, {
          ...ids,
          state: event.to,
          code,
          attempts: typeof d.attempts === "number" ? d.attempts : undefined,
          traceId: typeof d.traceId === "string" ? d.traceId : undefined,
        });
        return;
      }
      case "agent.state":
        if (event.to !== "UNHEALTHY") return;
        this.#logger.warn(`agent ${event.agentId ?? "?"} is unhealthy and is being replaced: ${String(d.reason ?? "")}`, { ...ids, state: "UNHEALTHY" });
        return;
      case "model.fallback":
        this.#logger.warn(
          `model call failed: model ${String(d.model)}, provider ${String(d.provider)}${d.baseURL == null ? "" : ` (${String(d.baseURL)})`}: ${String(d.error)}${d.taskId == null ? "" : ` (task ${String(d.taskId)})`}`,
          { ...ids, model: String(d.model), provider: String(d.provider) },
        );
        return;
      case "model.cooldown":
        this.#logger.warn(`model provider ${String(d.provider)} cools down until ${String(d.until)} after failures in a row; last: ${String(d.lastError)}`, { ...ids, provider: String(d.provider) });
        return;
      case "security.denied": {
        // An agent's refusals that its own log already told of (AgentCalls, with their ids) are not told twice.
        if (d.code === "NOT_YOUR_TASK" || (d.code === "CROSS_CREW" && d.operation === "agent/terminate")) return;
        const suppressed = Number(d.suppressed ?? 0);
        this.#logger.warn(
          `security: ${String(d.code)} for ${String(d.keyId ?? "no key")} on ${String(d.operation ?? d.path ?? "?")}: ${String(d.reason ?? "")}${suppressed > 0 ? ` (${suppressed} more from this caller not recorded)` : ""}`,
          { ...ids, code: String(d.code), keyId: d.keyId == null ? null : String(d.keyId), agentId: typeof d.agentId === "string" ? d.agentId : undefined, operation: d.operation == null ? null : String(d.operation) },
        );
        return;
      }
      default:
        return;
    }
  }

  /** A model call ended: a budget refusal is logged (provider failures are, as model.fallback events). */
  onModelCall(call: RoutedCall): void {
    if (call.outcome !== "BUDGET_EXCEEDED") return;
    this.#logger.warn(`model call refused: its budget cannot pay for ${call.model}${call.taskId == null ? "" : ` (task ${call.taskId})`}`, {
      event: "model.budget_refused",
      code: "BUDGET_EXCEEDED",
      model: call.model,
      taskId: call.taskId ?? undefined,
      agentId: call.agentId ?? undefined,
      crewId: call.crewId ?? undefined,
    });
  }
}
