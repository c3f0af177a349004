import type { Agent } from "../core/agent.ts";
import { FactoryError } from "../core/errors.ts";
import { isWorkingState } from "../core/lifecycle.ts";
import type { Runner } from "../scheduler/runner.ts";
import type { Healer } from "../health/healer.ts";
import type { AgentRegistry } from "../state/agent-registry.ts";
import type { FactoryPhase } from "../state/factory-phase.ts";
import type { ProfileRegistry } from "../state/profile-registry.ts";

export interface ChaosDeps {
  enabled: boolean;
  registry: AgentRegistry;
  profiles: ProfileRegistry;
  healer: Pick<Healer, "replace">;
  runner: Pick<Runner, "setChaosLatency">;
  phase: FactoryPhase;
}

/** Chaos actions for resilience drills (`serve --chaos`): kill, freeze, added latency. */
export class Chaos {
  readonly #deps: ChaosDeps;

  constructor(deps: ChaosDeps) {
    this.#deps = deps;
  }

  get enabled(): boolean {
    return this.#deps.enabled;
  }

  /** Throws CHAOS_DISABLED (404) unless the factory was created with `chaos: true`. */
  #assertChaos(): void {
    this.#deps.phase.assertOpen();
    if (!this.#deps.enabled) throw new FactoryError("CHAOS_DISABLED", "chaos actions are off; start the server with --chaos to allow them");
  }

  /**
   * Kills an agent the hard way. A process agent gets `kill -9` from outside, and the factory
   * finds out as it would in real life (the process is gone); a function agent's runtime is
   * dropped as if it had crashed.
   */
  kill(id: string): { agentId: string; pid: number | null; at: string } {
    this.#assertChaos();
    const agent = this.#requireWorking(id);
    const pid = agent.pid;
    const at = new Date().toISOString();
    if (pid === null) this.#deps.healer.replace(agent, "chaos: killed", "lost");
    else {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        throw new FactoryError("ILLEGAL_TRANSITION", `agent ${id}'s process ${pid} has already exited; it is being replaced`, { details: { current: agent.state } });
      }
    }
    return { agentId: id, pid, at };
  }

  /** Freezes a process agent (SIGSTOP) for `ms`, then lets it go on (SIGCONT). */
  freeze(id: string, ms: number): { agentId: string; pid: number | null; at: string } {
    this.#assertChaos();
    const agent = this.#requireWorking(id);
    const handle = this.#deps.registry.handle(id);
    if (handle?.freeze === undefined) {
      throw new FactoryError("VALIDATION_FAILED", `agent ${id} is a ${this.#deps.profiles.version(agent.profile, agent.profileVersion)?.runtime.kind ?? "?"} agent; only process agents can be frozen`, { field: "agentId" });
    }
    const at = new Date().toISOString();
    handle.freeze(ms);
    return { agentId: id, pid: agent.pid, at };
  }

  /** Adds `ms` before every task's handler starts (0 turns it off). */
  latency(ms: number): { latencyMs: number } {
    this.#assertChaos();
    this.#deps.runner.setChaosLatency(ms);
    return { latencyMs: ms };
  }

  #requireWorking(id: string): Agent {
    const agent = this.#deps.registry.get(id);
    if (agent === undefined) throw new FactoryError("AGENT_NOT_FOUND", `no live agent with id '${id}'`, { field: "agentId" });
    if (!isWorkingState(agent.state)) {
      throw new FactoryError("ILLEGAL_TRANSITION", `agent ${id} is ${agent.state}; chaos picks READY, BUSY or IDLE agents`, { details: { current: agent.state } });
    }
    return agent;
  }
}
