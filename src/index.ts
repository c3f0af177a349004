/** The public library surface of agent-factory. */
export { createFactory, type FactoryOptions } from "./factory/create-factory.ts";
export { DEFAULT_DATA_DIR } from "./factory/default-data-dir.ts";
export { consoleLogger } from "./adapters/logger/console-logger.ts";
export { LOG_LEVELS, type Logger, type LogLevel } from "./core/ports/logger.ts";
export { Factory, type AgentFilter, type EventFilter, type FactoryStats, type HealingStats, type SpawnRequest, type TaskFilter, type CrewFilter, type WaitingView } from "./factory/factory.ts";
export type { ListPosition } from "./core/list-position.ts";
export { FactoryError, isFactoryError, type ErrorCode } from "./core/errors.ts";
export { AbortReason, ABORT_KINDS, type AbortKind } from "./core/abort-reason.ts";
export { AGENT_STATES, AGENT_TRANSITIONS, canTransition, type AgentState } from "./core/lifecycle.ts";
export { TASK_STATES, type TaskState } from "./core/task-states.ts";
export type { Agent, AgentHealth } from "./core/agent.ts";
export type { Crew, CrewMessage, CrewState } from "./core/crew.ts";
export type { Task, TaskError } from "./core/task.ts";
export type { Wallet } from "./core/wallet.ts";
export type { FactoryEvent, FactoryEventType } from "./core/events.ts";
export type { Profile, ProfileInput, ProfileRecord, PoolSettings, HealthSettings } from "./core/schemas/profile.ts";
export type { CrewManifest, CrewManifestInput } from "./core/schemas/manifest.ts";
export type { TaskSubmitInput } from "./core/schemas/task.ts";
export type { AgentContext, FunctionAgentDefinition, FunctionHandler, FunctionHandlerFn, HandlerContext, HandlerTools } from "./runtimes/function/function-handler.ts";
export type { ToolCallResult, ToolCaller, ToolInfo } from "./core/tool.ts";
export type { McpServerSpec, ToolPolicy } from "./core/schemas/mcp-server.ts";
export type { PruneKind, PruneQuery, Store, StoreWrite } from "./core/ports/store.ts";
/** A Store in this process's memory, for tests and embedding (`createFactory({ store: createMemoryStore() })`); nothing survives the process. */
export { createMemoryStore } from "./adapters/store/memory/memory-store.ts";
/** The PostgreSQL store (`createFactory({ store: await createPostgresStore({ url, schema }) })`); `pg` is loaded only when this is called. */
export { createPostgresStore } from "./factory/create-postgres-store.ts";
export type { PostgresStoreOptions } from "./adapters/store/postgres/postgres-store.ts";
export { DEFAULT_RETENTION, type RetentionOptions, type RetentionRule } from "./state/retention.ts";
export type { Bus, Unsubscribe } from "./core/ports/bus.ts";
export type { RedisBus, RedisBusOptions } from "./adapters/bus/redis/redis-bus-options.ts";
export type { Membership, NodeInfo, NodeJoin, NodeLease, NodeReport } from "./core/ports/membership.ts";
export type { RedisMembershipOptions } from "./adapters/membership/redis/redis-membership-options.ts";
export type { NodeState } from "./cluster/cluster-node.ts";
export type { Location } from "./factory/locator.ts";
/** Node leases on Redis (`createFactory({ membership: await createRedisMembership({ url, cluster }) })`); `ioredis` is loaded only when this is called. */
export { createRedisMembership } from "./factory/create-redis-membership.ts";

/** A bus across nodes on Redis pub/sub (`createFactory({ bus: await createRedisBus({ url, cluster }) })`); `ioredis` is loaded only when this is called. */
export { createRedisBus } from "./factory/create-redis-bus.ts";
export type { AgentRuntime, AgentHandle, CrewAccess } from "./core/ports/runtime.ts";
export type { LoadBalancer } from "./core/ports/balancer.ts";
export { createApp, type AppOptions } from "./api/app.ts";
