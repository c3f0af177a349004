import { connectWithin, quitWithin, reconnectBackoff } from "../../redis/redis-connections.ts";
import { requireKnownOptions } from "../../../core/known-options.ts";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { FactoryError } from "../../../core/errors.ts";
import type { Membership, NodeInfo, NodeJoin, NodeLease, NodeReport } from "../../../core/ports/membership.ts";
import { redisTarget } from "../../../core/redis-target.ts";
import { nodeIdTaken } from "../node-id-taken.ts";
import type { RedisMembershipOptions } from "./redis-membership-options.ts";

/**
 * Node leases on Redis (through `ioredis`, loaded only by a factory that asks for them).
 *
 * Why Redis and not a PostgreSQL `nodes` table: a lease is exactly what DESIGN.md puts in Redis
 * — state that may be lost and is re-derived (every live node writes its lease again within one
 * renewal period) — and Redis expires it by itself: `SET key token NX PX leaseMs` is the whole
 * "take the id unless a live holder has it", with no clock comparison of ours, no vacuum of
 * dead rows, and a renewal costing one round trip instead of a write-ahead-logged UPDATE per node
 * per second in the database that holds what must not be lost.
 *
 * Keys, per cluster (and database index) so clusters on one Redis never see each other:
 * - `af:<cluster>:lease:<id>` — the lease: the joiner's token, expiring after `leaseMs` unless renewed;
 * - `af:<cluster>:nodes` — a hash, id → the node's last report (JSON, with its token): what
 *   `list` shows, kept after a lease runs out so the node is listed `alive: false` until its id
 *   joins again (that is how survivors learn of it).
 * Join, renew and leave are Lua scripts: each checks the lease's token and writes both keys in
 * one step, so a stale holder can never renew or remove the lease of the node that took its id.
 */
class RedisMembership implements Membership {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #shown: string;
  #closed = false;

  constructor(parts: { redis: Redis; prefix: string; shown: string; onError: (error: Error) => void }) {
    this.#redis = parts.redis;
    this.#prefix = parts.prefix;
    this.#shown = parts.shown;
    this.#redis.on("error", (error: Error) => {
      if (!this.#closed) parts.onError(unavailable(`the membership's Redis at ${this.#shown}`, error));
    });
  }

  async join(node: NodeJoin, leaseMs: number): Promise<NodeLease> {
    const now = Date.now();
    const lease: NodeLease = { nodeId: node.id, token: randomBytes(16).toString("hex"), startedAt: new Date(now).toISOString(), leaseMs };
    const taken = await this.#run("joining", () =>
      this.#redis.eval(JOIN, 2, this.#leaseKey(node.id), this.#nodesKey(), lease.token, String(leaseMs), node.id, record(lease, now, node.url, node.report)),
    );
    if (taken === 1) return lease;
    // Someone holds it: say since when, as far as its record tells (it may have just expired).
    const holder = parseRecord(await this.#run("joining", () => this.#redis.hget(this.#nodesKey(), node.id)));
    throw nodeIdTaken(node.id, holder?.startedAt ?? "at an unknown time");
  }

  async renew(lease: NodeLease, report: NodeReport): Promise<boolean> {
    const leaseUntil = new Date(Date.now() + lease.leaseMs).toISOString();
    const renewed = await this.#run("renewing", () =>
      this.#redis.eval(RENEW, 2, this.#leaseKey(lease.nodeId), this.#nodesKey(), lease.token, String(lease.leaseMs), lease.nodeId, leaseUntil, report.agents, report.load, report.capacity),
    );
    return renewed === 1;
  }

  async leave(lease: NodeLease): Promise<void> {
    await this.#run("leaving", () => this.#redis.eval(LEAVE, 2, this.#leaseKey(lease.nodeId), this.#nodesKey(), lease.token, lease.nodeId));
  }

  async list(): Promise<NodeInfo[]> {
    const all = await this.#run("listing nodes", () => this.#redis.hgetall(this.#nodesKey()));
    const ids = Object.keys(all);
    if (ids.length === 0) return [];
    // Each lease's holder and time left, in one round trip; PTTL is Redis's own clock, so a
    // node is alive exactly while its key is, whatever our clocks say.
    const pipeline = this.#redis.pipeline();
    for (const id of ids) pipeline.get(this.#leaseKey(id)).pttl(this.#leaseKey(id));
    const answers = (await this.#run("listing nodes", () => pipeline.exec())) ?? [];
    const now = Date.now();
    const nodes: NodeInfo[] = [];
    const forget: string[] = [];
    ids.forEach((id, i) => {
      const stored = parseRecord(all[id]);
      if (stored === undefined) return;
      const holder = answers[2 * i]?.[1];
      const ttl = Number(answers[2 * i + 1]?.[1] ?? -2);
      const alive = holder === stored.token && ttl > 0;
      if (!alive && now - Date.parse(stored.leaseUntil) > FORGET_AFTER_MS) {
        forget.push(id);
        return;
      }
      nodes.push({
        id,
        startedAt: stored.startedAt,
        leaseUntil: alive ? new Date(now + ttl).toISOString() : stored.leaseUntil,
        alive,
        agents: stored.agents,
        load: stored.load,
        capacity: stored.capacity,
        url: stored.url,
      });
    });
    // Long dead: its record goes (unless the id joined again meanwhile: only the record seen is deleted).
    for (const id of forget) void this.#redis.eval(FORGET, 1, this.#nodesKey(), id, all[id] as string).catch(() => {});
    return nodes.sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.id < b.id ? -1 : 1));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#redis.status !== "ready") {
      this.#redis.disconnect();
      return;
    }
    await quitWithin(this.#redis);
  }

  #leaseKey(id: string): string {
    return `${this.#prefix}lease:${id}`;
  }

  #nodesKey(): string {
    return `${this.#prefix}nodes`;
  }

  /** One command; a failure to reach Redis becomes MEMBERSHIP_UNAVAILABLE naming the URL, as every adapter's does. */
  async #run<T>(what: string, command: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new FactoryError("MEMBERSHIP_UNAVAILABLE", `${what}: the membership at ${this.#shown} is closed`);
    try {
      return await command();
    } catch (error) {
      throw unavailable(`${what} on the membership's Redis at ${this.#shown} failed`, error);
    }
  }
}

/** What the hash keeps per node. */
interface StoredNode extends NodeReport {
  token: string;
  startedAt: string;
  leaseUntil: string;
  url: string | null;
}

function record(lease: NodeLease, now: number, url: string | null, report: NodeReport): string {
  const stored: StoredNode = {
    token: lease.token,
    startedAt: lease.startedAt,
    leaseUntil: new Date(now + lease.leaseMs).toISOString(),
    url,
    agents: report.agents,
    load: report.load,
    capacity: report.capacity,
  };
  return JSON.stringify(stored);
}

function parseRecord(raw: string | null | undefined): StoredNode | undefined {
  if (raw == null) return undefined;
  try {
    const value = JSON.parse(raw) as StoredNode;
    return typeof value.token === "string" && typeof value.startedAt === "string" ? value : undefined;
  } catch {
    // Not ours (something else wrote into our hash): not a node.
    return undefined;
  }
}

// KEYS[1] the lease, KEYS[2] the nodes hash. ARGV: token, leaseMs, id, record.
/** Takes the lease only if nobody holds it (NX), and records the node. */
const JOIN = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
  return 1
end
return 0`;
/**
 * Extends the lease only while it is this token's (not run out, not taken by another since), and
 * updates the record's report in place (ARGV after the id: leaseUntil, agents, load, capacity).
 */
const RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local raw = redis.call('HGET', KEYS[2], ARGV[3])
if raw then
  local stored = cjson.decode(raw)
  stored.leaseUntil = ARGV[4]
  stored.agents = tonumber(ARGV[5])
  stored.load = tonumber(ARGV[6])
  stored.capacity = tonumber(ARGV[7])
  redis.call('HSET', KEYS[2], ARGV[3], cjson.encode(stored))
end
return 1`;
// ARGV: token, id.
/** Removes the lease and the record only if they are this token's: a stale holder must not remove its successor. */
const LEAVE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
local stored = redis.call('HGET', KEYS[2], ARGV[2])
if stored and cjson.decode(stored).token == ARGV[1] then
  redis.call('HDEL', KEYS[2], ARGV[2])
end
return 1`;


/**
 * Connects to Redis and returns the membership, or fails with VALIDATION_FAILED (a URL or
 * cluster name that cannot be right) or MEMBERSHIP_UNAVAILABLE (Redis cannot be reached or
 * refuses us), naming the URL with its password hidden.
 */
/** A dead node stays listed (alive: false) this long after its lease ran out, then is forgotten. */
const FORGET_AFTER_MS = 10 * 60_000;
/** Deletes a node's record only if it is still the one read (a node that joined again keeps its new one). */
const FORGET = `if redis.call('hget', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('hdel', KEYS[1], ARGV[1]) end return 0`;

export async function createRedisMembership(options: RedisMembershipOptions): Promise<Membership> {
  requireKnownOptions(options, ["url", "cluster", "connectTimeoutMs", "commandTimeoutMs", "onError"], "Redis membership");
  const { shown, cluster } = redisTarget(options.url, options.cluster);
  const waitMs = options.connectTimeoutMs ?? 5000;
  let started = false;
  const redis = new Redis(options.url, {
    lazyConnect: true,
    connectTimeout: waitMs,
    connectionName: `af:${cluster}:membership`,
    retryStrategy: reconnectBackoff(() => started),
    // While Redis is away a renewal fails at once and is retried next period, never queued: a
    // queued renewal sent late would extend a lease the node no longer knows it holds.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 1000,
  });
  try {
    await connectWithin([redis], waitMs);
  } catch (error) {
    throw unavailable(`cannot reach the membership's Redis at ${shown}`, error);
  }
  started = true;
  return new RedisMembership({ redis, prefix: `af:${cluster}:`, shown, onError: options.onError ?? ((error) => console.error(`redis membership: ${error.message}`)) });
}

function unavailable(what: string, cause: unknown): FactoryError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new FactoryError("MEMBERSHIP_UNAVAILABLE", `${what}: ${reason}`, { cause });
}
