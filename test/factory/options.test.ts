// Pins createFactory's options: one schema applies every documented default, refuses a bad number or flag with VALIDATION_FAILED naming the option's path, refuses unknown keys, and passes live objects through untouched.
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { MemoryBus } from "../../src/adapters/bus/memory/memory-bus.ts";
import { createMemoryStore } from "../../src/adapters/store/memory/memory-store.ts";
import { FactoryError } from "../../src/core/errors.ts";
import { createFactory, type FactoryOptions } from "../../src/factory/create-factory.ts";
import { DEFAULT_DATA_DIR } from "../../src/factory/default-data-dir.ts";
import { FACTORY_DEFAULTS, resolveFactoryOptions } from "../../src/factory/factory-options.ts";
import { DEFAULT_POLICIES } from "../../src/scheduler/pools/autoscaler.ts";
import { silentLogger, tempDir } from "../helpers.ts";
import type { Store } from "../../src/core/ports/store.ts";
import type { Bus } from "../../src/core/ports/bus.ts";
import type { Logger } from "../../src/core/ports/logger.ts";
import type { FunctionHandler } from "../../src/runtimes/function/function-handler.ts";

/** Asserts `options` is refused with VALIDATION_FAILED, exactly this message, naming `field`. */
function refuses(options: unknown, field: string, message: string): void {
  assert.throws(
    () => resolveFactoryOptions(options as FactoryOptions),
    (error: unknown) => {
      assert.ok(error instanceof FactoryError, `expected a FactoryError, got ${String(error)}`);
      assert.equal(error.code, "VALIDATION_FAILED");
      assert.equal(error.field, field);
      assert.equal(error.message, `invalid factory options: ${field}: ${message}`);
      return true;
    },
  );
}

/** `{ a: { b: value } }` from the path "a.b". */
function at(path: string, value: unknown): Record<string, unknown> {
  return path
    .split(".")
    .reverse()
    .reduce<unknown>((inner, key) => ({ [key]: inner }), value) as Record<string, unknown>;
}

describe("factory options", () => {
  it("resolves every default as documented on FactoryOptions", () => {
    const { logger, ...resolved } = resolveFactoryOptions();
    assert.deepEqual(resolved, {
      dataDir: DEFAULT_DATA_DIR,
      allowEmptyStore: false,
      handlers: {},
      runtimes: [],
      balancers: [],
      affinity: { ttlMs: 600_000, maxBindings: 100_000 },
      scaling: { tickMs: 1_000, policies: DEFAULT_POLICIES, stabilizationMs: 30_000 },
      processes: { warmPerKind: 2 },
      agentFiles: [],
      allowUnsandboxed: false,
      allowEgress: false,
      maxCrewSize: 10_000,
      shutdownGraceMs: 10_000,
      recentTaskLimit: 10_000,
      watchdogTickMs: 100,
      chaos: false,
      nodeLease: { leaseMs: 3_000, renewMs: 1_000 },
      tokens: { issuer: "agent-factory", audience: "agent-factory", lifetimeMs: 900_000, rotateAfterMs: 86_400_000 },
      alerts: { queueDepth: 1_000, errorRate: 0.5, errorRateMinTasks: 20, windowMs: 60_000, budgetFraction: 0.1, checkMs: 5_000 },
      metrics: true,
    });
    assert.equal(resolved.scaling.policies, DEFAULT_POLICIES);
    // consoleLogger("warn"): warnings and errors only.
    assert.equal((logger as { level?: string }).level, "warn");
    assert.deepEqual(Object.keys(logger).sort(), ["error", "info", "level", "warn"]);
    assert.equal(resolveFactoryOptions({}).watchdogTickMs, FACTORY_DEFAULTS.watchdogTickMs);
  });

  it("fills the defaults of a nested option given in part", () => {
    const resolved = resolveFactoryOptions({ affinity: { ttlMs: 5 }, scaling: { stabilizationMs: 0 }, processes: {} });
    assert.deepEqual(resolved.affinity, { ttlMs: 5, maxBindings: 100_000 });
    assert.deepEqual(resolved.scaling, { tickMs: 1_000, policies: DEFAULT_POLICIES, stabilizationMs: 0 });
    assert.deepEqual(resolved.processes, { warmPerKind: 2 });
    assert.deepEqual(resolveFactoryOptions({ nodeLease: { leaseMs: 10_000 } }).nodeLease, { leaseMs: 10_000, renewMs: 1_000 });
  });

  it("keeps the values given, the smallest allowed included", () => {
    const resolved = resolveFactoryOptions({
      affinity: { ttlMs: 1, maxBindings: 1 },
      scaling: { tickMs: 1, stabilizationMs: 0 },
      processes: { warmPerKind: 0 },
      maxCrewSize: 1,
      shutdownGraceMs: 0,
      recentTaskLimit: 1,
      watchdogTickMs: 1,
      chaos: true,
      allowEmptyStore: true,
      dataDir: ":memory:",
    });
    assert.deepEqual(resolved.affinity, { ttlMs: 1, maxBindings: 1 });
    assert.equal(resolved.scaling.tickMs, 1);
    assert.equal(resolved.scaling.stabilizationMs, 0);
    assert.equal(resolved.processes.warmPerKind, 0);
    assert.equal(resolved.maxCrewSize, 1);
    assert.equal(resolved.shutdownGraceMs, 0);
    assert.equal(resolved.recentTaskLimit, 1);
    assert.equal(resolved.watchdogTickMs, 1);
    assert.equal(resolved.chaos, true);
    assert.equal(resolved.allowEmptyStore, true);
    assert.equal(resolved.dataDir, ":memory:");
    assert.equal(resolveFactoryOptions({ shutdownGraceMs: 2_147_483_647 }).shutdownGraceMs, 2_147_483_647);
  });

  it("passes live objects through as given, never copied", () => {
    const store = createMemoryStore();
    const bus = new MemoryBus();
    const handlers = { double: async (input: unknown) => input };
    const policies = [DEFAULT_POLICIES[0]!];
    const rules: never[] = [];
    const resolved = resolveFactoryOptions({ store, bus, handlers, logger: silentLogger, scaling: { policies }, routingRules: rules, runtimes: [], balancers: [], providers: [] });
    assert.equal(resolved.store, store);
    assert.equal(resolved.bus, bus);
    assert.equal(resolved.handlers, handlers);
    assert.equal(resolved.logger, silentLogger);
    assert.equal(resolved.scaling.policies, policies);
    assert.equal(resolved.routingRules, rules);
  });

  /** [path, the least allowed value, unit] of every numeric option. */
  const numbers: Array<[path: string, min: number, unit: string]> = [
    ["watchdogTickMs", 1, "ms"],
    ["shutdownGraceMs", 0, "ms"],
    ["maxCrewSize", 1, "agents"],
    ["recentTaskLimit", 1, "tasks"],
    ["affinity.ttlMs", 1, "ms"],
    ["affinity.maxBindings", 1, "bindings"],
    ["scaling.tickMs", 1, "ms"],
    ["scaling.stabilizationMs", 0, "ms"],
    ["processes.warmPerKind", 0, "sandboxes"],
  ];
  for (const [path, min, unit] of numbers) {
    it(`refuses ${path} below ${min}, fractional, NaN, infinite or not a number, naming ${path}`, () => {
      const bad: Array<[value: unknown, shown: string]> = [
        [min - 1, String(min - 1)],
        [-5, "-5"],
        [1.5, "1.5"],
        [Number.NaN, "NaN"],
        [Number.POSITIVE_INFINITY, "Infinity"],
        ["100", '"100"'],
        [null, "null"],
      ];
      if (min === 1) bad.push([0, "0"]);
      for (const [value, shown] of bad) refuses(at(path, value), path, `must be a whole number ≥ ${min} (${unit}), got ${shown}`);
    });
  }

  it("refuses timer periods a Node timer cannot keep (it would fire after 1 ms)", () => {
    for (const path of ["watchdogTickMs", "scaling.tickMs", "shutdownGraceMs"]) {
      refuses(at(path, 2_147_483_648), path, "must be at most 2147483647 (ms, the longest Node timer), got 2147483648");
    }
  });

  it("refuses a flag that is not true or false, naming it", () => {
    for (const path of ["allowEmptyStore", "allowUnsandboxed", "allowEgress", "chaos"]) {
      refuses(at(path, "yes"), path, 'must be true or false, got "yes"');
      refuses(at(path, 1), path, "must be true or false, got 1");
    }
  });

  it("refuses an empty or non-string dataDir", () => {
    refuses({ dataDir: "" }, "dataDir", "must not be empty");
    refuses({ dataDir: 7 }, "dataDir", "must be a folder path, got 7");
  });

  it("refuses an unknown key (a typo), at the top level and inside a nested option", () => {
    refuses({ watchdogTickMS: 50 }, "watchdogTickMS", "unknown field 'watchdogTickMS'");
    refuses({ scaling: { tickMS: 50 } }, "scaling.tickMS", "unknown field 'tickMS'");
    refuses({ affinity: { ttl: 5 } }, "affinity.ttl", "unknown field 'ttl'");
    refuses({ processes: { warm: 1 } }, "processes.warm", "unknown field 'warm'");
  });

  it("createFactory refuses a bad option before it opens or creates anything", async () => {
    const dir = tempDir();
    try {
      const dataDir = join(dir.path, "never");
      await assert.rejects(createFactory({ dataDir, logger: silentLogger, watchdogTickMs: 0 }), {
        name: "FactoryError",
        code: "VALIDATION_FAILED",
        field: "watchdogTickMs",
        message: "invalid factory options: watchdogTickMs: must be a whole number ≥ 1 (ms), got 0",
      });
      await assert.rejects(createFactory({ dataDir, logger: silentLogger, scaling: { tickMs: 0 } }), { code: "VALIDATION_FAILED", field: "scaling.tickMs" });
      assert.equal(existsSync(dataDir), false);
    } finally {
      dir.cleanup();
    }
  });

  it("refuses a store, bus, logger or handler that is not one — a forgotten await — naming the option", () => {
    const pending = Promise.resolve(createMemoryStore());
    refuses({ store: pending as unknown as Store }, "store", "must be a Store (an object with apply, listTasks, close); a Promise here means a missing `await`");
    refuses({ bus: {} as Bus }, "bus", "must be a Bus (an object with publish, subscribe, close); a Promise here means a missing `await`");
    refuses({ logger: console.log as unknown as Logger }, "logger", "must be a Logger (an object with info, warn, error); a Promise here means a missing `await`");
    refuses({ handlers: { x: 5 } as unknown as Record<string, FunctionHandler> }, "handlers", "each handler must be a function (input, ctx) => result, or an object with a run(input, ctx) function");
    void pending.then((store) => store.close());
  });

  it("createFactory releases the store and bus it was handed when an option is refused (they would hold the process open)", async () => {
    const store = createMemoryStore();
    const bus = new MemoryBus();
    let storeClosed = 0;
    let busClosed = 0;
    const closeStore = store.close.bind(store);
    const closeBus = bus.close.bind(bus);
    store.close = () => (storeClosed++, closeStore());
    bus.close = () => (busClosed++, closeBus());
    await assert.rejects(createFactory({ store, bus, logger: silentLogger, watchdogTickMs: 0 }), { code: "VALIDATION_FAILED", field: "watchdogTickMs" });
    assert.deepEqual([storeClosed, busClosed], [1, 1]);
  });

  it("createFactory names dataDir when a file stands where the data folder would be", async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, "a-file");
      writeFileSync(file, "x");
      for (const dataDir of [file, join(file, "below")]) {
        await assert.rejects(createFactory({ dataDir, logger: silentLogger }), (error: unknown) => {
          assert.ok(error instanceof FactoryError);
          assert.deepEqual([error.code, error.field], ["VALIDATION_FAILED", "dataDir"]);
          assert.match(error.message, new RegExp(`^dataDir: cannot use ${dataDir.replace(/[.]/g, "\\.")} as the data folder: a file \\(not a folder\\) is in the way \\((EEXIST|ENOTDIR)\\)$`));
          return true;
        });
      }
    } finally {
      dir.cleanup();
    }
  });
});
