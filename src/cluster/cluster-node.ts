import type { Agent } from "../core/agent.ts";
import { isFactoryError } from "../core/errors.ts";
import { Hook } from "../core/hook.ts";
import type { Logger } from "../core/ports/logger.ts";
import type { Membership, NodeInfo, NodeLease, NodeReport } from "../core/ports/membership.ts";

/**
 * Where this node stands in its cluster:
 * - `new`: not joined yet (the factory has not started);
 * - `member`: it holds its lease and renews it;
 * - `lapsed`: it could not renew before its lease ran out (the membership's server was away, or
 *   another node took its id after the lease expired). Others may already count it dead and take
 *   its agents over, so it must not claim new work; it keeps trying to join again and is a
 *   `member` once it has (what it must give up first is the failover's to decide);
 * - `fenced`: another node took its agents and tasks over (its lease had run out) and the store
 *   refuses its writes; it stops renewing and must be restarted to join again as a new life;
 * - `left`: it let its lease go (the factory closed).
 */
export type NodeState = "new" | "member" | "lapsed" | "fenced" | "left";

export interface ClusterNodeDeps {
  /** This node's id (validated by the factory's options). */
  id: string;
  /** Where its API answers, when known. */
  url: string | null;
  membership: Membership;
  /** The agents this node runs: what it reports at each renewal. */
  agents: { values(): Iterable<Agent>; readonly size: number };
  /** How long a lease holds without renewal. */
  leaseMs: number;
  /** How often it is renewed (and the other nodes' leases looked at). */
  renewMs: number;
  logger: Logger;
  /**
   * Why this node may no longer take part (another node took its agents over while it was
   * lapsed), or undefined while it may: asked each round while lapsed, before it joins again.
   */
  fenceLost?: () => Promise<string | undefined>;
}

/**
 * This factory as a node of its cluster: joins at start (refusing to start when a live node holds
 * its id), renews its lease every `renewMs` with its agents and load, notices leases of others
 * that ran out, and leaves at close.
 */
export class ClusterNode {
  readonly #deps: ClusterNodeDeps;
  #state: NodeState = "new";
  #lease: NodeLease | undefined;
  /** When the lease last held for sure (join or successful renewal) plus leaseMs: past it, this node has lapsed. */
  #holdsUntil = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The round under way, so `leave` waits for it instead of racing it. */
  #round: Promise<void> | undefined;
  /** A renewal failure is logged once per outage, not every period. */
  #failing = false;
  /** Dead nodes already reported (`id@startedAt`), so each expiry is told once. */
  readonly #reported = new Set<string>();
  /**
   * Until when this node reports no expiry: one lease after it (re)joined, or after it last failed
   * to reach the membership. An outage it saw may have kept others from renewing too; they get a
   * lease's time to join again before anyone takes them for dead.
   */
  #calmUntil = 0;

  /** Notifications for the services above (the failover work listens to `expired`). */
  readonly hooks = {
    /** This node's state changed, and why. */
    state: new Hook<[state: NodeState, reason: string]>(),
    /** Another node's lease ran out (seen within `leaseMs` + `renewMs` of its last renewal). */
    expired: new Hook<[node: NodeInfo]>(),
  };

  constructor(deps: ClusterNodeDeps) {
    this.#deps = deps;
  }

  get id(): string {
    return this.#deps.id;
  }

  /** When this life of the node joined (its lease's `startedAt`); undefined before it has. */
  get startedAt(): string | undefined {
    return this.#lease?.startedAt;
  }

  get state(): NodeState {
    // Past its lease the others already count it gone: say so before the round that records it.
    if (this.#state === "member" && Date.now() >= this.#holdsUntil) return "lapsed";
    return this.#state;
  }

  /** Joins the cluster (NODE_ID_TAKEN while a live node holds this id) and starts renewing. */
  async join(): Promise<void> {
    if (this.#state !== "new") return;
    await this.#join();
    this.#set("member", "joined");
    this.#schedule();
  }

  /** Every node of the cluster, this one included, oldest join first. */
  async list(): Promise<NodeInfo[]> {
    return this.#deps.membership.list();
  }

  /** What this node reports: its agents, the tasks they run, the tasks they could run. */
  report(): NodeReport {
    let load = 0;
    let capacity = 0;
    for (const agent of this.#deps.agents.values()) {
      load += agent.load;
      if (agent.state !== "TERMINATED") capacity += agent.cognitiveLoadLimit;
    }
    return { agents: this.#deps.agents.size, load, capacity };
  }

  /** Stops renewing and lets the lease go, so the id is free at once (not after `leaseMs`). */
  async leave(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const wasIn = this.#state === "member" || this.#state === "lapsed";
    this.#state = "left";
    await this.#round;
    const lease = this.#lease;
    this.#lease = undefined;
    if (lease === undefined || !wasIn) return;
    try {
      await this.#deps.membership.leave(lease);
    } catch (error) {
      // The lease runs out by itself within leaseMs; the id is free then.
      this.#deps.logger.warn(`node ${this.id}: could not let its lease go (it runs out within ${this.#deps.leaseMs} ms): ${message(error)}`);
    }
    this.hooks.state.emit("left", "factory closed");
  }

  async #join(): Promise<void> {
    this.#lease = await this.#deps.membership.join({ id: this.id, url: this.#deps.url, report: this.report() }, this.#deps.leaseMs);
    this.#holdsUntil = Date.now() + this.#deps.leaseMs;
    this.#calmUntil = Date.now() + this.#deps.leaseMs;
  }

  /**
   * The store refused this node's writes because another node took its agents and tasks over:
   * it stops renewing and lets its lease go, so it takes no part in the cluster until restarted.
   */
  async fence(reason: string): Promise<void> {
    if (this.#state === "fenced" || this.#state === "left") return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#deps.logger.error(`node ${this.id} is fenced: ${reason}; it takes no more work and must be restarted to join again`);
    this.#set("fenced", reason);
    await this.#round;
    const lease = this.#lease;
    this.#lease = undefined;
    if (lease !== undefined) await this.#deps.membership.leave(lease).catch(() => {});
  }

  #schedule(): void {
    if (this.#state === "left" || this.#state === "fenced") return;
    this.#timer = setTimeout(() => {
      this.#round = this.#renewRound()
        // A listener that throws must not become an unhandled rejection (which ends the process).
        .catch((error: unknown) => this.#deps.logger.error(`node ${this.id}: a renewal round failed`, error))
        .finally(() => {
        this.#round = undefined;
        this.#schedule();
      });
    }, this.#deps.renewMs);
    // The server's socket keeps a serving process alive; a library user's script may end.
    this.#timer.unref();
  }

  /** One period: renew (or join again when lapsed), then look at the other nodes' leases. */
  async #renewRound(): Promise<void> {
    const { membership, logger } = this.#deps;
    const started = Date.now();
    try {
      if (this.#state === "lapsed") {
        // Others may have taken its agents over meanwhile: then it must not come back as it was.
        const lost = await this.#deps.fenceLost?.().catch(() => undefined);
        if (lost !== undefined) {
          void this.fence(lost); // it waits for this round to end
          return;
        }
        await this.#join();
        this.#set("member", "joined again after its lease had run out");
      } else if (this.#lease !== undefined) {
        if (await membership.renew(this.#lease, this.report())) this.#holdsUntil = started + this.#deps.leaseMs;
        else this.#lapse("its lease ran out before it was renewed, or another node took its id");
      }
      if (this.#failing) logger.info(`node ${this.id}: the membership answers again`);
      this.#failing = false;
    } catch (error) {
      this.#calmUntil = Date.now() + this.#deps.leaseMs;
      if (this.#state === "lapsed" && isFactoryError(error) && error.code === "NODE_ID_TAKEN") {
        // Another node runs under our id now; keep trying, quietly (it was said when we lapsed).
      } else if (!this.#failing) {
        this.#failing = true;
        logger.error(`node ${this.id}: renewing its lease failed; retrying every ${this.#deps.renewMs} ms`, error);
      }
      if (this.#state === "member" && Date.now() >= this.#holdsUntil) this.#lapse(`no renewal succeeded for ${this.#deps.leaseMs} ms`);
    }
    if (this.#state !== "member") return;
    try {
      this.#noticeExpired(await membership.list());
    } catch {
      // Said above when the membership is away; the next round looks again, after a calm.
      this.#calmUntil = Date.now() + this.#deps.leaseMs;
    }
  }

  #lapse(reason: string): void {
    if (this.#state !== "member") return;
    this.#deps.logger.error(`node ${this.id} lapsed: ${reason}; /ready answers 503 node-lapsed until it has joined again`);
    this.#set("lapsed", reason);
  }

  #noticeExpired(nodes: readonly NodeInfo[]): void {
    // Just (re)joined, or just failed to reach the membership: its server may have been away
    // from every node (a Redis restart or a cut), and the others have not had a round to join
    // again yet. Taking them for dead now would take over live nodes; one lease later, the dead
    // are still dead.
    if (Date.now() < this.#calmUntil) return;
    const listed = new Set<string>();
    for (const node of nodes) {
      if (node.alive || node.id === this.id) continue;
      const key = `${node.id}@${node.startedAt}`;
      listed.add(key);
      if (this.#reported.has(key)) continue;
      this.#reported.add(key);
      this.hooks.expired.emit(node);
    }
    // Forget what the list no longer shows (the id joined again, or left): the set stays small.
    for (const key of this.#reported) if (!listed.has(key)) this.#reported.delete(key);
  }

  #set(state: NodeState, reason: string): void {
    if (this.#state === "left" || (this.#state === "fenced" && state !== "left")) return;
    this.#state = state;
    this.hooks.state.emit(state, reason);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
