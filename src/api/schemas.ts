import { McpServerSchema } from "../core/schemas/mcp-server.ts";
import { z } from "zod";
import type { Agent } from "../core/agent.ts";
import type { Crew } from "../core/crew.ts";
import type { NodeInfo } from "../core/ports/membership.ts";
import { CREW_STATES } from "../core/crew-states.ts";
import { AGENT_STATES } from "../core/lifecycle.ts";
import { BALANCERS, ProfileSchema } from "../core/schemas/profile.ts";
import type { Task } from "../core/task.ts";
import { TASK_STATES } from "../core/task-states.ts";

/** Response and parameter schemas: they document the API in /openapi.json. */

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().meta({ example: "PROFILE_NOT_FOUND" }),
      message: z.string(),
      field: z.string().optional(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .meta({ id: "Error" });

export const ProfileRecordSchema = ProfileSchema.extend({ version: z.number().int(), createdAt: z.string() }).meta({ id: "ProfileRecord" });

export const AgentSchema = z
  .object({
    id: z.string().meta({ example: "agent_1f2e3d4c5b6a7988" }),
    name: z.string(),
    profile: z.string(),
    profileVersion: z.number().int(),
    role: z.string(),
    capabilities: z.array(z.string()),
    scopes: z.array(z.string()),
    cognitiveLoadLimit: z.number().int(),
    state: z.enum(AGENT_STATES),
    crewId: z.string().nullable(),
    network: z.literal("crew").optional().meta({ description: "Present when its sandbox shares its crew's network (a crew manifest's network: crew); absent: a network of its own" }),
    nodeId: z.string().meta({
      description: "The node that runs it (for a hibernated or terminated agent, the node that last ran it); empty for an agent stored before nodes existed and not run since",
      example: "node-1a2b3c4d",
    }),
    walletAddress: z.string().meta({ example: "0x371_CODER_0123456789abcdef0123456789abcdef" }),
    spawnedAt: z.string(),
    load: z.number().int(),
    stats: z.object({ completed: z.number().int(), failed: z.number().int() }),
    restarts: z.number().int().meta({ description: "Times it was provisioned again under the same id (restart, watchdog replacement)" }),
    health: z
      .object({
        lastHeartbeatAt: z.string().nullable(),
        missed: z.number().int().meta({ description: "Heartbeat intervals (or probes) missed in a row; ≥ 1: not ready" }),
        successRate: z.number().meta({ description: "Moving average of recent outcomes (1 = all succeeded)" }),
        latencyMs: z.number().nullable().meta({ description: "Moving average of recent run times" }),
        samples: z.number().int().meta({ description: "Outcomes since it was last provisioned" }),
        suspect: z.string().nullable().meta({ description: "Why it takes no new work for now (a stuck task, poor quality)" }),
      })
      .meta({ id: "AgentHealth" }),
    pid: z.number().int().nullable().meta({ description: "Host process id of a process agent" }),
    lastSignal: z.object({ signal: z.string(), payload: z.unknown(), at: z.string() }).nullable(),
    context: z.record(z.string(), z.unknown()),
    updatedAt: z.string(),
  })
  .meta({ id: "Agent" });

export const CrewStateSchema = z.enum(CREW_STATES);

export const CrewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    state: CrewStateSchema,
    agentIds: z.array(z.string()),
    budget: z.number().nullable(),
    mcpServers: z.array(McpServerSchema).optional().meta({ description: "Its manifest's crew-wide MCP servers" }),
    walletAddress: z.string(),
    network: z.literal("crew").optional().meta({ description: "Present when its members share one loopback-only network namespace per node (manifest network: crew)" }),
    memberScopes: z.record(z.string(), z.array(z.string())).optional().meta({ description: "The scopes its manifest narrowed, by profile: members of that profile added later get no more" }),
    createdAt: z.string(),
    updatedAt: z.string(),
    agents: z.array(AgentSchema),
  })
  .meta({ id: "Crew" });

export const CrewMessageSchema = z
  .object({
    id: z.string(),
    crewId: z.string(),
    topic: z.string(),
    signal: z.string().nullable(),
    payload: z.unknown(),
    delivered: z.number().int(),
    at: z.string(),
    seq: z.number().int().optional(),
  })
  .meta({ id: "CrewMessage" });

export const TaskSchema = z
  .object({
    id: z.string(),
    state: z.enum(TASK_STATES),
    input: z.unknown(),
    role: z.string().nullable(),
    profile: z.string().nullable(),
    capabilities: z.array(z.string()),
    crewId: z.string().nullable(),
    priority: z.number().int(),
    timeoutMs: z.number().int().nullable(),
    maxAttempts: z.number().int(),
    attempts: z.number().int(),
    retryBackoffMs: z.number().int(),
    retryAt: z.string().nullable(),
    redrives: z.number().int(),
    affinityKey: z.string().nullable(),
    idempotencyKey: z.string().nullable(),
    balancer: z.enum(BALANCERS).nullable(),
    targetAgentId: z.string().nullable(),
    agentId: z.string().nullable(),
    result: z.unknown().optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
    usage: z
      .object({ calls: z.number().int(), inputTokens: z.number().int(), outputTokens: z.number().int(), cost: z.number().meta({ description: "Credits charged" }) })
      .optional()
      .meta({ description: "What the task's model calls used and cost, over all its attempts" }),
    parentTaskId: z.string().optional().meta({ description: "The task whose agent submitted this one" }),
    reward: z.number().optional().meta({ description: "Credits attributed from the crew's wallet to the agent that completes it" }),
    traceId: z.string().nullable().meta({ description: "Its OpenTelemetry trace id (32 hex digits) when the factory traces (serve --otlp-endpoint); null otherwise" }),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    updatedAt: z.string(),
  })
  .meta({ id: "Task" });

export const WalletSchema = z
  .object({
    address: z.string(),
    ownerKind: z.enum(["agent", "crew", "system"]),
    ownerId: z.string(),
    balance: z.number().meta({ description: "Credits: the sum of the wallet's ledger entries; what model calls are paid with" }),
    achievementTokens: z.number().meta({
      description: "Achievement tokens (every agent starts with 1000): a score, not credits; they pay for nothing. Formerly named `tokens`",
    }),
    createdAt: z.string(),
  })
  .meta({ id: "Wallet" });

/** One node of the cluster (`GET /v1/nodes`). */
export const NodeSchema = z
  .object({
    id: z.string().meta({ example: "node-1a2b3c4d" }),
    startedAt: z.string().meta({ description: "When it joined the cluster (this lease)" }),
    leaseUntil: z.string().meta({ description: "Until when its lease holds, as last renewed; in the past for a node that is not alive" }),
    alive: z.boolean().meta({ description: "Whether its lease holds now; a node whose lease ran out is listed false until its id joins again" }),
    agents: z.number().int().meta({ description: "Agents it runs (not hibernated, not terminated), at its last renewal" }),
    load: z.number().int().meta({ description: "Tasks its agents ran, at its last renewal" }),
    capacity: z.number().int().meta({ description: "Tasks its agents could run at once (the sum of their cognitiveLoadLimit), at its last renewal" }),
    url: z.string().nullable().meta({ description: "Where its API answers, when it said" }),
  })
  .meta({ id: "Node" });

export const itemsOf = <T extends z.ZodType>(schema: T) => z.object({ items: z.array(schema) });

/** Query `limit`: 1 to 10,000. */
export const LimitQuery = z.coerce.number().int().min(1).max(10_000).optional();

export const IdParam = z.object({ id: z.string().min(1).max(128) });

/*
 * The schemas above describe core types a second time, for the OpenAPI document. These checks tie
 * them together: when a core type and its schema drift apart (a field added, renamed, made
 * optional or nullable, a state added), `tsc --noEmit` fails here. Types only: nothing runs.
 */

/** True only when A and B are the same type, modifiers included (not merely assignable one way). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Flattens an intersection into one object type, so that `Same` compares members, not spelling. */
type Flat<T> = { [K in keyof T]: T[K] };
type MustHold<T extends true> = T;

export type AgentSchemaMatchesCore = MustHold<Same<z.output<typeof AgentSchema>, Agent>>;
/** The crew as the API returns it: the core crew and its agents. */
export type CrewSchemaMatchesCore = MustHold<Same<z.output<typeof CrewSchema>, Flat<Crew & { agents: Agent[] }>>>;
export type TaskSchemaMatchesCore = MustHold<Same<z.output<typeof TaskSchema>, Task>>;
export type NodeSchemaMatchesCore = MustHold<Same<z.output<typeof NodeSchema>, NodeInfo>>;

/** A model call as an agent asks for it over HTTP, or a member's node sends it to the crew's node (the router's request, without its abort signal). */
export const ModelRequestSchema = z
  .object({
    system: z.string().optional(),
    messages: z.array(z.unknown()).max(10_000),
    tools: z.record(z.string(), z.object({ description: z.string(), inputSchema: z.unknown() })).optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    model: z.string().optional(),
    maxOutputTokens: z.number().int().positive().optional(),
  })
  .meta({ id: "ModelCallRequest" });

export const ModelResultSchema = z
  .object({ model: z.string(), rule: z.string(), text: z.string(), usage: z.object({ inputTokens: z.number(), outputTokens: z.number() }), cost: z.number() })
  .passthrough()
  .meta({ id: "ModelCallResult" });
