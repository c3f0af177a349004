import type { Agent } from "../core/agent.ts";
import type { Task } from "../core/task.ts";

/** Priorities are 0 (highest) to 9. */
const PRIORITIES = 10;

/** What a lane's tasks ask for; tasks with the same target are interchangeable to an agent. */
export interface LaneTarget {
  crewId: string | null;
  role: string | null;
  profile: string | null;
  capabilities: readonly string[];
  /** Set for a lane of tasks that wait for one particular agent. */
  agentId: string | null;
}

export function laneKey(target: LaneTarget): string {
  if (target.agentId !== null) return `agent:${target.agentId}`;
  return `${target.crewId ?? ""}|${target.role ?? ""}|${target.profile ?? ""}|${[...target.capabilities].sort().join(",")}`;
}

/** Whether an agent may run the tasks of a lane with this target. Crews never mix. */
export function targetMatches(target: LaneTarget, agent: Pick<Agent, "id" | "crewId" | "role" | "profile" | "capabilities">): boolean {
  if (target.agentId !== null) return target.agentId === agent.id;
  if (agent.crewId !== target.crewId) return false;
  if (target.role !== null && agent.role !== target.role) return false;
  if (target.profile !== null && agent.profile !== target.profile) return false;
  for (const capability of target.capabilities) if (!agent.capabilities.includes(capability)) return false;
  return true;
}

/**
 * The waiting tasks of one target: a FIFO per priority. `seq` orders tasks across lanes, so an
 * agent that several lanes could feed takes the oldest of the highest priority.
 */
export class Lane {
  readonly key: string;
  readonly target: LaneTarget;
  readonly #buckets: Array<Array<{ task: Task; seq: number }>> = Array.from({ length: PRIORITIES }, () => []);
  #size = 0;
  /** Places held for admitted tasks not yet enqueued. */
  reserved = 0;
  /** Tasks of this target waiting in an agent's lane by affinity (they count toward this depth). */
  affinityWaiting = 0;
  /** When the most recent dispatches happened (a ring), for the Retry-After estimate. */
  readonly #takenAt: number[] = [];
  /** Cache of which agent groups can serve the lane, and the epoch it was computed in. */
  groupsEpoch = -1;
  groups: ReadonlyArray<{ agents: ReadonlySet<Agent>; lastFreed: Agent | undefined }> = [];

  constructor(target: LaneTarget) {
    this.target = target;
    this.key = laneKey(target);
  }

  get size(): number {
    return this.#size;
  }

  push(task: Task, seq: number): void {
    (this.#buckets[task.priority] as Array<{ task: Task; seq: number }>).push({ task, seq });
    this.#size++;
  }

  /** The next task and its arrival order, without taking it. */
  peek(): { task: Task; seq: number } | undefined {
    if (this.#size === 0) return undefined;
    for (const bucket of this.#buckets) if (bucket.length > 0) return bucket[0];
    return undefined;
  }

  shift(): Task | undefined {
    for (const bucket of this.#buckets) {
      const entry = bucket.shift();
      if (entry !== undefined) {
        this.#size--;
        this.#takenAt.push(Date.now());
        if (this.#takenAt.length > 64) this.#takenAt.shift();
        return entry.task;
      }
    }
    return undefined;
  }

  remove(taskId: string): Task | undefined {
    for (const bucket of this.#buckets) {
      const i = bucket.findIndex((e) => e.task.id === taskId);
      if (i >= 0) {
        this.#size--;
        return (bucket.splice(i, 1)[0] as { task: Task }).task;
      }
    }
    return undefined;
  }

  /** Seconds until the lane should have room, from its recent dispatch rate (1 to 60). */
  retryAfterSeconds(now = Date.now()): number {
    const first = this.#takenAt[0];
    if (first === undefined || this.#takenAt.length < 2) return 5;
    const perSecond = this.#takenAt.length / Math.max(0.001, (now - first) / 1000);
    return Math.min(60, Math.max(1, Math.ceil(1 / perSecond)));
  }

  /** Every task, highest priority first; the lane is left empty. */
  drain(): Task[] {
    const out = this.#buckets.flatMap((b) => b.map((e) => e.task));
    for (const bucket of this.#buckets) bucket.length = 0;
    this.#size = 0;
    return out;
  }
}
