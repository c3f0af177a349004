// The scheduler's parts without a factory: the in-memory store and bus, the real journal, event
// log, agent and profile registries, spawner and function runtime; a dispatcher over them on demand.
import type { Agent } from "../../src/core/agent.ts";
import { FactoryError } from "../../src/core/errors.ts";
import type { FactoryEvent } from "../../src/core/events.ts";
import type { Store } from "../../src/core/ports/store.ts";
import { ProfileSchema, type BalancerName, type ProfileInput, type ProfileRecord } from "../../src/core/schemas/profile.ts";
import type { Task } from "../../src/core/task.ts";
import { MemoryBus } from "../../src/adapters/bus/memory/memory-bus.ts";
import { createMemoryStore } from "../../src/adapters/store/memory/memory-store.ts";
import { Spawner, type SpawnerHooks } from "../../src/agents/spawner.ts";
import type { FunctionHandler } from "../../src/runtimes/function/function-handler.ts";
import { FunctionRuntime } from "../../src/runtimes/function/function-runtime.ts";
import { LeastLoaded } from "../../src/scheduler/balancers/least-loaded.ts";
import { RoundRobin } from "../../src/scheduler/balancers/round-robin.ts";
import { SkillAware } from "../../src/scheduler/balancers/skill-aware.ts";
import { Dispatcher, type DispatcherDeps } from "../../src/scheduler/dispatcher.ts";
import { AgentRegistry } from "../../src/state/agent-registry.ts";
import { EVENTS_CHANNEL, EventLog } from "../../src/state/event-log.ts";
import { Journal } from "../../src/state/journal.ts";
import { ProfileRegistry } from "../../src/state/profile-registry.ts";

/** Listeners a test may add to the spawner's hooks (the watchdog hears heartbeats, learns of starts). */
export interface SpawnerListeners {
  onStarted?: Parameters<SpawnerHooks["started"]["add"]>[0];
  onHeartbeat?: Parameters<SpawnerHooks["heartbeat"]["add"]>[0];
  onProgress?: Parameters<SpawnerHooks["progress"]["add"]>[0];
  onLog?: Parameters<SpawnerHooks["log"]["add"]>[0];
  onLost?: Parameters<SpawnerHooks["lost"]["add"]>[0];
}

export interface Parts {
  store: Store;
  journal: Journal;
  events: EventLog;
  registry: AgentRegistry;
  profiles: ProfileRegistry;
  spawner: Spawner;
  /** Every event emitted so far, in order (taken from the bus). */
  emitted: FactoryEvent[];
  /** Errors the journal reported (a test expects none). */
  errors: unknown[];
  /** Validates and registers a profile, as the factory does. */
  profile(input: ProfileInput): ProfileRecord;
  /** Spawns a crewless agent of a registered profile; resolves once it is READY. */
  spawn(profile: string, name?: string): Promise<Agent>;
  /** A dispatcher over these parts: least-loaded, queue depth 100, every crew active, unless `deps` says otherwise. */
  dispatcher(deps?: Partial<DispatcherDeps>): Dispatcher;
  /** Stops what runs and writes what is pending. */
  close(): Promise<void>;
}

/** Refuses what these parts do not lend (crews, model calls, sub-tasks): no test here needs them. */
const notLent = (what: string) => (): never => {
  throw new FactoryError("VALIDATION_FAILED", `the scheduler's test parts lend no ${what}`);
};

export function schedulerParts(handlers: Record<string, FunctionHandler> = {}, hooks: SpawnerListeners = {}): Parts {
  const store = createMemoryStore();
  const errors: unknown[] = [];
  const journal = new Journal(store, (error) => errors.push(error));
  const bus = new MemoryBus({ onHandlerError: (error) => errors.push(error) });
  const emitted: FactoryEvent[] = [];
  bus.subscribe(EVENTS_CHANNEL, (event) => emitted.push(event as FactoryEvent));
  const events = new EventLog(journal, bus);
  const registry = new AgentRegistry(journal, events);
  const profiles = new ProfileRegistry();
  const spawner = new Spawner({
    registry,
    journal,
    runtimes: new Map([["function", new FunctionRuntime(handlers)]]),
    nodeId: "node-test",
  });
  spawner.serve({ crewAccess: notLent("crews"), callModel: notLent("model calls"), submitSubtask: notLent("sub-tasks"), waitForTask: notLent("task waits") });
  spawner.hooks.lost.add(hooks.onLost ?? ((agent, reason) => errors.push(new Error(`agent ${agent.id} lost: ${reason}`))));
  if (hooks.onProgress !== undefined) spawner.hooks.progress.add(hooks.onProgress);
  if (hooks.onLog !== undefined) spawner.hooks.log.add(hooks.onLog);
  if (hooks.onHeartbeat !== undefined) spawner.hooks.heartbeat.add(hooks.onHeartbeat);
  if (hooks.onStarted !== undefined) spawner.hooks.started.add(hooks.onStarted);
  const built: Dispatcher[] = [];
  return {
    store,
    journal,
    events,
    registry,
    profiles,
    spawner,
    emitted,
    errors,
    profile: (input) => profiles.register(ProfileSchema.parse(input)).record,
    spawn: (profile, name) => spawner.spawn(profiles.require(profile), name === undefined ? {} : { name }),
    dispatcher(deps = {}) {
      const dispatcher = new Dispatcher({
        registry,
        journal,
        events,
        balancers: new Map([new RoundRobin(), new LeastLoaded(), new SkillAware()].map((b) => [b.name as BalancerName, b] as const)),
        defaultBalancer: () => "least-loaded",
        queueDepth: () => 100,
        crewAcceptsWork: () => true,
        onFinal: () => {},
        ...deps,
      });
      built.push(dispatcher);
      return dispatcher;
    },
    async close() {
      for (const dispatcher of built) {
        dispatcher.stop();
        dispatcher.runner.abandonRunning("test over");
      }
      await journal.drain();
      journal.close();
      await store.close();
    },
  };
}

/** The `task.state` moves of one task, as `from→to`. */
export function movesOf(emitted: readonly FactoryEvent[], task: Pick<Task, "id">): string[] {
  return emitted.filter((e) => e.type === "task.state" && e.taskId === task.id).map((e) => `${e.from}→${e.to}`);
}
