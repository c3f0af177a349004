import { randomBytes } from "node:crypto";
import type { Membership, NodeInfo, NodeJoin, NodeLease, NodeReport } from "../../../core/ports/membership.ts";
import { nodeIdTaken } from "../node-id-taken.ts";

interface Held {
  token: string;
  startedAt: string;
  leaseUntilMs: number;
  url: string | null;
  report: NodeReport;
}

/**
 * Membership in this process's memory: the single-node default (the node lists itself), and the
 * reference the Redis adapter is measured against — several factories in one process may share
 * one instance and see each other, with the same leases, refusals and expiry. Time is the
 * process's clock; nothing survives the process, which is all a lease needs.
 */
/** A dead node stays listed (alive: false) this long after its lease ran out, then is forgotten. */
const FORGET_AFTER_MS = 10 * 60_000;

export class MemoryMembership implements Membership {
  /** By id, in join order (a Map keeps insertion order; a re-join deletes first so it moves last). */
  readonly #nodes = new Map<string, Held>();

  async join(node: NodeJoin, leaseMs: number): Promise<NodeLease> {
    const now = Date.now();
    const held = this.#nodes.get(node.id);
    if (held !== undefined && held.leaseUntilMs > now) throw nodeIdTaken(node.id, held.startedAt);
    const lease: NodeLease = { nodeId: node.id, token: randomBytes(16).toString("hex"), startedAt: new Date(now).toISOString(), leaseMs };
    this.#nodes.delete(node.id);
    this.#nodes.set(node.id, { token: lease.token, startedAt: lease.startedAt, leaseUntilMs: now + leaseMs, url: node.url, report: { ...node.report } });
    return lease;
  }

  async renew(lease: NodeLease, report: NodeReport): Promise<boolean> {
    const now = Date.now();
    const held = this.#nodes.get(lease.nodeId);
    if (held === undefined || held.token !== lease.token || held.leaseUntilMs <= now) return false;
    held.leaseUntilMs = now + lease.leaseMs;
    held.report = { ...report };
    return true;
  }

  async leave(lease: NodeLease): Promise<void> {
    if (this.#nodes.get(lease.nodeId)?.token === lease.token) this.#nodes.delete(lease.nodeId);
  }

  async list(): Promise<NodeInfo[]> {
    const now = Date.now();
    // Long dead: forgotten, as the Redis membership forgets them.
    for (const [id, held] of this.#nodes) if (now - held.leaseUntilMs > FORGET_AFTER_MS) this.#nodes.delete(id);
    return [...this.#nodes].map(([id, held]) => ({
      id,
      startedAt: held.startedAt,
      leaseUntil: new Date(held.leaseUntilMs).toISOString(),
      alive: held.leaseUntilMs > now,
      ...held.report,
      url: held.url,
    }));
  }

  async close(): Promise<void> {}
}
