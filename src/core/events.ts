/**
 * Every state change is an event: kept in the store, streamed over SSE, shown by the CLI.
 * `seq` is assigned in order of emission by the factory, or, in a store several nodes share, by
 * the store in commit order; it is what SSE clients resume from.
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
  /**
   * This node took over a dead node's agents, crews and tasks. `data`: `node`, its `leaseUntil`,
   * `agents` taken, `agentsBack` (being brought back, not given up), `crews`, `tasks` requeued,
   * `noticedAt` (when this node saw the lease had run out) and `tookMs` (from then to now).
   */
  "node.adopted",
  /**
   * A request refused for who made it (401, or 403 FORBIDDEN / CROSS_CREW). `data`: `code`, the
   * `keyId` (`env` for AGENT_FACTORY_API_KEY, null without a key it knows — never a secret),
   * `role`, `operation` (operationId), `method`, `path` and `reason`; `crewId` when a crew was
   * at stake.
   */
  "security.denied",
  /**
   * Alerts (thresholds as data; see `createFactory({ alerts })`): `data.state` `firing` when a
   * threshold is crossed, `resolved` when back under — once each; `subject` (a profile, a budget
   * key, a node), `value` and `threshold`. `alert.node_lost` fires when another node's lease runs out.
   */
  "alert.queue_depth",
  "alert.error_rate",
  "alert.budget_low",
  "alert.node_lost",
  /**
   * An MCP tool call went through the executor (docs/mcp.md). `agentId`, `crewId`; `data`:
   * `server`, `tool`, `caller` (`agent`, or `operator:<key id>`), `durationMs`, `outcome`
   * (`ok`, `tool-error`, `timeout`, `failed`) and, unless ok, `error`.
   */
  "tool.called",
] as const;

export type FactoryEventType = (typeof EVENT_TYPES)[number];

export interface FactoryEvent {
  seq: number;
  type: FactoryEventType;
  /**
   * The node that emitted it. With one writer `seq` counts that node's events; in a store several
   * nodes share it counts every node's, in commit order (an event reaches another node's bus
   * subscribers in its emitter's order, not interleaved by seq). Absent on events stored before
   * nodes had ids.
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
