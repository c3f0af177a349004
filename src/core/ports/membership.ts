/**
 * Who is in the cluster: each node holds a lease on its id, renews it while it lives, and lets
 * it go when it closes; a node that stops renewing (killed, cut off) loses its lease after
 * `leaseMs`, and `list()` then shows it `alive: false` — the poll result the failover work reads.
 *
 * What every adapter promises (test/conformance/membership.conformance.ts):
 * - `join` takes the id's lease, or fails with NODE_ID_TAKEN while another holder's lease is
 *   live; once that lease is let go (`leave`) or has run out, the id can be joined again.
 * - `renew` extends the lease by `leaseMs` from now and records the report; it answers false
 *   (and changes nothing) when the lease is no longer this holder's: it ran out, or another
 *   node took the id since. Such a holder is not a member any more and must join again.
 * - `list` answers every node that holds or held a lease and has not left, oldest join first:
 *   live ones `alive: true`; a node whose lease ran out stays listed `alive: false` (with the
 *   lease it last had) until its id joins again, or for ten minutes, after which it is forgotten.
 * - Failures to reach the adapter's server are MEMBERSHIP_UNAVAILABLE; callers retry.
 */
export interface Membership {
  /** Takes the lease of `node.id` for `leaseMs`; NODE_ID_TAKEN while a live lease holds it. */
  join(node: NodeJoin, leaseMs: number): Promise<NodeLease>;
  /** Extends a held lease by its `leaseMs` from now with a new report; false: the lease is lost. */
  renew(lease: NodeLease, report: NodeReport): Promise<boolean>;
  /** Lets the lease go and removes the node from the list (nothing if the lease is no longer ours). */
  leave(lease: NodeLease): Promise<void>;
  /** Every node, alive or with its lease run out, oldest join first. */
  list(): Promise<NodeInfo[]>;
  /** Releases the adapter's connections (leases held stay until they run out: `leave` first). */
  close(): Promise<void>;
}

/** What a node says of itself when it joins. */
export interface NodeJoin {
  id: string;
  /** Where its API answers, when it serves one. */
  url: string | null;
  report: NodeReport;
}

/** What a node reports at each renewal: its share of the fleet. */
export interface NodeReport {
  /** Agents it runs now (in memory: not hibernated, not terminated). */
  agents: number;
  /** Tasks its agents run now. */
  load: number;
  /** Tasks its agents could run at once (the sum of their `cognitiveLoadLimit`). */
  capacity: number;
}

/** A held lease: what `renew` and `leave` need to prove the lease is this holder's. */
export interface NodeLease {
  readonly nodeId: string;
  /** Unique per join: a later holder of the same id has another, so a stale holder cannot renew it. */
  readonly token: string;
  readonly startedAt: string;
  readonly leaseMs: number;
}

/** One node as `list` answers it (and `GET /v1/nodes`). */
export interface NodeInfo extends NodeReport {
  id: string;
  /** When it joined (this lease, not an earlier one of the same id). */
  startedAt: string;
  /** Until when its lease holds (as last renewed); in the past for a node that is not alive. */
  leaseUntil: string;
  /** Whether its lease holds now. */
  alive: boolean;
  url: string | null;
}

/**
 * A node id, as `--node-id` and `createFactory({ nodeId })` take it: 1-64 letters, digits, `.`,
 * `_` or `-`, starting with a letter or digit — safe in a Redis key, a file and a log line.
 */
export const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
