import type { BalancerName } from "./schemas/profile.ts";
import type { TaskState } from "./task-states.ts";

/** What a task's model calls used and cost, over all its attempts. */
export interface TaskUsage {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** Credits charged. */
  cost: number;
}

export interface TaskError {
  code: string;
  message: string;
}

/** A unit of work and its outcome. Plain data, as stored and returned. */
export interface Task {
  id: string;
  state: TaskState;
  input: unknown;
  role: string | null;
  profile: string | null;
  capabilities: string[];
  crewId: string | null;
  priority: number;
  timeoutMs: number | null;
  maxAttempts: number;
  /** Runs started (a run cut short by a restart counts). */
  attempts: number;
  /** Base delay before a retry; doubled per attempt, with jitter. */
  retryBackoffMs: number;
  /** When a failed task waiting for its retry becomes eligible again. */
  retryAt: string | null;
  /** Times it was re-driven out of the dead letters. */
  redrives: number;
  /** Tasks with the same key (within a crew) go to the same agent while it lives. */
  affinityKey: string | null;
  /** A second submit with the same key returns this task. */
  idempotencyKey: string | null;
  /** Load balancer for this task; null means the profile's. */
  balancer: BalancerName | null;
  /** Addressed to this agent only. */
  targetAgentId: string | null;
  /** The agent running it, or that ran it last. */
  agentId: string | null;
  result?: unknown;
  error?: TaskError;
  /** Present once it made model calls. */
  usage?: TaskUsage;
  /** The task that submitted it (an agent's sub-task). */
  parentTaskId?: string;
  /** Credits the crew attributes to the agent that completes it. */
  reward?: number;
  /** Its OpenTelemetry trace (32 hex digits) when the factory traces; null otherwise (docs/observability.md). */
  traceId: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}

/** Brings a stored task written by an older version up to this shape (`traceId` was added later). */
export function upgradeTask(task: Task): Task {
  if (task.traceId === undefined) task.traceId = null;
  return task;
}
