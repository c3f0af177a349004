/**
 * Every state change is an event: kept in the store, streamed over SSE, shown by the CLI.
 * `seq` is assigned by the factory in order of emission and is what SSE clients resume from.
 */
export const EVENT_TYPES = [
  "profile.registered",
  "agent.state",
  "agent.health",
  "crew.state",
  "crew.assembly.progress",
  "crew.message",
  "crew.context",
  "task.state",
  "task.progress",
  "pool.scaled",
  "model.fallback",
  "model.cooldown",
] as const;

export type FactoryEventType = (typeof EVENT_TYPES)[number];

export interface FactoryEvent {
  seq: number;
  type: FactoryEventType;
  /**
   * The node that emitted it. `seq` counts that node's events, so an event from another node of
   * the cluster (through a shared bus) is not in this node's order. Absent on events stored
   * before nodes had ids.
   */
  nodeId?: string;
  at: string;
  agentId?: string;
  crewId?: string;
  taskId?: string;
  /** Previous and new state, for `*.state` events. */
  from?: string;
  to?: string;
  data?: Record<string, unknown>;
}

export type FactoryEventInput = Omit<FactoryEvent, "seq" | "at" | "nodeId">;
