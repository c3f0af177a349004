import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BubblewrapSandbox } from "../adapters/sandbox/bubblewrap/bubblewrap-sandbox.ts";
import { NoSandbox } from "../adapters/sandbox/none/no-sandbox.ts";
import { ProcessRuntime } from "../runtimes/process/process-runtime.ts";
import { MemoryBus } from "../adapters/bus/memory/memory-bus.ts";
import { createSqliteStore } from "../adapters/store/sqlite/sqlite-store.ts";
import type { LoadBalancer } from "../core/ports/balancer.ts";
import type { Bus } from "../core/ports/bus.ts";
import type { AgentRuntime } from "../core/ports/runtime.ts";
import type { Store } from "../core/ports/store.ts";
import type { BalancerName } from "../core/schemas/profile.ts";
import { FunctionRuntime } from "../runtimes/function/function-runtime.ts";
import type { FunctionHandler } from "../runtimes/function/function-handler.ts";
import { DEFAULT_POLICIES, type ScalingPolicy } from "../scheduler/autoscaler.ts";
import { LeastLoaded } from "../scheduler/balancers/least-loaded.ts";
import { RoundRobin } from "../scheduler/balancers/round-robin.ts";
import { SkillAware } from "../scheduler/balancers/skill-aware.ts";
import type { RouteRule } from "../models/policy.ts";
import { ModelsConfigSchema, type ModelsConfigInput } from "../models/models-config.ts";
import { createProviders } from "../models/providers/create-providers.ts";
import type { ModelProvider } from "../core/ports/model-provider.ts";
import { LlmRuntime } from "../runtimes/llm/llm-runtime.ts";
import { parseWith } from "../core/schemas/parse.ts";
import { DEFAULT_DATA_DIR } from "./default-data-dir.ts";
import { Factory, type Logger } from "./factory.ts";

export interface FactoryOptions {
  /** Folder of the embedded store (`factory.db`); default `./.agent-factory`. `":memory:"` keeps nothing. */
  dataDir?: string;
  /** A ready store; overrides `dataDir`. */
  store?: Store;
  /** A ready bus; default in-memory. */
  bus?: Bus;
  /** Function handlers profiles may name, besides the built-in echo, sleep and fail. */
  handlers?: Record<string, FunctionHandler>;
  /** More runtimes (process, llm …), by kind. */
  runtimes?: AgentRuntime[];
  /** Replaces built-in balancers by name (round-robin, least-loaded, skill-aware). */
  balancers?: LoadBalancer[];
  /** Affinity bindings: idle lifetime (default 10 min) and how many are kept (default 100,000). */
  affinity?: { ttlMs?: number; maxBindings?: number };
  /**
   * Pool sizing: how often pools are sized and idle agents retired (default 1 s), the
   * autoscaling policies (default seed 002's four), and the scale-down stabilization window
   * (default 30 s).
   */
  scaling?: { tickMs?: number; policies?: readonly ScalingPolicy[]; stabilizationMs?: number };
  /** Process agents: warm sandboxes kept per interpreter and sandbox settings (default 2; 0: always start cold). */
  processes?: { warmPerKind?: number };
  /** Most agents one crew manifest may ask for; default 10,000. */
  maxCrewSize?: number;
  /** How long `close()` waits for running tasks; default 10 s. */
  shutdownGraceMs?: number;
  /** Finished tasks kept in memory; default 10,000. */
  recentTaskLimit?: number;
  /** How often the watchdog checks heartbeats and running tasks; default 100 ms. */
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
  /** Ready providers; replaces those `models.providers` would build. */
  providers?: ModelProvider[];
  /** Default: warnings and errors to stderr. */
  logger?: Logger;
}

const consoleLogger: Logger = {
  info: () => {},
  warn: (message) => console.warn(`[agent-factory] ${message}`),
  error: (message, error) => console.error(`[agent-factory] ${message}`, error ?? ""),
};

/**
 * The composition root: picks the default adapters (SQLite store, memory bus, function
 * runtime), builds the factory and restores what the store holds.
 *
 * ```ts
 * const factory = await createFactory({ dataDir: "./data" });
 * const agent = await factory.spawnAgent({ config: { name: "echoer", role: "Coder" } });
 * await factory.close();
 * ```
 */
export async function createFactory(options: FactoryOptions = {}): Promise<Factory> {
  // First: a bad config or a missing key fails before anything is opened.
  const models = parseWith(ModelsConfigSchema, { ...options.models, ...(options.routingRules === undefined ? {} : { rules: options.routingRules }) }, "models config");
  const providers = options.providers ?? (await createProviders(models.providers));
  const dataDir = options.dataDir ?? DEFAULT_DATA_DIR;
  const store =
    options.store ?? (await createSqliteStore({ filename: dataDir === ":memory:" ? ":memory:" : join(resolve(dataDir), "factory.db") }));
  const dataRoot = dataDir === ":memory:" ? mkdtempSync(join(tmpdir(), "agent-factory-")) : resolve(dataDir);
  const runtimes: AgentRuntime[] = [
    new FunctionRuntime(options.handlers ?? {}),
    new LlmRuntime(),
    new ProcessRuntime({
      sandboxes: [new BubblewrapSandbox(), new NoSandbox()],
      workspaceRoot: join(dataRoot, "workspaces"),
      // Agents never see the factory's own data (the store, other agents' workspaces).
      hidden: [dataRoot],
      ...(options.processes?.warmPerKind === undefined ? {} : { warmPerKind: options.processes.warmPerKind }),
    }),
    ...(options.runtimes ?? []),
  ];
  const factory = new Factory({
    store,
    bus: options.bus ?? new MemoryBus(),
    runtimes,
    balancers: new Map(
      [new RoundRobin(), new LeastLoaded(), new SkillAware(), ...(options.balancers ?? [])].map((b) => [b.name as BalancerName, b] as const),
    ),
    affinity: { ttlMs: options.affinity?.ttlMs ?? 600_000, maxBindings: options.affinity?.maxBindings ?? 100_000 },
    scaling: {
      tickMs: options.scaling?.tickMs ?? 1_000,
      policies: options.scaling?.policies ?? DEFAULT_POLICIES,
      stabilizationMs: options.scaling?.stabilizationMs ?? 30_000,
    },
    logger: options.logger ?? consoleLogger,
    maxCrewSize: options.maxCrewSize ?? 10_000,
    shutdownGraceMs: options.shutdownGraceMs ?? 10_000,
    recentTaskLimit: options.recentTaskLimit ?? 10_000,
    watchdogTickMs: options.watchdogTickMs ?? 100,
    chaos: options.chaos ?? false,
    models,
    providers,
  });
  await factory.start();
  return factory;
}
