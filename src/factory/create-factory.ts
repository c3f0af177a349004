import { existsSync, mkdtempSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BubblewrapSandbox } from "../adapters/sandbox/bubblewrap/bubblewrap-sandbox.ts";
import { NoSandbox } from "../adapters/sandbox/none/no-sandbox.ts";
import { ProcessRuntime } from "../runtimes/process/process-runtime.ts";
import { AgentFiles, agentFileFolders } from "../runtimes/process/agent-files.ts";
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
import { consoleLogger } from "./console-logger.ts";
import { DEFAULT_DATA_DIR } from "./default-data-dir.ts";
import { Factory, type Logger } from "./factory.ts";
import { retentionSettings, type RetentionOptions } from "./retention.ts";

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
}


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
  const retention = retentionSettings(options.retention);
  const providers = options.providers ?? (await createProviders(models.providers));
  const agentFolders = agentFileFolders(options.agentFiles ?? []);
  const dataDir = options.dataDir ?? DEFAULT_DATA_DIR;
  const store =
    options.store ??
    (await createSqliteStore({ filename: dataDir === ":memory:" ? ":memory:" : join(resolve(dataDir), "factory.db"), allowEmpty: options.allowEmptyStore ?? false }));
  const dataRoot = dataDir === ":memory:" ? mkdtempSync(join(tmpdir(), "agent-factory-")) : resolve(dataDir);
  const runtimes: AgentRuntime[] = [
    new FunctionRuntime(options.handlers ?? {}),
    new LlmRuntime(),
    new ProcessRuntime({
      sandboxes: [new BubblewrapSandbox(), new NoSandbox()],
      workspaceRoot: join(dataRoot, "workspaces"),
      // Agents never see the factory's own data (the store, other agents' workspaces).
      hidden: [dataRoot],
      // The data folder resolved (tmp dirs are often symlinked), so a path to it by another name is caught too.
      agentFiles: new AgentFiles(agentFolders, [existsSync(dataRoot) ? realpathSync(dataRoot) : dataRoot]),
      allowUnsandboxed: options.allowUnsandboxed ?? false,
      allowEgress: options.allowEgress ?? false,
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
    logger: options.logger ?? consoleLogger("warn"),
    maxCrewSize: options.maxCrewSize ?? 10_000,
    shutdownGraceMs: options.shutdownGraceMs ?? 10_000,
    recentTaskLimit: options.recentTaskLimit ?? 10_000,
    watchdogTickMs: options.watchdogTickMs ?? 100,
    chaos: options.chaos ?? false,
    models,
    providers,
    retention,
  });
  try {
    await factory.start();
  } catch (error) {
    // Release the store (and its data dir's lock), so the caller can fix the cause and retry.
    await store.close().catch(() => {});
    throw error;
  }
  return factory;
}
