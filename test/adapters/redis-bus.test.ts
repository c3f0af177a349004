// Runs the Bus conformance suite against the Redis bus on the local Redis (127.0.0.1:6379), each run in a cluster of its own, and pins what is Redis's own: start-up errors, values beyond JSON, recovery after lost connections.
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { createRedisBus } from "../../src/adapters/bus/redis/redis-bus.ts";
import type { RedisBus, RedisBusOptions } from "../../src/adapters/bus/redis/redis-bus-options.ts";
import type { Bus } from "../../src/core/ports/bus.ts";
import { until } from "../helpers.ts";
import { REDIS_SKIP } from "./redis-test-server.ts";
import { busConformance, randomName, type OpenedBus, type Place } from "../conformance/bus.conformance.ts";

const REDIS = "redis://127.0.0.1:6379";
/** The database index the suite works in (another one for the cross-database check). */
const DB = 0;
const T = { timeout: 30_000, skip: REDIS_SKIP };

/** Opens buses in one cluster of this run; `cleanup` closes them and deletes any key under the cluster's prefix. */
function busesIn(cluster: string, extra: Partial<RedisBusOptions> = {}) {
  const opened: Array<{ bus: RedisBus; cluster: string; db: number }> = [];
  const errors: Error[] = [];
  return {
    errors,
    async open(place: Place = {}, url?: string): Promise<OpenedBus & { bus: RedisBus }> {
      const handlerErrors: OpenedBus["handlerErrors"] = [];
      const db = place.db ?? DB;
      const bus = await createRedisBus({
        url: url ?? `${REDIS}/${db}`,
        cluster: place.cluster ?? cluster,
        onHandlerError: (error, channel) => handlerErrors.push({ error, channel }),
        onError: (error) => errors.push(error),
        ...extra,
      });
      opened.push({ bus, cluster: place.cluster ?? cluster, db });
      return { bus, handlerErrors };
    },
    /** Keys any bus of the run left (pub/sub makes none; this proves it and cleans up if that ever changes). */
    async leftKeys(): Promise<string[]> {
      const found: string[] = [];
      for (const { cluster: c, db } of opened) {
        const admin = new Redis(`${REDIS}/${db}`);
        try {
          found.push(...(await admin.keys(`af:${c}:*`)));
        } finally {
          admin.disconnect();
        }
      }
      return [...new Set(found)];
    },
    async cleanup(): Promise<void> {
      await Promise.all(opened.map(({ bus }) => bus.close()));
      for (const { cluster: c, db } of opened) {
        const admin = new Redis(`${REDIS}/${db}`);
        try {
          const keys = await admin.keys(`af:${c}:*`);
          if (keys.length > 0) await admin.del(...keys);
        } finally {
          admin.disconnect();
        }
      }
    },
  };
}

busConformance(
  "redis",
  async () => {
    const buses = busesIn(randomName("af-test"));
    return {
      open: (place) => buses.open(place),
      settled: (bus: Bus) => (bus as RedisBus).settled(),
      cleanup: () => buses.cleanup(),
    };
  },
  { networked: true, skip: REDIS_SKIP },
);

/** A port on 127.0.0.1 that nothing listens on (bound, then let go). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

describe("redis bus: start-up errors name the URL, password hidden", T, () => {
  it("fails with BUS_UNAVAILABLE on a closed port, naming the URL with its password as ***", async () => {
    const port = await closedPort();
    await assert.rejects(createRedisBus({ url: `redis://:s3cret@127.0.0.1:${port}/5` }), {
      name: "FactoryError",
      code: "BUS_UNAVAILABLE",
      message: `cannot reach the Redis bus at redis://:***@127.0.0.1:${port}/5: connect ECONNREFUSED 127.0.0.1:${port}`,
    });
  });

  it("fails with BUS_UNAVAILABLE on a database index the server does not have", async () => {
    await assert.rejects(createRedisBus({ url: `redis://user:pw@127.0.0.1:6379/99` }), (error: Error & { code?: string }) => {
      assert.equal(error.code, "BUS_UNAVAILABLE");
      // Redis 7 without ACL users refuses the user first or the index first; either way the URL is named and the password hidden.
      assert.match(error.message, /^cannot reach the Redis bus at redis:\/\/user:\*\*\*@127\.0\.0\.1:6379\/99: /);
      assert.doesNotMatch(error.message, /pw/);
      return true;
    });
    await assert.rejects(createRedisBus({ url: `${REDIS}/99` }), {
      code: "BUS_UNAVAILABLE",
      message: "cannot reach the Redis bus at redis://127.0.0.1:6379/99: ERR DB index is out of range",
    });
  });

  it("fails with BUS_UNAVAILABLE after connectTimeoutMs when the server accepts and never answers", async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => void sockets.add(socket));
    await new Promise<void>((done) => silent.listen(0, "127.0.0.1", done));
    const { port } = silent.address() as { port: number };
    try {
      const started = Date.now();
      await assert.rejects(createRedisBus({ url: `redis://:pw@127.0.0.1:${port}/1`, connectTimeoutMs: 300 }), {
        code: "BUS_UNAVAILABLE",
        message: `cannot reach the Redis bus at redis://:***@127.0.0.1:${port}/1: no answer within 300 ms`,
      });
      assert.ok(Date.now() - started < 2_000, "it gave up at its deadline");
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((done) => silent.close(done));
    }
  });

  it("refuses a URL that is not a Redis URL, and a bad cluster name, with VALIDATION_FAILED before connecting", async () => {
    await assert.rejects(createRedisBus({ url: "postgres://u:pw@127.0.0.1:5432/test" }), {
      code: "VALIDATION_FAILED",
      field: "url",
      message: "url: must start with redis:// or rediss://, got 'postgres://u:***@127.0.0.1:5432/test'",
    });
    await assert.rejects(createRedisBus({ url: "redis://:pw@127.0.0.1:6379/five" }), {
      code: "VALIDATION_FAILED",
      message: "url: the path must be a database index (e.g. /5), got 'redis://:***@127.0.0.1:6379/five'",
    });
    await assert.rejects(createRedisBus({ url: "redis://127.0.0.1:6379/0", clustr: "mine" } as RedisBusOptions), {
      code: "VALIDATION_FAILED",
      field: "clustr",
      message: "Redis bus: unknown option 'clustr' (did you mean 'cluster'?); known: url, cluster, onError, onHandlerError, connectTimeoutMs",
    });
    await assert.rejects(createRedisBus({ url: "not a url :pw@" }), { code: "VALIDATION_FAILED", message: "url: not a URL: 'not a url :***@'" });
    await assert.rejects(createRedisBus({ url: `${REDIS}/0`, cluster: "a:b" }), {
      code: "VALIDATION_FAILED",
      field: "cluster",
      message: "cluster: must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, got 'a:b'",
    });
  });
});

describe("redis bus: what is Redis's own", T, () => {
  const buses = busesIn(randomName("af-test"));
  after(() => buses.cleanup());

  it("delivers what JSON makes of a value beyond JSON, here and on another node alike, and throws a TypeError for what JSON cannot encode", async () => {
    const a = (await buses.open()).bus;
    const b = (await buses.open()).bus;
    const here: unknown[] = [];
    const there: unknown[] = [];
    a.subscribe("odd", (m) => here.push(m));
    b.subscribe("odd", (m) => there.push(m));
    await b.settled();
    a.publish("odd", { gone: undefined, list: [undefined, 1], at: new Date(Date.UTC(2026, 0, 1)), map: new Map([[1, 2]]), nan: Number.NaN });
    const expected = { list: [null, 1], at: "2026-01-01T00:00:00.000Z", map: {}, nan: null };
    assert.deepStrictEqual(here, [expected]);
    await until(() => there.length === 1, "node B to hear the message");
    assert.deepStrictEqual(there, [expected]);
    assert.throws(() => a.publish("odd", undefined), { name: "TypeError", message: "bus message on odd is not a JSON value (undefined)" });
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    assert.throws(() => a.publish("odd", cycle), TypeError);
    assert.throws(() => a.publish("odd", { n: 1n }), TypeError);
    assert.equal(here.length, 1);
  });

  it("names its two connections after the cluster and its id, and leaves no key in Redis", async () => {
    const { bus } = await buses.open();
    assert.deepEqual(buses.errors, []);
    const admin = new Redis(`${REDIS}/${DB}`);
    try {
      const names = String(await admin.client("LIST"))
        .split("\n")
        .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? "")
        .filter((name) => name.includes(`:bus:${bus.id}:`))
        .sort();
      assert.equal(names.length, 2);
      assert.match(names[0] as string, new RegExp(`^af:af-test-[a-z0-9]+:bus:${bus.id}:pub$`));
      assert.match(names[1] as string, new RegExp(`^af:af-test-[a-z0-9]+:bus:${bus.id}:sub$`));
    } finally {
      admin.disconnect();
    }
    bus.subscribe("k", () => {});
    bus.publish("k", 1);
    await bus.settled();
    assert.deepEqual(await buses.leftKeys(), []);
  });

  it("resubscribes by itself after its connections are killed (CLIENT KILL), and delivery resumes in order", async () => {
    const a = (await buses.open()).bus;
    const b = (await buses.open()).bus;
    const got: number[] = [];
    b.subscribe("wake", (m) => got.push(m as number));
    await b.settled();
    a.publish("wake", 0);
    await until(() => got.length === 1, "the first wake-up");
    const admin = new Redis(`${REDIS}/${DB}`);
    try {
      const ids = String(await admin.client("LIST"))
        .split("\n")
        .filter((line) => line.includes(`name=af:`) && (line.includes(`:bus:${b.id}:sub `) || line.includes(`:bus:${a.id}:pub `)))
        .map((line) => /^id=(\d+)/.exec(line)?.[1]);
      assert.equal(ids.length, 2, "node B's subscriber and node A's publisher");
      for (const id of ids) assert.equal(await admin.client("KILL", "ID", id as string), 1);
      // Probe until B hears A again: both connections have come back and B's channel is subscribed anew.
      let probe = 1;
      const deadline = Date.now() + 10_000;
      while (!got.some((n) => n >= 1)) {
        assert.ok(Date.now() < deadline, "delivery did not resume within 10 s");
        a.publish("wake", probe++);
        await new Promise((r) => setTimeout(r, 20));
      }
      const first = got.length;
      for (let n = 1000; n < 1100; n++) a.publish("wake", n);
      await until(() => got.length === first + 100, "100 wake-ups after the reconnect");
      assert.deepEqual(got.slice(first), Array.from({ length: 100 }, (_, i) => 1000 + i));
      // Probes may be lost while the connections were down, never duplicated nor reordered.
      assert.deepEqual([...got].sort((x, y) => x - y), got);
    } finally {
      admin.disconnect();
    }
  });
});

/** A TCP relay to the local Redis that can go away and come back on the same port: an outage without touching the shared server. */
class Relay {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  port = 0;

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = new (client.constructor as typeof Socket)();
      upstream.connect(6379, "127.0.0.1");
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on("close", () => this.#sockets.delete(s));
        s.on("error", () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((done) => server.listen(this.port, "127.0.0.1", done));
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    if (server !== undefined) await new Promise((done) => server.close(done));
  }
}

describe("redis bus: Redis away for a while under load", T, () => {
  const relay = new Relay();
  const buses = busesIn(randomName("af-test"));
  before(() => relay.up());
  after(async () => {
    await buses.cleanup();
    await relay.down();
  });

  it("drops and counts what is published while Redis is away, reports it once, and both nodes recover by themselves when Redis is back", async () => {
    // Both nodes reach Redis through the relay: the publisher's drops and the subscriber's resubscription are both tested.
    const viaRelay = `${REDIS.replace("6379", String(relay.port))}/${DB}`;
    const a = (await buses.open({}, viaRelay)).bus;
    const b = (await buses.open({}, viaRelay)).bus;
    const got: number[] = [];
    b.subscribe("load", (m) => got.push(m as number));
    await b.settled();
    for (let n = 0; n < 100; n++) a.publish("load", n);
    await until(() => got.length === 100, "100 messages before the outage");

    await relay.down();
    // Wait until A has noticed (its first publish is refused), then everything published is dropped.
    await until(() => {
      a.publish("load", -1);
      return a.stats().dropped > 0;
    }, "node A to notice Redis is gone");
    // Probes sent before A noticed fail a little later ("Connection is closed"); let them settle before counting.
    await new Promise((r) => setTimeout(r, 200));
    const droppedBefore = a.stats().dropped;
    for (let n = 0; n < 500; n++) a.publish("load", 100_000 + n);
    await until(() => a.stats().dropped === droppedBefore + 500, "500 publishes dropped while Redis is away");
    const publishErrors = buses.errors.filter((e) => e.message.startsWith("publishing to the Redis bus"));
    assert.deepEqual(
      publishErrors.map((e) => [(e as Error & { code?: string }).code, e.message.split(": ")[0]]),
      [["BUS_UNAVAILABLE", `publishing to the Redis bus at redis://127.0.0.1:${relay.port}/${DB} failed; messages are dropped until it is back`]],
    );
    await new Promise((r) => setTimeout(r, 1_000));
    // The refused reconnects of that second are reported too, each naming the URL.
    const refused = `the Redis bus at redis://127.0.0.1:${relay.port}/${DB}: connect ECONNREFUSED 127.0.0.1:${relay.port}`;
    assert.ok(buses.errors.some((e) => e.message === refused), `expected '${refused}' among ${buses.errors.map((e) => e.message).join(" | ")}`);
    await relay.up();

    let probe = 200;
    const deadline = Date.now() + 10_000;
    while (!got.some((n) => n >= 200 && n < 100_000)) {
      assert.ok(Date.now() < deadline, "node A did not come back within 10 s");
      a.publish("load", probe++);
      await new Promise((r) => setTimeout(r, 20));
    }
    const first = got.length;
    for (let n = 0; n < 100; n++) a.publish("load", 1_000_000 + n);
    await until(() => got.length === first + 100, "100 messages after Redis came back");
    assert.deepEqual(got.slice(first), Array.from({ length: 100 }, (_, i) => 1_000_000 + i));
    assert.deepEqual(got.slice(0, 100), Array.from({ length: 100 }, (_, i) => i));
    assert.equal(got.filter((n) => n === -1 || (n >= 100_000 && n < 1_000_000)).length, 0, "nothing published during the outage arrives later");
  });
});
