import { existsSync, mkdtempSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BubblewrapSandbox } from "../adapters/sandbox/bubblewrap/bubblewrap-sandbox.ts";
import { NoSandbox } from "../adapters/sandbox/none/no-sandbox.ts";
import { ProcessRuntime } from "../runtimes/process/process-runtime.ts";
import { AgentFiles, agentFileFolders } from "../runtimes/process/agent-files.ts";
import { MemoryBus } from "../adapters/bus/memory/memory-bus.ts";
import { MemoryMembership } from "../adapters/membership/memory/memory-membership.ts";
import { createSqliteStore } from "../adapters/store/sqlite/sqlite-store.ts";
import type { AgentRuntime } from "../core/ports/runtime.ts";
import type { BalancerName } from "../core/schemas/profile.ts";
import { FunctionRuntime } from "../runtimes/function/function-runtime.ts";
import { LeastLoaded } from "../scheduler/balancers/least-loaded.ts";
import { RoundRobin } from "../scheduler/balancers/round-robin.ts";
import { SkillAware } from "../scheduler/balancers/skill-aware.ts";
import { ModelsConfigSchema } from "../models/models-config.ts";
import { createProviders } from "../models/providers/create-providers.ts";
import { LlmRuntime } from "../runtimes/llm/llm-runtime.ts";
import { parseWith } from "../core/schemas/parse.ts";
import { Factory } from "./factory.ts";
import { wireFactory } from "./wiring.ts";
import { resolveFactoryOptions, type FactoryOptions } from "./factory-options.ts";
import { retentionSettings } from "../state/retention.ts";
import { defaultNodeId } from "./node-id.ts";

export type { FactoryOptions } from "./factory-options.ts";

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
  const starting = { reached: false };
  try {
    return await build(options, starting);
  } catch (error) {
    // What the caller handed over is the factory's from here: released on any failure, so a
    // bad option does not leave the caller's store or bus holding the process open. (A failed
    // start has released everything itself.)
    if (!starting.reached) {
      for (const given of [options.store, options.bus, options.membership]) {
        const close = (given as { close?: unknown } | undefined)?.close;
        if (typeof close === "function") await (close as () => Promise<void>).call(given).catch(() => {});
      }
    }
    throw error;
  }
}

async function build(options: FactoryOptions, starting: { reached: boolean }): Promise<Factory> {
  // First: a bad option, a bad config or a missing key fails before anything is opened.
  const o = resolveFactoryOptions(options);
  const models = parseWith(ModelsConfigSchema, { ...o.models, ...(o.routingRules === undefined ? {} : { rules: o.routingRules }) }, "models config");
  const retention = retentionSettings(o.retention);
  const providers = o.providers ?? (await createProviders(models.providers));
  const agentFolders = agentFileFolders(o.agentFiles);
  const dataDir = o.dataDir;
  // Before the store opens: a damaged node-id file fails here, with nothing to release.
  const nodeId = o.nodeId ?? defaultNodeId(dataDir === ":memory:" ? null : resolve(dataDir));
  const membership = o.membership ?? new MemoryMembership();
  const store =
    o.store ??
    (await createSqliteStore({ filename: dataDir === ":memory:" ? ":memory:" : join(resolve(dataDir), "factory.db"), allowEmpty: o.allowEmptyStore }));
  // A bus is a live object made per factory, so it is built here rather than in the schema.
  const bus = o.bus ?? new MemoryBus();
  // Tracing only when asked for: the OpenTelemetry SDK is loaded here or never.
  const t = o.tracing;
  const tracer =
    t === undefined
      ? undefined
      : (t.tracer ??
        (await (await import("../adapters/tracing/otlp-tracer.ts")).createOtlpTracer({
          url: t.url ?? `${(t.endpoint as string).replace(/\/+$/, "")}/v1/traces`,
          protocol: t.protocol,
          resource: { "service.instance.id": nodeId },
          ...(t.headers === undefined ? {} : { headers: t.headers }),
          ...(t.serviceName === undefined ? {} : { serviceName: t.serviceName }),
        })));
  const dataRoot = dataDir === ":memory:" ? mkdtempSync(join(tmpdir(), "agent-factory-")) : resolve(dataDir);
  // One set of sandboxes and rules for process agents and every agent's stdio MCP servers.
  const sandboxes = [new BubblewrapSandbox(), new NoSandbox()];
  const isolation = {
    workspaceRoot: join(dataRoot, "workspaces"),
    // Agents never see the factory's own data (the store, other agents' workspaces).
    hidden: [dataRoot],
    // The data folder resolved (tmp dirs are often symlinked), so a path to it by another name is caught too.
    agentFiles: new AgentFiles(agentFolders, [existsSync(dataRoot) ? realpathSync(dataRoot) : dataRoot]),
    allowUnsandboxed: o.allowUnsandboxed,
    allowEgress: o.allowEgress,
  };
  const runtimes: AgentRuntime[] = [
    new FunctionRuntime(o.handlers),
    new LlmRuntime(),
    new ProcessRuntime({ sandboxes, ...isolation, warmPerKind: o.processes.warmPerKind }),
    ...o.runtimes,
  ];
  const factory = new Factory(
    wireFactory({
    store,
    bus,
    runtimes,
    tools: { sandboxes: new Map(sandboxes.map((s) => [s.kind, s])), ...isolation },
    balancers: new Map([new RoundRobin(), new LeastLoaded(), new SkillAware(), ...o.balancers].map((b) => [b.name as BalancerName, b] as const)),
    affinity: o.affinity,
    scaling: o.scaling,
    logger: o.logger,
    maxCrewSize: o.maxCrewSize,
    shutdownGraceMs: o.shutdownGraceMs,
    recentTaskLimit: o.recentTaskLimit,
    watchdogTickMs: o.watchdogTickMs,
    chaos: o.chaos,
    models,
    providers,
    retention,
    node: { id: nodeId, url: o.nodeUrl ?? null, apiKey: o.nodeApiKey, membership, ...o.nodeLease },
    tokens: o.tokens,
    alerts: o.alerts,
    tracer,
    metrics: o.metrics,
    }),
  );
  starting.reached = true;
  try {
    await factory.start();
  } catch (error) {
    // Release the store (and its data dir's lock), the bus and the lease, so the caller can fix the cause and retry.
    await store.close().catch(() => {});
    await bus.close().catch(() => {});
    await membership.close().catch(() => {});
    await tracer?.close().catch(() => {});
    throw error;
  }
  return factory;
}
