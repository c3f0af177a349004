/**
 * The bus benchmark: publish→deliver latency and messages per second, the memory bus beside the
 * Redis bus — a subscriber on the publishing node (the local fast path) and on another node
 * (another bus instance over the local Redis: the round trip every cross-node message pays, and
 * what a local subscriber would pay without the fast path).
 *
 *   node --conditions=agent-factory-source bench/bus.ts [--case memory|redis-local|redis-remote|spawn|all]
 *        [--messages 20000] [--spawns 3000] [--redis redis://127.0.0.1:6379/0]
 *
 * `spawn` is the cost a factory pays: the same spawns (function agents, memory store; three
 * events each) with the memory bus, then the Redis bus, each run twice (the first warms up).
 *
 * Both buses run in this one process, as two nodes on one machine would share its cores; the
 * message is an event-sized JSON object (about 250 bytes). Not wired into bench/run.ts: it needs
 * a Redis server, which `npm run bench` does not.
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { MemoryBus } from "../src/adapters/bus/memory/memory-bus.ts";
import { createMemoryStore } from "../src/adapters/store/memory/memory-store.ts";
import { createFactory } from "../src/factory/create-factory.ts";
import { createRedisBus } from "../src/adapters/bus/redis/redis-bus.ts";
import type { Bus } from "../src/core/ports/bus.ts";
import { formatNumber, perSecond, summarize, type Summary } from "./stats.ts";

const CASES = ["memory", "redis-local", "redis-remote"] as const;
type BusCase = (typeof CASES)[number];

const { values } = parseArgs({
  options: {
    case: { type: "string", default: "all" },
    messages: { type: "string", default: "20000" },
    spawns: { type: "string", default: "3000" },
    redis: { type: "string", default: "redis://127.0.0.1:6379/0" },
  },
});
const MESSAGES = Number(values.messages);
/** Sequential round trips for the unloaded latency. */
const PINGS = 2000;

/** An event as the event log publishes it. */
function event(seq: number, sentAt: number): Record<string, unknown> {
  return {
    seq,
    at: "2026-12-07T15:00:00.000Z",
    type: "agent.state",
    agentId: "agent_01JF8Z3V6Q9K2M4N5P7R8S9T0U",
    crewId: "crew_01JF8Z3V6Q9K2M4N5P7R8S9T0V",
    from: "READY",
    to: "BUSY",
    data: { reason: "task assigned", taskId: "task_01JF8Z3V6Q9K2M4N5P7R8S9T0W", load: 1, sentAt },
  };
}

interface CaseFigures {
  case: BusCase;
  /** One message at a time, each awaited before the next (ms). */
  unloaded: Summary;
  /** `MESSAGES` published back to back; latency of each from its publish to its delivery (ms). */
  loaded: Summary;
  messagesPerSecond: number;
  /** Time the publisher spent inside publish, per message (µs): what an event costs the emitting node. */
  publishCostUs: number;
}

/** The publishing bus and the bus whose subscriber receives. */
async function pair(name: BusCase): Promise<{ pub: Bus; sub: Bus; settle(): Promise<void>; close(): Promise<void> }> {
  if (name === "memory") {
    const bus = new MemoryBus();
    return { pub: bus, sub: bus, settle: async () => {}, close: () => bus.close() };
  }
  const cluster = `bench-${process.pid}-${Date.now().toString(36)}`;
  const a = await createRedisBus({ url: values.redis, cluster });
  const b = name === "redis-local" ? a : await createRedisBus({ url: values.redis, cluster });
  return {
    pub: a,
    sub: b,
    settle: () => b.settled(),
    close: async () => {
      await a.close();
      await b.close();
    },
  };
}

async function measure(name: BusCase): Promise<CaseFigures> {
  const buses = await pair(name);
  const { pub, sub } = buses;
  let waiting: ((at: number) => void) | undefined;
  const loadedLatency: number[] = [];
  let delivered = 0;
  let lastAt = 0;
  sub.subscribe("ping", () => waiting?.(performance.now()));
  sub.subscribe("load", (m) => {
    const at = performance.now();
    loadedLatency.push(at - ((m as { data: { sentAt: number } }).data.sentAt));
    delivered++;
    lastAt = at;
  });
  await buses.settle();

  const unloaded: number[] = [];
  for (let i = 0; i < PINGS; i++) {
    const arrived = new Promise<number>((done) => (waiting = done));
    const sentAt = performance.now();
    pub.publish("ping", event(i, sentAt));
    unloaded.push((await arrived) - sentAt);
  }

  const start = performance.now();
  let inPublish = 0;
  // Publish in slices that yield to the event loop, as a node's events come from many tasks, not one loop.
  for (let seq = 0; seq < MESSAGES; seq += 500) {
    const t0 = performance.now();
    for (let i = seq; i < Math.min(seq + 500, MESSAGES); i++) pub.publish("load", event(i, performance.now()));
    inPublish += performance.now() - t0;
    await new Promise((r) => setImmediate(r));
  }
  const deadline = Date.now() + 60_000;
  while (delivered < MESSAGES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  if (delivered < MESSAGES) throw new Error(`${name}: ${delivered} of ${MESSAGES} delivered in 60 s`);
  await buses.close();
  return {
    case: name,
    unloaded: summarize(unloaded),
    loaded: summarize(loadedLatency),
    messagesPerSecond: perSecond(MESSAGES, lastAt - start),
    publishCostUs: (inPublish * 1000) / MESSAGES,
  };
}

/** Spawns through a whole factory on each bus: milliseconds per run, and the events they emitted. */
async function spawns(): Promise<Array<{ bus: string; ms: number; events: number }>> {
  const out: Array<{ bus: string; ms: number; events: number }> = [];
  const count = Number(values.spawns);
  for (const kind of ["memory", "redis", "memory", "redis"] as const) {
    const bus = kind === "redis" ? await createRedisBus({ url: values.redis, cluster: `bench-${process.pid}-${Date.now().toString(36)}` }) : new MemoryBus();
    const factory = await createFactory({ dataDir: ":memory:", store: createMemoryStore(), bus, logger: { info() {}, warn() {}, error() {} }, handlers: { echo: (input) => input } });
    factory.registerProfile({ name: "worker", role: "Worker", runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual" } });
    const start = performance.now();
    await Promise.all(Array.from({ length: count }, () => factory.spawnAgent({ profile: "worker" })));
    out.push({ bus: kind, ms: performance.now() - start, events: factory.stats().lastEventSeq });
    await factory.close({ force: true });
  }
  return out;
}

if (values.case === "spawn" || values.case === "all") {
  const runs = await spawns();
  console.log(`factory: ${values.spawns} spawns (function agents, memory store), each bus twice`);
  for (const r of runs) console.log(`  ${r.bus.padEnd(7)} ${r.ms.toFixed(0).padStart(5)} ms  ${r.events} events  ${formatNumber(Math.round(perSecond(r.events, r.ms)))} events/s`);
  if (values.case === "spawn") process.exit(0);
}

const chosen: BusCase[] = values.case === "all" ? [...CASES] : [values.case as BusCase];
for (const name of chosen) if (!CASES.includes(name)) throw new Error(`--case must be one of ${CASES.join(", ")} or all, got '${name}'`);
const results: CaseFigures[] = [];
for (const name of chosen) results.push(await measure(name));

const ms = (x: number): string => (x < 0.01 ? `${(x * 1000).toFixed(1)} µs` : `${x.toFixed(3)} ms`);
console.log(`bus benchmark: ${PINGS} sequential messages, then ${MESSAGES} back to back; node ${process.version}`);
console.log("case          unloaded p50   p99          loaded p50   p99          messages/s   publish cost");
for (const r of results) {
  console.log(
    `${r.case.padEnd(13)} ${ms(r.unloaded.p50).padEnd(14)} ${ms(r.unloaded.p99).padEnd(12)} ${ms(r.loaded.p50).padEnd(12)} ${ms(r.loaded.p99).padEnd(12)} ${formatNumber(Math.round(r.messagesPerSecond)).padEnd(12)} ${r.publishCostUs.toFixed(2)} µs`,
  );
}
console.log(JSON.stringify(results));
