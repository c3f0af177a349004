import type { Agent } from "../core/agent.ts";
import { isWorkingState, type AgentState } from "../core/lifecycle.ts";
import type { Logger } from "../core/ports/logger.ts";
import type { ProfileRecord } from "../core/schemas/profile.ts";
import { Samples } from "../core/samples.ts";
import type { DurationSummary } from "../core/stats.ts";
import type { Runner } from "../scheduler/runner.ts";
import type { AgentRegistry } from "../state/agent-registry.ts";
import type { FactoryPhase } from "../state/factory-phase.ts";
import type { ProfileRegistry } from "../state/profile-registry.ts";

/** An agent that dies within this long of starting is dying young (crash-loop guard). */
const CRASH_LOOP_UPTIME_MS = 3_000;
/** Young deaths in a row after which an agent is given up on. */
const CRASH_LOOP_LIMIT = 5;

export type HealKind = "lost" | "silent" | "stuck" | "quality";

/** What healing needs of whoever starts agents (the spawner, one layer up, satisfies it). */
export interface Restarter {
  /** Stops listening to the agent's current runtime. */
  retire(agent: Agent): unknown;
  /** Starts the agent again under the same id (UNHEALTHY → PROVISIONING → … → READY). */
  reprovision(agent: Agent, profile: ProfileRecord, reason: string): Promise<void>;
}

export interface HealerDeps {
  registry: AgentRegistry;
  profiles: ProfileRegistry;
  runner: Pick<Runner, "abandonAgent">;
  restarter: Restarter;
  phase: FactoryPhase;
  logger: Logger;
}

/**
 * Same-id replacement of dead or hopeless agents, with a crash-loop guard, and the figures of
 * how long detection and replacement took.
 */
export class Healer {
  readonly #deps: HealerDeps;
  /** Losses in a row, each soon after the agent started (crash-loop guard). */
  readonly #youngLosses = new Map<string, number>();
  /** When each agent last became READY. */
  readonly #readyAt = new Map<string, number>();
  readonly #replaced: Record<HealKind, number> = { lost: 0, silent: 0, stuck: 0, quality: 0 };
  #givenUp = 0;
  readonly #detectionMs = new Samples(1_024);
  readonly #replacementMs = new Samples(1_024);

  constructor(deps: HealerDeps) {
    this.#deps = deps;
    deps.registry.terminated.add((agent) => this.forget(agent.id));
  }

  /** The agent is READY with a fresh runtime: its uptime counts from now. */
  started(agent: Agent): void {
    this.#readyAt.set(agent.id, Date.now());
  }

  /** The agent left memory (ended or asleep): its crash-loop record goes. */
  forget(agentId: string): void {
    this.#readyAt.delete(agentId);
    this.#youngLosses.delete(agentId);
  }

  /**
   * Takes a dead or hopeless agent down and brings it back under the same id, wallet, crew and
   * saved context (`restarts` + 1). `lost`: its runtime died (the process exited); `silent`: it
   * missed its heartbeats; `stuck`: a handler stayed stuck after it was cancelled; `quality`: its
   * success rate fell below the profile's minimum (it was drained first). Its running tasks go
   * back to the queue at once (attempts counted); what is left of the old runtime is killed
   * before the replacement starts (they share the workspace), and anything it still says is
   * ignored. A draining agent just ends. An agent that dies young 5 times in a row (a crash
   * loop) is given up on.
   */
  replace(agent: Agent, reason: string, kind: HealKind, silence?: { silentMs: number; neverHeard: boolean }): void {
    const { registry, runner, restarter, phase, logger } = this.#deps;
    if (!phase.started) return;
    if (!isWorkingState(agent.state) && agent.state !== "DRAINING") return;
    const detectedAt = Date.now();
    const handle = registry.handle(agent.id);
    registry.setHandle(agent.id, undefined);
    restarter.retire(agent);
    agent.pid = null;
    runner.abandonAgent(agent, `agent ${agent.id} ${kind === "lost" ? "was lost" : "is being replaced"}: ${reason}`);
    const gone = handle === undefined ? Promise.resolve() : (handle.kill?.() ?? handle.stop()).catch((error: unknown) => logger.error(`ending agent ${agent.id}'s runtime failed`, error));
    if (agent.state === "DRAINING") {
      registry.transition(agent, "TERMINATED", reason);
      // Terminated, so its workspace goes too.
      void gone.then(() => handle?.stop()).catch(() => {});
      return;
    }
    if (silence !== undefined) this.#detectionMs.add(silence.silentMs);
    registry.transition(agent, "UNHEALTHY", reason);
    this.#replaced[kind]++;
    // Dying young: soon after starting, or silent without ever having said a word since.
    const young = kind !== "quality" && (silence?.neverHeard === true || detectedAt - (this.#readyAt.get(agent.id) ?? 0) < CRASH_LOOP_UPTIME_MS);
    const inARow = young ? (this.#youngLosses.get(agent.id) ?? 0) + 1 : 0;
    this.#youngLosses.set(agent.id, inARow);
    const profile = this.#deps.profiles.version(agent.profile, agent.profileVersion);
    if (profile === undefined || inARow >= CRASH_LOOP_LIMIT) {
      registry.transition(agent, "TERMINATED", profile === undefined ? "its profile version is gone" : `died within ${CRASH_LOOP_UPTIME_MS} ms of starting ${inARow} times in a row: given up`);
      this.#youngLosses.delete(agent.id);
      this.#givenUp++;
      return;
    }
    void gone.then(async () => {
      if (agent.state !== "UNHEALTHY" || !phase.started) return;
      try {
        await restarter.reprovision(agent, profile, `replacing: ${reason}`);
        this.#replacementMs.add(Date.now() - detectedAt);
      } catch (error) {
        logger.error(`agent ${agent.id} could not be replaced`, error);
        // A failed start already ended it; anything else still standing is ended here.
        const now = agent.state as AgentState;
        if (now !== "TERMINATED") registry.transition(agent, now === "UNHEALTHY" || now === "PROVISIONING" || now === "WARMING" ? "TERMINATED" : "DRAINING", "replacement failed");
      }
    });
  }

  stats(): { replaced: Record<HealKind, number>; givenUp: number; detectionMs: DurationSummary; replacementMs: DurationSummary } {
    return { replaced: { ...this.#replaced }, givenUp: this.#givenUp, detectionMs: this.#detectionMs.summary(), replacementMs: this.#replacementMs.summary() };
  }
}
