import type { Agent } from "../core/agent.ts";
import { FactoryError } from "../core/errors.ts";
import { isWorkingState } from "../core/lifecycle.ts";
import type { LoadBalancer } from "../core/ports/balancer.ts";
import type { BalancerName } from "../core/schemas/profile.ts";
import type { Task } from "../core/task.ts";
import type { AgentRegistry } from "../state/agent-registry.ts";
import type { EventLog } from "../state/event-log.ts";
import type { Journal } from "../state/journal.ts";
import { AffinityTable } from "./affinity-table.ts";
import { FreeAgents } from "./free-agents.ts";
import { Lane, laneKey, targetMatches, type LaneTarget } from "./lane.ts";
import { Runner } from "./runner.ts";
import { TaskTransitions } from "./task-transitions.ts";

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
  onFinal: (task: Task) => void;
  /** A task found no free agent and waits (on-demand spawning listens here). */
  onWaiting?(task: Task, lane: Lane): void;
  /** A task went to an agent after waiting `waitedMs` (for pool metrics). */
  onAssigned?(task: Task, agent: Agent, waitedMs: number): void;
  /** A direct dispatch (a free agent at once) took this long: choosing, assigning, starting, µs. */
  onDispatched?(us: number): void;
  /** An attempt ended with this outcome after `latencyMs` (for quality trends). */
  onOutcome?: (agent: Agent, ok: boolean, latencyMs: number) => void;
  affinity?: { ttlMs: number; maxBindings: number };
  /** Whether an agent an affinity key is bound to is hibernating (not in memory). */
  isAsleep?(agentId: string): boolean;
  /** Wakes a hibernating agent a waiting task is bound to (its tasks wait in its lane meanwhile). */
  wake?(agentId: string): void;
}

/**
 * Matches waiting tasks to free agents. Tasks wait in lanes, one per target (crew, role,
 * profile, capabilities — or one agent); free agents sit in groups, one per crew and profile
 * version. It keeps one invariant: no waiting task matches a free agent. So a new task either
 * goes straight to a free agent (chosen by the load balancer) or waits, and an agent that
 * becomes free takes the oldest highest-priority task of the lanes it can serve. Running the
 * attempt it assigns (timeouts, retries, late results) is its Runner's job, which it builds
 * from the same deps; a task that must run again comes back through `enqueue`.
 */
export class Dispatcher {
  readonly #deps: DispatcherDeps;
  readonly #lanes = new Map<string, Lane>();
  #lanesEpoch = 0;
  readonly #free = new FreeAgents();
  readonly #transitions: TaskTransitions;
  /** Runs the attempts this dispatcher assigns. */
  readonly runner: Runner;
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
  /** Microseconds from enqueue to the handler's start, for tasks handed straight to a free agent (a ring). */
  readonly #dispatchUs = new Float64Array(4096);
  #dispatchCount = 0;

  constructor(deps: DispatcherDeps) {
    this.#deps = deps;
    this.#transitions = new TaskTransitions({ journal: deps.journal, events: deps.events, onFinal: deps.onFinal });
    this.runner = new Runner({ registry: deps.registry, transitions: this.#transitions, matching: this, ...(deps.onOutcome === undefined ? {} : { onOutcome: deps.onOutcome }) });
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
    let n = this.runner.retrying;
    for (const lane of this.#lanes.values()) n += lane.size;
    return n;
  }

  /** Attempts whose handler has not returned. */
  get running(): number {
    return this.runner.running;
  }

  /** Results that arrived for an attempt that was no longer current; discarded (the Runner counts them). */
  get lateResults(): number {
    return this.runner.lateResults;
  }

  get availableAgents(): number {
    return this.#free.count;
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
    const free = this.#isAvailable(agent);
    this.#free.set(agent, free);
    if (!free) return;
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
    if (!this.#reserved.delete(task)) return;
    const lane = this.#lanes.get(laneKey(this.#targetOf(task)));
    if (lane !== undefined) lane.reserved--;
  }

  /** Hands a QUEUED task to an agent now, or lets it wait. */
  enqueue(task: Task): void {
    this.unreserve(task);
    const addressed = task.targetAgentId === null ? undefined : this.#deps.registry.get(task.targetAgentId);
    if (task.targetAgentId !== null && (addressed?.state === "TERMINATED" || (addressed === undefined && this.#deps.wake === undefined))) {
      this.#transitions.finish(task, "FAILED", { error: { code: "AGENT_NOT_FOUND", message: `agent ${task.targetAgentId}, which the task was addressed to, is gone` } });
      return;
    }
    if (task.retryAt !== null && Date.parse(task.retryAt) > Date.now()) {
      this.runner.retryLater(task, Date.parse(task.retryAt) - Date.now());
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
        const us = (performance.now() - started) * 1000;
        this.#dispatchUs[this.#dispatchCount++ % this.#dispatchUs.length] = us;
        this.#deps.onDispatched?.(us);
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
    if (task.state === "QUEUED" && this.#lanes.get(laneKey(this.#targetOf(task)))?.remove(task.id) === undefined) {
      for (const lane of this.#lanes.values()) if (lane.target.agentId !== null && lane.remove(task.id) !== undefined) break;
      this.#leaveAffinityWait(task);
    }
    this.runner.cancel(task, reason);
  }

  /** Puts a dead-lettered task back in the queue with a fresh set of attempts. */
  redrive(task: Task): void {
    this.runner.redrive(task);
  }

  /** Stops handing out work (at shutdown); waiting tasks stay QUEUED. */
  stop(): void {
    this.#stopped = true;
    this.#free.clear();
    this.runner.stop();
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
    if (this.#free.count === 0) return undefined;
    const lane = this.#lane(this.#targetOf(task));
    const name = task.balancer ?? this.#deps.defaultBalancer(lane.target);
    const balancer = this.#deps.balancers.get(name === "affinity" ? "least-loaded" : name) as LoadBalancer;
    const { agents, recent } = this.#free.candidates(lane);
    return balancer.pick(agents, task, { laneKey: lane.key, recent });
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
    const group = this.#free.groupOf(agent);
    while (this.#isAvailable(agent)) {
      let best: Lane | undefined;
      let bestHead: { task: Task; seq: number } | undefined;
      const own = this.#lanes.get(`agent:${agent.id}`);
      const served = this.#free.lanesFor(group, this.#lanes, this.#lanesEpoch);
      for (const lane of own === undefined ? served : [own, ...served]) {
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
    this.#transitions.move(task, "ASSIGNED", `agent ${agent.id}`, { agentId: agent.id, retryAt: null });
    if (this.#usesAffinity(task)) this.affinity.bind(this.#affinityKey(task), agent.id);
    this.#deps.onAssigned?.(task, agent, waitedMs);
    // The runner takes the agent's slot (BUSY at its limit) at once: the caller's loop sees it full.
    this.runner.start(task, agent);
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
        this.#transitions.finish(task, "FAILED", { error: { code: "AGENT_NOT_FOUND", message: `agent ${agent.id}, which the task was addressed to, terminated` } });
      } else {
        this.enqueue(task);
      }
    }
  }
}
