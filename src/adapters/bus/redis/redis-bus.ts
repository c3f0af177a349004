import { connectWithin, quitWithin, reconnectBackoff } from "../../redis/redis-connections.ts";
import { requireKnownOptions } from "../../../core/known-options.ts";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { FactoryError } from "../../../core/errors.ts";
import type { Unsubscribe } from "../../../core/ports/bus.ts";
import { redisTarget } from "../../../core/redis-target.ts";
import type { RedisBus, RedisBusOptions } from "./redis-bus-options.ts";

/**
 * The bus across nodes, on Redis pub/sub (through `ioredis`, which only the factory that asks
 * for this bus loads).
 *
 * Why pub/sub and not Streams: the bus is at-most-once by contract (port `Bus`), and pub/sub is
 * exactly that — a message reaches the subscribers connected now, keeps nothing, needs no
 * trimming, acknowledging or consumer groups, and costs one PUBLISH. Streams would keep every
 * event and crew message in Redis (memory to trim) and bring redelivery we must not promise;
 * what must survive is in the store already (events, crew messages). Streams' consumer groups
 * are a candidate for the task queue, where at-least-once is the point; they are weighed there.
 *
 * One connection publishes, one subscribes (a subscribed connection takes no other commands).
 * Channels are `af:<cluster>:<db>:<channel>`: the cluster keeps clusters on one Redis apart,
 * and the database index is in the name because Redis pub/sub ignores database indexes — a
 * PUBLISH on db 5 reaches a subscriber connected to db 0.
 *
 * Subscribers on this node get this node's messages through a local fast path, synchronously
 * during `publish` as with the memory bus, and each message carries this bus's origin id so the
 * copy that comes back from Redis is dropped rather than delivered twice. Measured (bench/bus.ts,
 * local Redis, 2 shared cores): the fast path delivers in 1.5-2.5 µs at p50, the Redis round
 * trip takes 50-125 µs unloaded and 4-23 ms at p50 in a burst of 20,000; and callers were written
 * for the memory bus's synchronous delivery (a listener added, then an action, then a check).
 */
class RedisPubSubBus implements RedisBus {
  readonly #pub: Redis;
  readonly #sub: Redis;
  readonly #prefix: string;
  readonly #origin: string;
  readonly #url: string;
  readonly #onError: (error: Error) => void;
  readonly #onHandlerError: (error: unknown, channel: string) => void;
  readonly #channels = new Map<string, Set<(message: unknown) => void>>();
  readonly #pending = new Set<Promise<unknown>>();
  /** Messages (JSON text) published this tick, per channel, in publish order: sent as one PUBLISH per channel. */
  readonly #outbox = new Map<string, string[]>();
  #flushScheduled = false;
  #closed = false;
  #publishFailing = false;
  #published = 0;
  #received = 0;
  #dropped = 0;

  /** Takes two connected clients; `createRedisBus` makes them. */
  constructor(parts: { pub: Redis; sub: Redis; prefix: string; origin: string; url: string } & Pick<RedisBusOptions, "onError" | "onHandlerError">) {
    this.#pub = parts.pub;
    this.#sub = parts.sub;
    this.#prefix = parts.prefix;
    this.#origin = parts.origin;
    this.#url = parts.url;
    this.#onError = parts.onError ?? ((error) => console.error(`redis bus: ${error.message}`));
    this.#onHandlerError = parts.onHandlerError ?? ((error, channel) => console.error(`bus handler on ${channel} failed:`, error));
    this.#sub.on("message", (channel: string, raw: string) => this.#fromRedis(channel, raw));
    for (const client of [this.#pub, this.#sub]) {
      // Lost connections and refused reconnects while open; after close nobody is listening.
      client.on("error", (error: Error) => {
        if (!this.#closed) this.#onError(busError(`the Redis bus at ${this.#url}`, error));
      });
    }
  }

  get id(): string {
    return this.#origin;
  }

  publish(channel: string, message: unknown): void {
    if (this.#closed) return;
    const json = JSON.stringify(message) as string | undefined;
    if (json === undefined) throw new TypeError(`bus message on ${channel} is not a JSON value (${typeof message})`);
    this.#published++;
    // Into the channel's batch first, then to local handlers: a handler that publishes in turn
    // must not get its message to other nodes ahead of the one it is handling.
    let batch = this.#outbox.get(channel);
    if (batch === undefined) {
      batch = [];
      this.#outbox.set(channel, batch);
    }
    batch.push(json);
    if (batch.length >= MAX_BATCH) this.#send(channel, this.#take(channel));
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(() => this.#flush());
    }
    const handlers = this.#channels.get(channel);
    if (handlers !== undefined) this.#deliver(channel, handlers, JSON.parse(json));
  }

  subscribe(channel: string, handler: (message: unknown) => void): Unsubscribe {
    if (this.#closed) return () => {};
    let handlers = this.#channels.get(channel);
    if (handlers === undefined) {
      handlers = new Set();
      this.#channels.set(channel, handlers);
      // ioredis remembers it and subscribes again after a reconnect (autoResubscribe).
      this.#track(this.#sub.subscribe(this.#prefix + channel));
    }
    // Wrap so the same function may subscribe twice and unsubscribe each independently.
    const entry = (message: unknown): void => handler(message);
    handlers.add(entry);
    return () => {
      const set = this.#channels.get(channel);
      if (set === undefined || !set.delete(entry) || set.size > 0) return;
      this.#channels.delete(channel);
      if (!this.#closed) this.#track(this.#sub.unsubscribe(this.#prefix + channel));
    };
  }

  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  stats(): { published: number; received: number; dropped: number } {
    return { published: this.#published, received: this.#received, dropped: this.#dropped };
  }

  /** Sends what was published, then closes both connections; later publishes are dropped. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    this.#channels.clear();
    // QUIT skips ioredis's auto-pipeline and would overtake the PUBLISHes still queued there
    // (they would then hit a closed socket); a PING goes through the pipeline behind them.
    if (this.#pub.status === "ready") await this.#pub.ping().catch(() => {});
    await Promise.all([quitWithin(this.#pub), quitWithin(this.#sub)]);
  }

  /**
   * Sends this tick's batches. One PUBLISH per channel per tick rather than per message: events
   * come in bursts (a spawn emits three), and each command costs both this node and Redis far
   * more than the bytes do: 3,000 spawns (9,001 events) took 202-422 ms with a PUBLISH each,
   * against 79 ms on the memory bus; batched, they take as long as on the memory bus
   * (bench/bus.ts --case spawn).
   */
  #flush(): void {
    this.#flushScheduled = false;
    for (const channel of [...this.#outbox.keys()]) this.#send(channel, this.#take(channel));
  }

  #take(channel: string): string[] {
    const batch = this.#outbox.get(channel) ?? [];
    this.#outbox.delete(channel);
    return batch;
  }

  /** One PUBLISH of a batch: the origin id, then the messages as one JSON array. */
  #send(channel: string, batch: string[]): void {
    if (batch.length === 0) return;
    this.#pub.publish(this.#prefix + channel, `${this.#origin}[${batch.join(",")}]`).then(
      () => {
        this.#publishFailing = false;
      },
      (error: unknown) => {
        this.#dropped += batch.length;
        // Once per outage, not once per message: under load that would be thousands of lines.
        if (this.#publishFailing || this.#closed) return;
        this.#publishFailing = true;
        this.#onError(busError(`publishing to the Redis bus at ${this.#url} failed; messages are dropped until it is back`, error));
      },
    );
  }

  #fromRedis(channel: string, raw: string): void {
    // Our own message: the local fast path delivered it already.
    if (this.#closed || raw.startsWith(this.#origin)) return;
    const local = channel.slice(this.#prefix.length);
    const handlers = this.#channels.get(local);
    if (handlers === undefined) return;
    let batch: unknown;
    try {
      batch = JSON.parse(raw.slice(ORIGIN_LENGTH));
    } catch {
      batch = undefined;
    }
    if (!Array.isArray(batch)) {
      // Something else published on our channel; not ours to deliver.
      this.#onError(new FactoryError("BUS_UNAVAILABLE", `a message on ${channel} is not one of ours; dropped`));
      return;
    }
    this.#received += batch.length;
    for (const message of batch) {
      // A handler may close the bus in the middle of a batch.
      if (this.#closed) return;
      this.#deliver(local, handlers, message);
    }
  }

  #deliver(channel: string, handlers: Set<(message: unknown) => void>, message: unknown): void {
    // A Set tolerates handlers unsubscribing while it is iterated.
    for (const handler of handlers) {
      try {
        handler(message);
      } catch (error) {
        this.#onHandlerError(error, channel);
      }
    }
  }

  #track(command: Promise<unknown>): void {
    const tracked = command.then(
      () => undefined,
      (error: unknown) => {
        if (!this.#closed) this.#onError(busError(`a subscription change on the Redis bus at ${this.#url} failed`, error));
      },
    );
    this.#pending.add(tracked);
    void tracked.finally(() => this.#pending.delete(tracked));
  }
}

const ORIGIN_LENGTH = 16;
/** At most this many messages in one PUBLISH: a burst goes out in pieces rather than as one huge message. */
const MAX_BATCH = 512;

/**
 * Connects to Redis and returns a ready bus, or fails with VALIDATION_FAILED (a URL or cluster
 * name that cannot be right) or BUS_UNAVAILABLE (Redis cannot be reached or refuses us), the
 * message naming the URL with its password hidden.
 */
export async function createRedisBus(options: RedisBusOptions): Promise<RedisBus> {
  requireKnownOptions(options, ["url", "cluster", "onError", "onHandlerError", "connectTimeoutMs"], "Redis bus");
  const { shown, cluster, db } = redisTarget(options.url, options.cluster);
  const origin = randomBytes(ORIGIN_LENGTH / 2).toString("hex");
  const waitMs = options.connectTimeoutMs ?? 5000;
  let started = false;
  const connect = (role: "pub" | "sub"): Redis =>
    new Redis(options.url, {
      lazyConnect: true,
      connectTimeout: waitMs,
      // Named so an operator (and our reconnect test) can find this bus's connections in CLIENT LIST.
      connectionName: `af:${cluster}:bus:${origin}:${role}`,
      retryStrategy: reconnectBackoff(() => started),
      ...(role === "pub"
        ? // While Redis is away a publish is dropped (at-most-once), never queued without bound,
          // and one in flight when the connection drops is not sent again (it may have arrived).
          // A Redis that stops answering without closing (a partition) fails a publish after 5 s
          // instead of holding it, and everything behind it, until TCP gives up.
          { enableOfflineQueue: false, maxRetriesPerRequest: 0, enableAutoPipelining: true, commandTimeout: 5_000 }
        : // Subscription changes made while Redis is away wait for it and are sent on reconnect.
          { enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: true }),
    });
  const pub = connect("pub");
  const sub = connect("sub");
  try {
    await connectWithin([pub, sub], waitMs);
  } catch (error) {
    throw busError(`cannot reach the Redis bus at ${shown}`, error);
  }
  started = true;
  return new RedisPubSubBus({ pub, sub, prefix: `af:${cluster}:${db}:`, origin, url: shown, ...pick(options) });
}

function pick(options: RedisBusOptions): Pick<RedisBusOptions, "onError" | "onHandlerError"> {
  return {
    ...(options.onError === undefined ? {} : { onError: options.onError }),
    ...(options.onHandlerError === undefined ? {} : { onHandlerError: options.onHandlerError }),
  };
}

function busError(what: string, cause: unknown): FactoryError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new FactoryError("BUS_UNAVAILABLE", `${what}: ${reason}`, { cause });
}

