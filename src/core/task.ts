import type { TaskState } from "./task-states.ts";

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
  attempts: number;
  agentId: string | null;
  result?: unknown;
  error?: TaskError;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}
