import { z } from "zod";
import { DEFAULT_ALERTS } from "../health/alerts.ts";
import type { LoadBalancer } from "../core/ports/balancer.ts";
import type { Bus } from "../core/ports/bus.ts";
import { NODE_ID_PATTERN, type Membership } from "../core/ports/membership.ts";
import type { ModelProvider } from "../core/ports/model-provider.ts";
import type { AgentRuntime } from "../core/ports/runtime.ts";
import type { Store } from "../core/ports/store.ts";
import { parseWith } from "../core/schemas/parse.ts";
import type { ModelsConfigInput } from "../models/models-config.ts";
import type { RouteRule } from "../models/policy.ts";
import type { FunctionHandler } from "../runtimes/function/function-handler.ts";
import { DEFAULT_POLICIES, type ScalingPolicy } from "../scheduler/pools/autoscaler.ts";
import { consoleLogger } from "../adapters/logger/console-logger.ts";
import { DEFAULT_DATA_DIR } from "./default-data-dir.ts";
import type { Logger } from "../core/ports/logger.ts";
import type { RetentionOptions } from "../state/retention.ts";
import type { Tracer } from "../core/ports/tracer.ts";

/** The longest delay a Node timer keeps; a longer one fires after 1 ms instead. */
const MAX_TIMER_MS = 2_147_483_647;

function shown(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/**
 * A whole number from `min` (and at most `max`), e.g. `must be a whole number ≥ 1 (ms), got 0`.
 * One check with one message, so 0, -1, 1.5, NaN, Infinity and "100" all read the same way.
 */
function wholeNumber(min: number, unit: string, max = Number.MAX_SAFE_INTEGER) {
  return z.custom<number>((v) => typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= max, {
    error: (issue) =>
      typeof issue.input === "number" && Number.isSafeInteger(issue.input) && issue.input > max
        ? `must be at most ${max} (${unit}${max === MAX_TIMER_MS ? ", the longest Node timer" : ""}), got ${shown(issue.input)}`
        : `must be a whole number ≥ ${min} (${unit}), got ${shown(issue.input)}`,
  });
}

/** A timer's period or delay in ms: from `min` to the longest Node timer. */
const timerMs = (min: number) => wholeNumber(min, "ms", MAX_TIMER_MS);

const flag = z.boolean({ error: (issue) => `must be true or false, got ${shown(issue.input)}` });

/** A live object (store, bus, handler, runtime …): passed through as given, never inspected. */
const live = <T>() => z.custom<T>(() => true);

/**
 * A live object that must have these methods: a store, bus or logger given as something else —
 * most often a Promise, `createPostgresStore(…)` without its `await` — fails here, naming the
 * option, rather than later as "store.close is not a function".
 */
const liveWith = <T>(what: string, methods: readonly string[]) =>
  z.custom<T>(
    (value) => typeof value === "object" && value !== null && methods.every((m) => typeof (value as Record<string, unknown>)[m] === "function"),
    { message: `must be ${what} (an object with ${methods.join(", ")}); a Promise here means a missing \`await\`` },
  );

/** Function handlers: each a function, or an object with a `run` function. */
const handlersSchema = z.custom<Record<string, FunctionHandler>>(
  (value) =>
    typeof value === "object" &&
    value !== null &&
    Object.values(value as Record<string, unknown>).every((h) => typeof h === "function" || (typeof h === "object" && h !== null && typeof (h as { run?: unknown }).run === "function")),
  { message: "each handler must be a function (input, ctx) => result, or an object with a run(input, ctx) function" },
);

/*
 * The schema turns the public options into resolved ones, every default applied. Each default
 * below is the one documented on `FactoryOptions`; `FACTORY_DEFAULTS` lists the plain values.
 * `models` and `retention` pass through here: their own schemas check them (their messages name
 * `models config` and `retention` fields) when `createFactory` resolves them.
 */
export const FACTORY_DEFAULTS = {
  dataDir: DEFAULT_DATA_DIR,
  allowEmptyStore: false,
  affinity: { ttlMs: 600_000, maxBindings: 100_000 },
  scaling: { tickMs: 1_000, policies: DEFAULT_POLICIES, stabilizationMs: 30_000 },
  processes: { warmPerKind: 2 },
  allowUnsandboxed: false,
  allowEgress: false,
  maxCrewSize: 10_000,
  shutdownGraceMs: 10_000,
  recentTaskLimit: 10_000,
  watchdogTickMs: 100,
  chaos: false,
  nodeLease: { leaseMs: 3_000, renewMs: 1_000 },
  tokens: { issuer: "agent-factory", audience: "agent-factory", lifetimeMs: 15 * 60_000, rotateAfterMs: 24 * 3_600_000 },
  alerts: DEFAULT_ALERTS,
  metrics: true,
} as const;

const AffinitySchema = z.strictObject({
  ttlMs: wholeNumber(1, "ms").default(FACTORY_DEFAULTS.affinity.ttlMs),
  maxBindings: wholeNumber(1, "bindings").default(FACTORY_DEFAULTS.affinity.maxBindings),
});

const ScalingSchema = z.strictObject({
  tickMs: timerMs(1).default(FACTORY_DEFAULTS.scaling.tickMs),
  policies: live<readonly ScalingPolicy[]>().default(() => FACTORY_DEFAULTS.scaling.policies),
  stabilizationMs: wholeNumber(0, "ms").default(FACTORY_DEFAULTS.scaling.stabilizationMs),
});

const ProcessesSchema = z.strictObject({
  warmPerKind: wholeNumber(0, "sandboxes").default(FACTORY_DEFAULTS.processes.warmPerKind),
});

/** A node's lease: renewed well within its length, or one late renewal would make the node lapse. */
const NodeLeaseSchema = z
  .strictObject({
    leaseMs: timerMs(1).default(FACTORY_DEFAULTS.nodeLease.leaseMs),
    renewMs: timerMs(1).default(FACTORY_DEFAULTS.nodeLease.renewMs),
  })
  .refine((lease) => lease.renewMs < lease.leaseMs, { error: (issue) => `renewMs must be less than leaseMs, got ${JSON.stringify(issue.input)}`, path: ["renewMs"] });

const TokensSchema = z.strictObject({
  issuer: z.string().min(1).max(256).default(FACTORY_DEFAULTS.tokens.issuer),
  audience: z.string().min(1).max(256).default(FACTORY_DEFAULTS.tokens.audience),
  lifetimeMs: timerMs(1_000).default(FACTORY_DEFAULTS.tokens.lifetimeMs),
  rotateAfterMs: timerMs(60_000).default(FACTORY_DEFAULTS.tokens.rotateAfterMs),
});

const fraction = z.number({ error: (issue) => `must be a number from 0 to 1, got ${shown(issue.input)}` }).min(0).max(1);
const AlertsSchema = z.strictObject({
  queueDepth: wholeNumber(0, "tasks").default(FACTORY_DEFAULTS.alerts.queueDepth),
  errorRate: fraction.default(FACTORY_DEFAULTS.alerts.errorRate),
  errorRateMinTasks: wholeNumber(1, "tasks").default(FACTORY_DEFAULTS.alerts.errorRateMinTasks),
  windowMs: timerMs(1_000).default(FACTORY_DEFAULTS.alerts.windowMs),
  budgetFraction: fraction.default(FACTORY_DEFAULTS.alerts.budgetFraction),
  checkMs: wholeNumber(0, "ms", MAX_TIMER_MS).default(FACTORY_DEFAULTS.alerts.checkMs),
});

/** An http(s) URL, or a message naming what was given. */
const httpUrl = z.string().refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), { error: (issue) => `must be an http(s) URL, got ${shown(issue.input)}` });

/** Tracing: where spans go (exactly one of a collector's base URL, its traces URL, or a ready Tracer). */
const TracingSchema = z
  .strictObject({
    endpoint: httpUrl.optional(),
    url: httpUrl.optional(),
    tracer: liveWith<Tracer>("a Tracer", ["record", "flush", "close"]).optional(),
    protocol: z.enum(["http/json", "http/protobuf"]).default("http/json"),
    headers: z.record(z.string(), z.string()).optional(),
    serviceName: z.string().min(1).max(256).optional(),
  })
  .refine((t) => [t.endpoint, t.url, t.tracer].filter((v) => v !== undefined).length === 1, {
    error: "give exactly one of endpoint (a collector's base URL: spans go to <endpoint>/v1/traces), url (the full traces URL) or tracer",
    path: ["endpoint"],
  });

/** `FactoryOptions` as a schema: checks the numbers and flags and fills in every default. Strict: an unknown key (a typo) is refused. */
export const FactoryOptionsSchema = z.strictObject({
  dataDir: z.string({ error: (issue) => `must be a folder path, got ${shown(issue.input)}` }).min(1, "must not be empty").default(FACTORY_DEFAULTS.dataDir),
  allowEmptyStore: flag.default(FACTORY_DEFAULTS.allowEmptyStore),
  store: liveWith<Store>("a Store", ["apply", "listTasks", "close"]).optional(),
  bus: liveWith<Bus>("a Bus", ["publish", "subscribe", "close"]).optional(),
  handlers: handlersSchema.default(() => ({})),
  runtimes: live<AgentRuntime[]>().default(() => []),
  balancers: live<LoadBalancer[]>().default(() => []),
  affinity: AffinitySchema.prefault({}),
  scaling: ScalingSchema.prefault({}),
  processes: ProcessesSchema.prefault({}),
  agentFiles: z.array(z.string()).readonly().default(() => []),
  allowUnsandboxed: flag.default(FACTORY_DEFAULTS.allowUnsandboxed),
  allowEgress: flag.default(FACTORY_DEFAULTS.allowEgress),
  maxCrewSize: wholeNumber(1, "agents").default(FACTORY_DEFAULTS.maxCrewSize),
  shutdownGraceMs: timerMs(0).default(FACTORY_DEFAULTS.shutdownGraceMs),
  recentTaskLimit: wholeNumber(1, "tasks").default(FACTORY_DEFAULTS.recentTaskLimit),
  watchdogTickMs: timerMs(1).default(FACTORY_DEFAULTS.watchdogTickMs),
  chaos: flag.default(FACTORY_DEFAULTS.chaos),
  routingRules: live<readonly RouteRule[]>().optional(),
  models: live<ModelsConfigInput>().optional(),
  retention: live<RetentionOptions>().optional(),
  providers: live<ModelProvider[]>().optional(),
  logger: liveWith<Logger>("a Logger", ["info", "warn", "error"]).default(() => consoleLogger("warn")),
  nodeId: z
    .string({ error: (issue) => `must be a node id, got ${shown(issue.input)}` })
    .regex(NODE_ID_PATTERN, { error: (issue) => `must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, got ${shown(issue.input)}` })
    .optional(),
  nodeUrl: z.string().optional(),
  nodeApiKey: z.string({ error: (issue) => `must be a string, got ${shown(issue.input)}` }).min(1).optional(),
  membership: liveWith<Membership>("a Membership", ["join", "renew", "leave", "list", "close"]).optional(),
  nodeLease: NodeLeaseSchema.prefault({}),
  tokens: TokensSchema.prefault({}),
  alerts: AlertsSchema.prefault({}),
  tracing: TracingSchema.optional(),
  metrics: flag.default(FACTORY_DEFAULTS.metrics),
});

/** The public options of `createFactory`; every one optional, each default documented on it. */
export interface FactoryOptions {
  /** Folder of the embedded store (`factory.db`); default `./.agent-factory`. `":memory:"` keeps nothing. */
  dataDir?: string;
  /**
   * Starts a new empty store when `factory.db` is an empty (0-byte) file, instead of refusing
   * to start (a 0-byte file is normally a database that was lost); default false.
   */
  allowEmptyStore?: boolean;
  /** A ready store; overrides `dataDir`. */
  store?: Store;
  /** A ready bus; default in-memory. */
  bus?: Bus;
  /** Function handlers profiles may name, besides the built-in echo, sleep and fail; default none. */
  handlers?: Record<string, FunctionHandler>;
  /** More runtimes (process, llm …), by kind; default none. */
  runtimes?: AgentRuntime[];
  /** Replaces built-in balancers by name (round-robin, least-loaded, skill-aware); default none. */
  balancers?: LoadBalancer[];
  /**
   * Affinity bindings: idle lifetime `ttlMs` (whole ms ≥ 1; default 600,000, 10 min) and how many
   * are kept, `maxBindings` (≥ 1; default 100,000).
   */
  affinity?: { ttlMs?: number; maxBindings?: number };
  /**
   * Pool sizing: how often pools are sized and idle agents retired, `tickMs` (whole ms ≥ 1;
   * default 1,000), the autoscaling `policies` (default seed 002's four, `DEFAULT_POLICIES`), and
   * the scale-down stabilization window `stabilizationMs` (whole ms ≥ 0; default 30,000).
   */
  scaling?: { tickMs?: number; policies?: readonly ScalingPolicy[]; stabilizationMs?: number };
  /** Process agents: warm sandboxes kept per interpreter, `warmPerKind` (whole ≥ 0; default 2; 0: always start cold). */
  processes?: { warmPerKind?: number };
  /**
   * Host folders whose files and subfolders process agents' profiles may name in `runtime.files`
   * (default none: no agent files at all). Never the data folder, /proc, /sys or /dev.
   */
  agentFiles?: readonly string[];
  /** Allows profiles with `sandbox: { kind: none }` (programs run on the host as the factory's user); default false. */
  allowUnsandboxed?: boolean;
  /**
   * Allows profiles with `sandbox: { allowEgress: true }`; default false. Such agents share the
   * host's network, loopback included: serve the API with a key (`serve` insists) so they cannot drive it.
   */
  allowEgress?: boolean;
  /** Most agents one crew manifest may ask for (whole ≥ 1); default 10,000. */
  maxCrewSize?: number;
  /** How long `close()` waits for running tasks (whole ms ≥ 0; 0: re-queue at once); default 10,000 (10 s). */
  shutdownGraceMs?: number;
  /** Finished tasks kept in memory (whole ≥ 1); default 10,000. */
  recentTaskLimit?: number;
  /** How often the watchdog checks heartbeats and running tasks (whole ms ≥ 1); default 100. */
  watchdogTickMs?: number;
  /** Allows chaos actions (kill, freeze, injected latency): for test runs only; default false. */
  chaos?: boolean;
  /** Model routing rules in order (default: seed 004's five, `DEFAULT_RULES`); overrides `models.rules`. */
  routingRules?: readonly RouteRule[];
  /**
   * Model providers, pricing, rules, budgets, timeouts (the server's `--config` file). Default:
   * no providers, so the mock serves every model name, offline.
   */
  models?: ModelsConfigInput;
  /**
   * What the store keeps of finished tasks, events and crew messages (max age and/or count per
   * kind, applied in the background); default: 7 days, and at most 100,000 finished tasks,
   * 1,000,000 events, 100,000 crew messages. See docs/storage.md.
   */
  retention?: RetentionOptions;
  /** Ready providers; replaces those `models.providers` would build. */
  providers?: ModelProvider[];
  /** Default: warnings and errors to stderr (`consoleLogger("warn")`); agents' own log lines pass through it too. */
  logger?: Logger;
  /**
   * This node's id in its cluster, carried by every agent it runs (`Agent.nodeId`): 1-64 letters,
   * digits, `.`, `_` or `-`. Default: the one kept in the data dir's `node-id` file (made on the
   * first start, so a restart is the same node); with `dataDir: ":memory:"`, a new one per factory.
   */
  nodeId?: string;
  /** Where this node's API answers, shown in `GET /v1/nodes`; default none. */
  nodeUrl?: string;
  /**
   * The API key this node sends when it calls another node of its cluster (a crew member spawned
   * there, a signal, a model call at the crew's node): the key every node's API takes. Default none.
   */
  nodeApiKey?: string;
  /** Node leases (`createRedisMembership` for a cluster); default in-memory: a single node that lists itself. */
  membership?: Membership;
  /** The node's lease: how long it holds, `leaseMs` (default 3,000), and how often it is renewed, `renewMs` (default 1,000; less than `leaseMs`). */
  nodeLease?: { leaseMs?: number; renewMs?: number };
  /**
   * Agents' tokens (EdDSA JWTs; public keys at `/.well-known/jwks.json`): `iss` and `aud` (both
   * default `agent-factory`), how long one is valid, `lifetimeMs` (15 minutes; a process agent
   * gets a fresh one as `token/refresh` when two thirds have passed), and how long a signing key
   * signs before a new one takes over, `rotateAfterMs` (24 hours; kept in the store, shared by a
   * cluster's nodes).
   */
  tokens?: { issuer?: string; audience?: string; lifetimeMs?: number; rotateAfterMs?: number };
  /**
   * Thresholds that raise `alert.*` events (`firing`, then `resolved`), counted in
   * `agent_factory_alerts_total` and shown on the dashboard: `queueDepth` tasks queued for one
   * pool (1,000), `errorRate` share of tasks ending FAILED or DEAD (0.5) over `windowMs`
   * (60,000) once `errorRateMinTasks` (20) ended, `budgetFraction` of a budget left (0.1); checked
   * every `checkMs` (5,000; 0: never). 0 turns a threshold off. A lost node alerts at once.
   */
  alerts?: { queueDepth?: number; errorRate?: number; errorRateMinTasks?: number; windowMs?: number; budgetFraction?: number; checkMs?: number };
  /**
   * OpenTelemetry traces, one per task (docs/observability.md "Traces"); default off, and then
   * free: no SDK is loaded, no id made. Give one of `endpoint` (a collector's base URL; spans go
   * to `<endpoint>/v1/traces`), `url` (the full traces URL) or `tracer` (a ready `Tracer`), and
   * optionally the OTLP `protocol` (`http/json`, the default, or `http/protobuf`), `headers`, and
   * `serviceName` (default `agent-factory`).
   */
  tracing?: { endpoint?: string; url?: string; tracer?: Tracer; protocol?: "http/json" | "http/protobuf"; headers?: Record<string, string>; serviceName?: string };
  /** Prometheus metrics (`GET /metrics`); default true. false: nothing is counted (the bench's "metrics off"). */
  metrics?: boolean;
}

/** The options with every default applied (`store`, `bus`, `routingRules`, `models`, `retention`, `providers`, `nodeId`, `nodeUrl`, `nodeApiKey`, `membership` stay optional: their absence means "build the default"). */
export type ResolvedFactoryOptions = z.output<typeof FactoryOptionsSchema>;

/*
 * The interface above is what users read (its JSDoc carries the defaults); the schema is what
 * runs. If they drift (an option added to one only, a type changed), `tsc --noEmit` fails here.
 */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type MustHold<T extends true> = T;
type Keys<T> = keyof T;
export type FactoryOptionsSchemaMatchesInterface = MustHold<Same<Keys<z.input<typeof FactoryOptionsSchema>>, Keys<FactoryOptions>>>;
export type FactoryOptionsSchemaAcceptsInterface = MustHold<FactoryOptions extends z.input<typeof FactoryOptionsSchema> ? true : false>;
export type InterfaceAcceptsFactoryOptionsSchema = MustHold<Required<z.input<typeof FactoryOptionsSchema>> extends Required<FactoryOptions> ? true : false>;

/** Validates the public options once, at the edge (VALIDATION_FAILED naming the option's path), and applies every default. */
export function resolveFactoryOptions(options: FactoryOptions = {}): ResolvedFactoryOptions {
  return parseWith(FactoryOptionsSchema, options, "factory options");
}
