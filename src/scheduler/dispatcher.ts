import type { Agent } from "../core/agent.ts";
import { FactoryError, isFactoryError } from "../core/errors.ts";
import { isWorkingState } from "../core/lifecycle.ts";
import type { LoadBalancer } from "../core/ports/balancer.ts";
import type { BalancerName } from "../core/schemas/profile.ts";
import type { Task, TaskError } from "../core/task.ts";
import { assertTaskTransition, type TaskState } from "../core/task-states.ts";
import type { AgentRegistry } from "../state/agent-registry.ts";
import type { EventLog } from "../state/event-log.ts";
import type { Journal } from "../state/journal.ts";
import { AffinityTable } from "./affinity-table.ts";
import { backoffDelayMs } from "./backoff.ts";
import { Lane, laneKey, targetMatches, type LaneTarget } from "./lane.ts";

export interface DispatcherDeps {
  registry: AgentRegistry;
  journal: Journal;
  events: EventLog;
  balancers: ReadonlyMap<BalancerName, LoadBalancer>;
  /** The balancer for tasks of a lane that name none: the profile's. */
  defaultBalancer(target: LaneTarget): BalancerName;
  /** Most tasks a lane may hold: the queue depth of the profiles that can serve it. */
  queueDepth(target: LaneTarget): number;
  /** Whether members of this crew may take work now (the crew is ACTIVE). */
  crewAcceptsWork(crewId: string): boolean;
  /** Called once when a task reaches a final state. */
  onFinal(task: Task): void;
  /** A task found no free agent and waits (on-demand spawning listens here). */
  onWaiting?(task: Task, lane: Lane): void;
  /** A task went to an agent after waiting `waitedMs` (for pool metrics). */
  onAssigned?(task: Task, agent: Agent, waitedMs: number): void;
  /** An attempt ended with this outcome after `latencyMs` (for quality trends). */
  onOutcome?(agent: Agent, ok: boolean, latencyMs: number): void;
  affinity?: { ttlMs: number; maxBindings: number };
  /** Whether an agent an affinity key is bound to is hibernating (not in memory). */
  isAsleep?(agentId: string): boolean;
  /** Wakes a hibernating agent a waiting task is bound to (its tasks wait in its lane meanwhile). */
  wake?(agentId: string): void;
}

/** One attempt of a task on an agent. */
interface Run {
  task: Task;
  agent: Agent;
  attempt: number;
  controller: AbortController;
  timer: NodeJS.Timeout | undefined;
  /** The task's outcome for this attempt is decided (by the handler, a timeout or a cancel). */
  concluded: boolean;
  /** A retry decided while the handler still runs: started when it returns (never two runs at once). */
  heldRetry: { delayMs: number; cap: NodeJS.Timeout; task?: Task } | undefined;
  startedAt: number;
  /** Last sign of progress (start, a progress report, output of the agent), for stuck detection. */
  lastProgressAt: number;
  /** Given up on as stuck: its agent is suspect until the handler returns. */
  stuck: boolean;
}

/** A running attempt as the watchdog sees it. */
export interface RunView {
  readonly task: Readonly<Task>;
  readonly agent: Agent;
  readonly startedAt: number;
  readonly lastProgressAt: number;
  readonly stuck: boolean;
}

/** Free agents of one (crew, profile version): they are interchangeable for matching. */
interface Group {
  sample: Pick<Agent, "id" | "crewId" | "role" | "profile" | "capabilities">;
  agents: Set<Agent>;
  /** The agent of the group that became free last. */
  lastFreed: Agent | undefined;
  lanesEpoch: number;
  lanes: Lane[];
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** States in which an agent takes (or will take again) work. */

const groupKey = (agent: Agent): string => `${agent.crewId ?? ""}|${agent.profile}|${agent.profileVersion}`;

/** Errors that end an attempt from the factory's side: a handler's answer after one of them is not a result. */
const ABANDONED = new Set(["AGENT_LOST", "TASK_CANCELLED", "TASK_TIMEOUT", "TASK_STUCK", "SHUTTING_DOWN"]);

/**
 * Matches waiting tasks to free agents and runs them. Tasks wait in lanes, one per target
 * (crew, role, profile, capabilities — or one agent); free agents sit in groups, one per
 * crew and profile version. It keeps one invariant: no waiting task matches a free agent. So a
 * new task either goes straight to a free agent (chosen by the load balancer) or waits, and an
 * agent that becomes free takes the oldest highest-priority task of the lanes it can serve.
 */
export class Dispatcher {
  readonly #deps: DispatcherDeps;
  readonly #lanes = new Map<string, Lane>();
  #lanesEpoch = 0;
  readonly #groups = new Map<string, Group>();
  #groupsEpoch = 0;
  #available = 0;
  /** Attempts whose handler has not returned yet; each holds one unit of its agent's load. */
  readonly #running = new Set<Run>();
  /** The current attempt of each task that is ASSIGNED or RUNNING. */
  readonly #current = new Map<string, Run>();
  /** Each agent's attempts whose handler has not returned. */
  readonly #byAgent = new Map<Agent, Set<Run>>();
  /** Tasks waiting out a retry backoff. */
  readonly #retryTimers = new Map<string, { task: Task; timer: NodeJS.Timeout }>();
  /** Tasks holding a reserved place in their lane until they are enqueued. */
  readonly #reserved = new Set<Task>();
  /** For tasks waiting in an agent's lane by affinity: the lane whose depth they count against. */
  readonly #affinityOrigin = new WeakMap<Task, Lane>();
  /** When each waiting task started to wait (for wait-time metrics). */
  readonly #waitingSince = new WeakMap<Task, number>();
  readonly affinity: AffinityTable;
  #seq = 0;
  #filling = false;
  readonly #deferred = new Set<Agent>();
  #stopped = false;
  #idleWaiters: Array<() => void> = [];
  /** Results that arrived for an attempt that was no longer current (timed out, stuck, lost, replaced); discarded. */
  lateResults = 0;
  /** Chaos: a delay added before every handler starts (latency injection); 0 normally. */
  injectedLatencyMs = 0;
  /** Microseconds from enqueue to the handler's start, for tasks handed straight to a free agent (a ring). */
  readonly #dispatchUs = new Float64Array(4096);
  #dispatchCount = 0;

  constructor(deps: DispatcherDeps) {
    this.#deps = deps;
    this.affinity = new AffinityTable(deps.affinity ?? { ttlMs: 600_000, maxBindings: 100_000 });
    deps.registry.onChange((agent) => {
      if (agent.state === "TERMINATED") this.#agentGone(agent);
      else if (agent.state === "DRAINING" || agent.state === "UNHEALTHY") this.#releaseAffinity(agent);
      else if (agent.state === "HIBERNATING") {
        // A sleeper keeps no lane in memory (one is made again for a task addressed to it).
        const own = this.#lanes.get(`agent:${agent.id}`);
        if (own !== undefined && own.size === 0 && own.reserved === 0 && own.affinityWaiting === 0) this.#lanes.delete(own.key);
      }
      this.refresh(agent);
    });
  }

  /** Tasks waiting in lanes or for a retry. */
  get queued(): number {
    let n = this.#retryTimers.size;
    for (const lane of this.#lanes.values()) n += lane.size;
    return n;
  }

  get running(): number {
    return this.#running.size;
  }

  get availableAgents(): number {
    return this.#available;
  }

  /** p50/p99 of recent direct dispatches (enqueue → handler started), in microseconds. */
  dispatchLatency(): { samples: number; p50Us: number; p99Us: number } {
    const n = Math.min(this.#dispatchCount, this.#dispatchUs.length);
    if (n === 0) return { samples: 0, p50Us: 0, p99Us: 0 };
    const sorted = Array.from(this.#dispatchUs.subarray(0, n)).sort((a, b) => a - b);
    const at = (q: number): number => Math.round((sorted[Math.min(n - 1, Math.floor(q * n))] as number) * 10) / 10;
    return { samples: n, p50Us: at(0.5), p99Us: at(0.99) };
  }

  /** Every lane (for pool views). */
  lanes(): IterableIterator<Lane> {
    return this.#lanes.values();
  }

  /** Re-evaluates whether `agent` may take work, and gives it work if so. */
  refresh(agent: Agent): void {
    const group = this.#group(agent);
    if (!this.#isAvailable(agent)) {
      if (group.agents.delete(agent)) this.#available--;
      return;
    }
    if (!group.agents.has(agent)) {
      group.agents.add(agent);
      group.lastFreed = agent;
      this.#available++;
    }
    if (this.#filling) {
      this.#deferred.add(agent);
      return;
    }
    this.#filling = true;
    try {
      this.#fill(agent);
      while (this.#deferred.size > 0) {
        const next = this.#deferred.values().next().value as Agent;
        this.#deferred.delete(next);
        this.#fill(next);
      }
    } finally {
      this.#filling = false;
    }
  }

  /**
   * Admits a task to its lane or throws QUEUE_FULL (429) when the lane is at its depth. The
   * place is reserved at once (released by `enqueue`, or by `unreserve` when the task is not
   * accepted after all), so a burst of concurrent submits cannot overshoot the depth. Tasks that
   * wait for an agent by affinity count toward the lane they came from.
   */
  reserve(task: Task): void {
    const target = this.#targetOf(task);
    const lane = this.#lane(target);
    const depth = this.#deps.queueDepth(target);
    if (lane.size + lane.reserved + lane.affinityWaiting >= depth) {
      const retryAfterSec = lane.retryAfterSeconds();
      // Tasks being accepted and tasks waiting for an affinity agent count toward the limit too.
      throw new FactoryError("QUEUE_FULL", `the queue for this task already holds ${lane.size + lane.reserved + lane.affinityWaiting} task(s), its limit of ${depth}; retry in ${retryAfterSec} s`, {
        details: { depth, retryAfterSec },
      });
    }
    lane.reserved++;
    this.#reserved.add(task);
  }

  /** Gives back a place reserved by `reserve` (the task was not accepted). */
  unreserve(task: Task): void {
    this.#unreserve(task);
  }

  #unreserve(task: Task): void {
    if (!this.#reserved.delete(task)) return;
    const lane = this.#lanes.get(laneKey(this.#targetOf(task)));
    if (lane !== undefined) lane.reserved--;
  }

  /** Hands a QUEUED task to an agent now, or lets it wait. */
  enqueue(task: Task): void {
    this.#unreserve(task);
    const addressed = task.targetAgentId === null ? undefined : this.#deps.registry.get(task.targetAgentId);
    if (task.targetAgentId !== null && (addressed?.state === "TERMINATED" || (addressed === undefined && this.#deps.wake === undefined))) {
      this.#finish(task, "FAILED", { error: { code: "AGENT_NOT_FOUND", message: `agent ${task.targetAgentId}, which the task was addressed to, is gone` } });
      return;
    }
    if (task.retryAt !== null && Date.parse(task.retryAt) > Date.now()) {
      this.#scheduleRetry(task, Date.parse(task.retryAt) - Date.now());
      return;
    }
    // Addressed to, or bound by affinity to, an agent asleep in the store or on its way there:
    // wait for it in its lane and have it woken. If it cannot be (it ended), the factory releases
    // the lane, and a task addressed to it fails with AGENT_NOT_FOUND.
    const sleeper = this.#sleeperFor(task, addressed);
    if (sleeper !== undefined) {
      this.#wait(task, task.targetAgentId === null ? this.#agentLane(task, sleeper) : undefined);
      this.#deps.wake?.(sleeper);
      return;
    }
    if (!this.#stopped) {
      const started = performance.now();
      const agent = this.#choose(task);
      if (agent !== undefined) {
        this.#assign(task, agent, 0);
        // #assign starts the handler synchronously, so this spans choosing, assigning and starting.
        this.#dispatchUs[this.#dispatchCount++ % this.#dispatchUs.length] = (performance.now() - started) * 1000;
        return;
      }
    }
    const bound = this.#boundAgent(task);
    const lane = this.#wait(task, bound === undefined ? undefined : this.#agentLane(task, bound.id));
    if (!this.#stopped) this.#deps.onWaiting?.(task, lane);
  }

  /**
   * Puts a task in the lane it waits in: its own, or `agentLane` — that of the agent its
   * affinity binds it to, while it counts toward its own lane's depth.
   */
  #wait(task: Task, agentLane: Lane | undefined): Lane {
    const own = this.#lane(this.#targetOf(task));
    const lane = agentLane ?? own;
    lane.push(task, ++this.#seq);
    if (agentLane !== undefined) {
      own.affinityWaiting++;
      this.#affinityOrigin.set(task, own);
    }
    this.#waitingSince.set(task, Date.now());
    return lane;
  }

  #agentLane(task: Task, agentId: string): Lane {
    return this.#lane({ crewId: task.crewId, role: null, profile: null, capabilities: [], agentId });
  }

  /** Cancels a task that is not final; a running handler sees its AbortSignal fire. */
  cancel(task: Task, reason = "cancelled"): void {
    if (task.state === "QUEUED") {
      if (this.#lanes.get(laneKey(this.#targetOf(task)))?.remove(task.id) === undefined) {
        for (const lane of this.#lanes.values()) if (lane.target.agentId !== null && lane.remove(task.id) !== undefined) break;
        this.#leaveAffinityWait(task);
      }
      this.#clearRetry(task.id);
    }
    const run = this.#current.get(task.id);
    this.#finish(task, "CANCELLED", { error: { code: "TASK_CANCELLED", message: reason } });
    if (run !== undefined) {
      // The agent stays loaded until its handler returns; the task is final now.
      run.concluded = true;
      clearTimeout(run.timer);
      this.#current.delete(task.id);
      run.controller.abort(new FactoryError("TASK_CANCELLED", reason));
    }
  }

  /** Puts a dead-lettered task back in the queue with a fresh set of attempts. */
  redrive(task: Task): void {
    this.#setState(task, "QUEUED", "re-driven from the dead letters", {
      attempts: 0,
      redrives: task.redrives + 1,
      retryAt: null,
      agentId: null,
      error: undefined,
      finishedAt: null,
    });
    // Its last attempt timed out but the handler still runs: the new life starts when that
    // handler returns (or after a cap), so the task never runs twice at once.
    const still = [...this.#running].find((run) => run.task.id === task.id);
    if (still !== undefined && still.heldRetry === undefined) {
      const cap = setTimeout(() => this.#startHeldRetry(still), Math.max(task.timeoutMs ?? 0, 1_000));
      cap.unref();
      still.heldRetry = { delayMs: 0, cap, task };
      return;
    }
    this.enqueue(task);
  }

  /** Stops handing out work (at shutdown); waiting tasks stay QUEUED. */
  stop(): void {
    this.#stopped = true;
    for (const group of this.#groups.values()) group.agents.clear();
    this.#available = 0;
    for (const { timer } of this.#retryTimers.values()) clearTimeout(timer);
    this.#retryTimers.clear();
  }

  /** Resolves when nothing runs, or after `timeoutMs`. */
  async waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.#running.size === 0) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(this.#running.size === 0), timeoutMs);
      this.#idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /**
   * Gives up on every running task at a forced shutdown: each goes back to QUEUED (its
   * attempt counted) so the next start runs it again; handlers see their signal abort.
   */
  abandonRunning(reason: string): number {
    const runs = [...this.#running];
    this.#running.clear();
    this.#current.clear();
    this.#byAgent.clear();
    for (const run of runs) {
      clearTimeout(run.timer);
      if (!run.concluded && (run.task.state === "RUNNING" || run.task.state === "ASSIGNED")) this.#setState(run.task, "QUEUED", reason, { agentId: null });
      run.concluded = true;
      run.controller.abort(new FactoryError("SHUTTING_DOWN", reason));
    }
    this.#wakeIdleWaiters();
    return runs.length;
  }

  /** Running attempts (for the watchdog's stuck scan). */
  runs(): Iterable<RunView> {
    return this.#running;
  }

  /**
   * Whether a task is one of the agent's attempts: `current` (it runs the task now), `earlier`
   * (an attempt already decided whose handler still runs), or undefined (not the agent's).
   */
  attemptOf(agent: Agent, taskId: string): "current" | "earlier" | undefined {
    if (this.#current.get(taskId)?.agent === agent) return "current";
    for (const run of this.#byAgent.get(agent) ?? []) if (run.task.id === taskId) return "earlier";
    return undefined;
  }

  /** A sign of progress on a task: pushes its stuck deadline back. */
  progressed(taskId: string): void {
    const run = this.#current.get(taskId);
    if (run !== undefined) run.lastProgressAt = Date.now();
  }

  /** The agent wrote output (a log line): progress on everything it runs. */
  agentOutput(agent: Agent): void {
    const runs = this.#byAgent.get(agent);
    if (runs === undefined) return;
    const now = Date.now();
    for (const run of runs) run.lastProgressAt = now;
  }

  /**
   * Gives up on a stuck attempt: the task goes back to the queue at once (attempt counted) to
   * run elsewhere, the handler is told to stop (cancel), and its agent is suspect — it takes
   * no new work until that handler returns (its late answer is discarded) or it is replaced.
   */
  unstick(view: RunView, reason: string): boolean {
    const run = view as Run;
    if (!this.#running.has(run) || run.stuck) return false;
    run.stuck = true;
    run.agent.health.suspect = reason;
    // Out of the free agents before the task is queued again, so it cannot come straight back.
    this.refresh(run.agent);
    // An attempt already decided (timed out, cancelled) whose handler still holds its slot is
    // stuck too: its agent is suspect, and replaced if the handler never returns.
    if (run.concluded) return true;
    const error = new FactoryError("TASK_STUCK", reason);
    clearTimeout(run.timer);
    this.#conclude(run, { ok: false, error });
    run.controller.abort(error);
    return true;
  }

  /**
   * The agent is declared dead (its process died, went silent, or failed its probes): each of
   * its attempts goes back to the queue at once as AGENT_LOST (attempts counted) and frees its
   * slot now; a handler that answers later is discarded and counted as a late result.
   */
  abandonAgent(agent: Agent, reason: string): number {
    // Out of the free agents first (its runtime is already gone), so its tasks go elsewhere.
    this.refresh(agent);
    const runs = this.#byAgent.get(agent);
    if (runs === undefined) return 0;
    this.#byAgent.delete(agent);
    let n = 0;
    for (const run of runs) {
      if (!this.#running.delete(run)) continue;
      n++;
      clearTimeout(run.timer);
      agent.load = Math.max(0, agent.load - 1);
      const error = new FactoryError("AGENT_LOST", reason);
      if (!run.concluded) this.#conclude(run, { ok: false, error });
      if (run.heldRetry !== undefined) this.#startHeldRetry(run);
      run.controller.abort(error);
    }
    this.#wakeIdleWaiters();
    return n;
  }

  #forget(run: Run): void {
    const runs = this.#byAgent.get(run.agent);
    if (runs === undefined) return;
    runs.delete(run);
    if (runs.size === 0) this.#byAgent.delete(run.agent);
  }

  // ------------------------------------------------------------------ matching

  #targetOf(task: Task): LaneTarget {
    return { crewId: task.crewId, role: task.role, profile: task.profile, capabilities: task.capabilities, agentId: task.targetAgentId };
  }

  #lane(target: LaneTarget): Lane {
    const key = laneKey(target);
    let lane = this.#lanes.get(key);
    if (lane === undefined) {
      lane = new Lane(target);
      this.#lanes.set(key, lane);
      // Groups cache the lanes they serve, which never include one agent's own lane: making
      // one (a task addressed to an agent) must not send every group to rescan.
      if (target.agentId === null) this.#lanesEpoch++;
    }
    return lane;
  }

  #group(agent: Agent): Group {
    const key = groupKey(agent);
    let group = this.#groups.get(key);
    if (group === undefined) {
      group = {
        sample: { id: agent.id, crewId: agent.crewId, role: agent.role, profile: agent.profile, capabilities: [...agent.capabilities] },
        agents: new Set(),
        lastFreed: undefined,
        lanesEpoch: -1,
        lanes: [],
      };
      this.#groups.set(key, group);
      this.#groupsEpoch++;
    }
    return group;
  }

  /** Groups whose agents can serve a (non-agent) lane; cached until a group appears. */
  #groupsFor(lane: Lane): ReadonlyArray<{ agents: ReadonlySet<Agent>; lastFreed: Agent | undefined }> {
    if (lane.groupsEpoch !== this.#groupsEpoch) {
      lane.groups = [...this.#groups.values()].filter((g) => targetMatches(lane.target, g.sample));
      lane.groupsEpoch = this.#groupsEpoch;
    }
    return lane.groups;
  }

  /** Lanes an agent of this group can serve; cached until a lane appears. */
  #lanesFor(group: Group): readonly Lane[] {
    if (group.lanesEpoch !== this.#lanesEpoch) {
      group.lanes = [...this.#lanes.values()].filter((l) => l.target.agentId === null && targetMatches(l.target, group.sample));
      group.lanesEpoch = this.#lanesEpoch;
    }
    return group.lanes;
  }

  #usesAffinity(task: Task): boolean {
    return task.affinityKey !== null && (task.balancer === null || task.balancer === "affinity");
  }

  #affinityKey(task: Task): string {
    return `${task.crewId ?? ""}|${task.affinityKey ?? ""}`;
  }

  /** A free agent for the task now, or undefined. */
  #choose(task: Task): Agent | undefined {
    if (task.targetAgentId !== null) {
      const agent = this.#deps.registry.get(task.targetAgentId);
      return agent !== undefined && this.#isAvailable(agent) ? agent : undefined;
    }
    const bound = this.#boundAgent(task);
    // Bound to a working agent: that one or none (if busy, the task waits for it).
    if (bound !== undefined) return this.#isAvailable(bound) ? bound : undefined;
    if (this.#available === 0) return undefined;
    const lane = this.#lane(this.#targetOf(task));
    const groups = this.#groupsFor(lane);
    const name = task.balancer ?? this.#deps.defaultBalancer(lane.target);
    const balancer = this.#deps.balancers.get(name === "affinity" ? "least-loaded" : name) as LoadBalancer;
    const recent: Agent[] = [];
    for (const group of groups) if (group.lastFreed !== undefined && group.agents.has(group.lastFreed)) recent.push(group.lastFreed);
    return balancer.pick(candidatesOf(groups), task, { laneKey: lane.key, recent });
  }

  /**
   * The agent a task's affinity key is bound to, if it can still serve it: it matches the task
   * and is working (WORKING_STATES: READY, BUSY or IDLE — not draining, unhealthy or gone).
   */
  #boundAgent(task: Task): Agent | undefined {
    if (!this.#usesAffinity(task)) return undefined;
    const bound = this.affinity.get(this.#affinityKey(task));
    const agent = bound === undefined ? undefined : this.#deps.registry.get(bound);
    if (agent === undefined || !isWorkingState(agent.state) || !targetMatches(this.#targetOf(task), agent)) return undefined;
    return agent;
  }

  /**
   * The sleeping agent a task must wait for: the one it is addressed to, if that one is asleep
   * (not in memory) or falling asleep; else the one its affinity key is bound to, if that one is
   * asleep or still waking.
   */
  #sleeperFor(task: Task, addressed: Agent | undefined): string | undefined {
    if (task.targetAgentId !== null) {
      return !this.#stopped && this.#deps.wake !== undefined && (addressed === undefined || addressed.state === "HIBERNATING") ? task.targetAgentId : undefined;
    }
    if (this.#deps.isAsleep === undefined || !this.#usesAffinity(task)) return undefined;
    const bound = this.affinity.get(this.#affinityKey(task));
    if (bound === undefined || !this.#deps.isAsleep(bound)) return undefined;
    const agent = this.#deps.registry.get(bound);
    return agent === undefined || agent.state === "HIBERNATING" || agent.state === "WARMING" || agent.state === "PROVISIONING" ? bound : undefined;
  }

  #isAvailable(agent: Agent): boolean {
    return (
      !this.#stopped &&
      (agent.state === "READY" || agent.state === "IDLE") &&
      // Only an agent whose runtime is running can take work (a restored agent has none yet).
      this.#deps.registry.handle(agent.id) !== undefined &&
      agent.load < agent.cognitiveLoadLimit &&
      // Readiness: an agent that missed a heartbeat, or is suspect, takes no new work.
      agent.health.missed === 0 &&
      agent.health.suspect === null &&
      (agent.crewId === null || this.#deps.crewAcceptsWork(agent.crewId))
    );
  }

  /** Feeds a free agent the oldest highest-priority tasks of the lanes it can serve. */
  #fill(agent: Agent): void {
    const group = this.#group(agent);
    while (this.#isAvailable(agent)) {
      let best: Lane | undefined;
      let bestHead: { task: Task; seq: number } | undefined;
      const own = this.#lanes.get(`agent:${agent.id}`);
      for (const lane of own === undefined ? this.#lanesFor(group) : [own, ...this.#lanesFor(group)]) {
        const head = lane.peek();
        if (head === undefined) continue;
        if (bestHead === undefined || head.task.priority < bestHead.task.priority || (head.task.priority === bestHead.task.priority && head.seq < bestHead.seq)) {
          best = lane;
          bestHead = head;
        }
      }
      if (best === undefined) return;
      const task = best.shift() as Task;
      this.#leaveAffinityWait(task);
      const since = this.#waitingSince.get(task);
      this.#assign(task, agent, since === undefined ? 0 : Date.now() - since);
    }
  }

  #assign(task: Task, agent: Agent, waitedMs: number): void {
    task.attempts++;
    this.#setState(task, "ASSIGNED", `agent ${agent.id}`, { agentId: agent.id, retryAt: null });
    if (this.#usesAffinity(task)) this.affinity.bind(this.#affinityKey(task), agent.id);
    agent.load++;
    this.#deps.onAssigned?.(task, agent, waitedMs);
    if (agent.load >= agent.cognitiveLoadLimit) this.#deps.registry.transition(agent, "BUSY", `at load limit ${agent.cognitiveLoadLimit}`);
    else if (agent.state === "IDLE") this.#deps.registry.transition(agent, "READY", "work arrived");
    else this.#deps.registry.touch(agent);
    void this.#run(task, agent, task.attempts);
  }

  #leaveAffinityWait(task: Task): void {
    const origin = this.#affinityOrigin.get(task);
    if (origin === undefined) return;
    origin.affinityWaiting--;
    this.#affinityOrigin.delete(task);
  }

  /** An agent stopped taking work for now: tasks that wait for it only by affinity go elsewhere. */
  #releaseAffinity(agent: Agent): void {
    const lane = this.#lanes.get(`agent:${agent.id}`);
    if (lane === undefined || lane.size === 0) return;
    this.affinity.forgetAgent(agent.id);
    const addressed = lane.drain().filter((task) => {
      if (task.targetAgentId === agent.id) return true;
      this.#leaveAffinityWait(task);
      this.enqueue(task);
      return false;
    });
    for (const task of addressed) lane.push(task, ++this.#seq);
  }

  /** Tasks waiting in an agent's own lane (addressed to it, or bound to it by affinity). */
  waitingFor(agentId: string): number {
    return this.#lanes.get(`agent:${agentId}`)?.size ?? 0;
  }

  /** A sleeping agent could not be woken: tasks waiting for it go elsewhere (or fail, if addressed to it). */
  releaseAgentLane(agentId: string): void {
    this.#agentGone({ id: agentId });
  }

  /** An agent terminated: tasks waiting for it either follow their affinity elsewhere or fail. */
  #agentGone(agent: Pick<Agent, "id">): void {
    this.affinity.forgetAgent(agent.id);
    const lane = this.#lanes.get(`agent:${agent.id}`);
    if (lane === undefined) return;
    this.#lanes.delete(lane.key);
    for (const task of lane.drain()) {
      this.#leaveAffinityWait(task);
      if (task.targetAgentId === agent.id) {
        this.#finish(task, "FAILED", { error: { code: "AGENT_NOT_FOUND", message: `agent ${agent.id}, which the task was addressed to, terminated` } });
      } else {
        this.enqueue(task);
      }
    }
  }

  // ------------------------------------------------------------------ running

  async #run(task: Task, agent: Agent, attempt: number): Promise<void> {
    const controller = new AbortController();
    const now = Date.now();
    const run: Run = { task, agent, attempt, controller, timer: undefined, concluded: false, heldRetry: undefined, startedAt: now, lastProgressAt: now, stuck: false };
    this.#running.add(run);
    this.#current.set(task.id, run);
    let mine = this.#byAgent.get(agent);
    if (mine === undefined) {
      mine = new Set();
      this.#byAgent.set(agent, mine);
    }
    mine.add(run);
    const handle = this.#deps.registry.handle(agent.id);
    if (handle === undefined) {
      this.#settle(run, { ok: false, error: new FactoryError("AGENT_LOST", `agent ${agent.id} has no running handler`) });
      return;
    }
    this.#setState(task, "RUNNING", `agent ${agent.id}`, { startedAt: new Date().toISOString() });
    if (task.timeoutMs !== null) {
      run.timer = setTimeout(() => {
        const error = new FactoryError("TASK_TIMEOUT", `task ${task.id} ran past its timeout of ${task.timeoutMs} ms`);
        // Decide now: a handler that ignores its signal must not hold the task (it still holds
        // its agent's slot until it returns, which is the truth about that agent).
        this.#conclude(run, { ok: false, error });
        controller.abort(error);
      }, task.timeoutMs);
    }
    let outcome: Outcome;
    try {
      if (this.injectedLatencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.injectedLatencyMs));
      if (run.concluded) throw new FactoryError("TASK_CANCELLED", "decided during injected latency");
      const value = await handle.run(task.input, { task, signal: controller.signal });
      outcome = { ok: true, value: toJson(value) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    this.#settle(run, outcome);
  }

  /** The handler returned (or could not start): record the outcome unless already decided, and free the slot. */
  #settle(run: Run, outcome: Outcome): void {
    if (!this.#running.delete(run)) {
      // Abandoned (shutdown, or its agent was declared dead): whatever it says is discarded.
      if (isResult(outcome)) this.lateResults++;
      return;
    }
    this.#forget(run);
    clearTimeout(run.timer);
    if (run.concluded) {
      if (isResult(outcome)) this.lateResults++;
    } else this.#conclude(run, outcome);
    if (run.stuck && run.agent.health.suspect?.startsWith("stuck") === true && ![...(this.#byAgent.get(run.agent) ?? [])].some((r) => r.stuck)) {
      // The stuck handler returned after all: the agent is trusted with work again.
      run.agent.health.suspect = null;
    }
    if (run.heldRetry !== undefined) this.#startHeldRetry(run);
    this.#release(run.agent);
    this.#wakeIdleWaiters();
  }

  #startHeldRetry(run: Run): void {
    const held = run.heldRetry;
    if (held === undefined) return;
    run.heldRetry = undefined;
    clearTimeout(held.cap);
    // A re-drive holds the task as the factory has it (possibly read back from the store).
    const task = held.task ?? run.task;
    if (task.state !== "QUEUED") return;
    if (held.delayMs > 0) this.#scheduleRetry(task, held.delayMs);
    else this.enqueue(task);
  }

  /**
   * Decides the task's outcome for this attempt: SUCCEEDED; QUEUED again after a backoff;
   * DEAD when the attempts are used up; FAILED when the error says retrying cannot help.
   */
  #conclude(run: Run, outcome: Outcome): void {
    if (run.concluded) return;
    run.concluded = true;
    const { task, agent } = run;
    if (this.#current.get(task.id) === run) this.#current.delete(task.id);
    if (task.state !== "RUNNING" && task.state !== "ASSIGNED") return;
    // Quality counts what the agent can be blamed for: not a task that says retrying cannot help
    // (bad input, an unstorable result) and not a cancel.
    const blameless = !outcome.ok && isFactoryError(outcome.error) && (outcome.error.nonRetryable || outcome.error.code === "TASK_CANCELLED");
    if (!blameless) this.#deps.onOutcome?.(agent, outcome.ok, Date.now() - run.startedAt);
    if (outcome.ok) {
      agent.stats.completed++;
      this.#finish(task, "SUCCEEDED", { result: outcome.value });
      return;
    }
    agent.stats.failed++;
    const error = outcome.error;
    const described = describe(error);
    // An agent lost mid-task (its process died) or stuck is not the task's failure: it goes
    // back to the queue at once, up to at least 3 attempts, so one crash does not dead-letter it.
    const lost = isFactoryError(error) && (error.code === "AGENT_LOST" || error.code === "TASK_STUCK");
    if (isFactoryError(error) && error.nonRetryable) {
      this.#finish(task, "FAILED", { error: described });
    } else if (task.attempts >= (lost ? Math.max(task.maxAttempts, 3) : task.maxAttempts)) {
      this.#finish(task, "DEAD", { error: described });
    } else {
      const delayMs = lost ? 0 : backoffDelayMs(task.retryBackoffMs, task.attempts);
      const retryAt = delayMs > 0 ? new Date(Date.now() + delayMs).toISOString() : null;
      this.#setState(task, "QUEUED", `attempt ${task.attempts} failed: ${described.message}`, { agentId: null, retryAt, error: described });
      if (this.#running.has(run) && !run.stuck) {
        // Timed out while the handler still runs: retry once it returns, so the task never runs
        // twice at once — or after a cap, if it never does (that handler is then on its own).
        const cap = setTimeout(() => this.#startHeldRetry(run), Math.max(delayMs, task.timeoutMs ?? 0, 1_000));
        cap.unref();
        run.heldRetry = { delayMs, cap };
      } else if (delayMs > 0) this.#scheduleRetry(task, delayMs);
      else this.enqueue(task);
    }
  }

  #scheduleRetry(task: Task, delayMs: number): void {
    this.#clearRetry(task.id);
    // Stopped (shutting down): the task keeps its retryAt, and the next start arms it again.
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#retryTimers.delete(task.id);
      if (task.state !== "QUEUED") return;
      task.retryAt = null;
      this.enqueue(task);
    }, delayMs);
    this.#retryTimers.set(task.id, { task, timer });
  }

  #clearRetry(taskId: string): void {
    const entry = this.#retryTimers.get(taskId);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    this.#retryTimers.delete(taskId);
  }

  #wakeIdleWaiters(): void {
    if (this.#running.size > 0 || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #release(agent: Agent): void {
    agent.load--;
    const registry = this.#deps.registry;
    if (agent.state === "BUSY" && agent.load < agent.cognitiveLoadLimit) registry.transition(agent, "READY", "capacity freed");
    else if (agent.state === "DRAINING" && agent.load === 0) registry.transition(agent, "TERMINATED", "drained");
    else if (agent.state !== "TERMINATED") registry.touch(agent);
  }

  #finish(task: Task, state: TaskState, patch: { result?: unknown; error?: TaskError }): void {
    this.#setState(task, state, patch.error?.message ?? "done", { ...patch, retryAt: null, finishedAt: new Date().toISOString() });
    this.#deps.onFinal(task);
  }

  #setState(task: Task, state: TaskState, reason: string, patch: Partial<Task>): void {
    const from = task.state;
    assertTaskTransition(from, state, task.id);
    Object.assign(task, patch);
    if (patch.error === undefined && "error" in patch) delete task.error;
    task.state = state;
    task.updatedAt = new Date().toISOString();
    // The live record: the journal writes whatever state it is in at flush time, which is newer.
    this.#deps.journal.put({ kind: "task", value: task });
    this.#deps.events.emit({
      type: "task.state",
      taskId: task.id,
      ...(task.crewId === null ? {} : { crewId: task.crewId }),
      ...(task.agentId === null ? {} : { agentId: task.agentId }),
      from,
      to: state,
      data: { reason, attempts: task.attempts },
    });
  }
}

/** Whether a handler's late answer is one (a value or its own error), not the echo of the factory aborting it. */
function isResult(outcome: Outcome): boolean {
  return outcome.ok || !(isFactoryError(outcome.error) && ABANDONED.has(outcome.error.code));
}

/** The free agents of some groups, lazily, in the order they became free. */
function* candidatesOf(groups: ReadonlyArray<{ agents: ReadonlySet<Agent> }>): Generator<Agent> {
  for (const group of groups) yield* group.agents;
}

function describe(error: unknown): TaskError {
  if (isFactoryError(error)) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: "TASK_FAILED", message: error.message };
  return { code: "TASK_FAILED", message: String(error) };
}

/**
 * Largest result a task may keep, as JSON: results are stored, listed a page at a time and sent
 * to every waiter, so one agent answering 8 MB a task could make a page of 100 too big to answer.
 */
export const MAX_RESULT_BYTES = 1024 * 1024;

/** Results are stored and sent as JSON; a handler returning something else, or too much, fails the task, not the factory. */
function toJson(value: unknown): unknown {
  if (value === undefined) return null;
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new FactoryError("RESULT_NOT_SERIALIZABLE", `the handler's result is not JSON: ${error instanceof Error ? error.message : String(error)}`, {
      nonRetryable: true,
    });
  }
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_RESULT_BYTES) {
    throw new FactoryError("RESULT_TOO_LARGE", `the handler's result is ${bytes} bytes as JSON, over the limit of ${MAX_RESULT_BYTES}: keep large outputs in the workspace or crew context and return a reference`, {
      nonRetryable: true,
    });
  }
  return JSON.parse(text) as unknown;
}
