import { z } from "zod";
import { JsonValueSchema } from "./json-value.ts";
import { BALANCERS, NameSchema, RoleSchema } from "./profile.ts";

export const TaskSubmitSchema = z
  .strictObject({
    input: JsonValueSchema.optional(),
    /** Any agent of this role may take it. */
    role: RoleSchema.optional(),
    /** Only agents spawned from this profile may take it. */
    profile: NameSchema.optional(),
    /** Only agents having every one of these capabilities may take it. */
    capabilities: z.array(z.string().min(1).max(128)).max(64).optional(),
    /** Only members of this crew may take it; without it, only agents in no crew. */
    crewId: z.string().min(1).max(64).optional(),
    /** 0 is the highest; within a priority, first in first out. */
    priority: z.number().int().min(0).max(9).default(5),
    /** The run is aborted and the task fails with TASK_TIMEOUT after this long. */
    timeoutMs: z.number().int().min(1).max(86_400_000).optional(),
    /** Runs before the task is dead-lettered (a failure marked non-retryable ends it FAILED at once). */
    maxAttempts: z.number().int().min(1).max(100).default(1),
    /** Base delay before a retry: doubled per attempt (capped at 60 s), with jitter. */
    retryBackoffMs: z.number().int().min(0).max(600_000).default(200),
    /** Tasks with the same key (within a crew) go to the same agent while it lives. */
    affinityKey: z.string().min(1).max(256).optional(),
    /** A second submit with the same key returns the first task instead of a new one. */
    idempotencyKey: z.string().min(1).max(256).optional(),
    /** Overrides the profile's load balancer for this task. */
    balancer: z.enum(BALANCERS).optional(),
    /** Only this agent may run it. */
    agentId: z.string().min(1).max(128).optional(),
    /** The task whose agent submits this one (a sub-task). */
    parentTaskId: z.string().min(1).max(128).optional(),
    /** Credits attributed from the crew's wallet to the agent that completes it (crew tasks only). */
    reward: z.number().positive().max(1_000_000_000).optional(),
  })
  .refine((t) => t.reward === undefined || t.crewId !== undefined, { message: "a reward is paid from a crew's wallet: give crewId", path: ["reward"] })
  .refine((t) => t.role !== undefined || t.profile !== undefined || (t.capabilities?.length ?? 0) > 0 || t.agentId !== undefined, {
    message: "name who may run the task: 'role', 'profile', 'capabilities' or 'agentId'",
    path: ["role"],
  })
  .meta({ id: "TaskSubmit" });

export type TaskSubmitInput = z.input<typeof TaskSubmitSchema>;
export type TaskSubmit = z.output<typeof TaskSubmitSchema>;
