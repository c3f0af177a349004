import { Hook } from "../core/hook.ts";
import type { Agent } from "../core/agent.ts";
import type { EventLog } from "./event-log.ts";
import type { Journal } from "./journal.ts";
import { assertTransition, type AgentState } from "../core/lifecycle.ts";
import type { AgentHandle } from "../core/ports/runtime.ts";

/** Called after every state or load change, so the scheduler can react. */
export type AgentListener = (agent: Agent, from: AgentState | null) => void;

/**
 * The agents this factory holds in memory (every agent not TERMINATED), their runtime handles,
 * and the one place their state changes: `transition` checks the lifecycle table, persists the
 * agent through the journal and emits the event.
 */
export class AgentRegistry {
  readonly #agents = new Map<string, Agent>();
  readonly #handles = new Map<string, AgentHandle>();
  readonly #journal: Journal;
  readonly #events: EventLog;
  readonly #listeners: AgentListener[] = [];
  /**
   * An agent reached TERMINATED and left the registry: for what others keep per agent (crash-loop
   * records, affinity sleepers, log budgets), so they need not filter every change for it.
   */
  readonly terminated = new Hook<[agent: Agent]>();
  /** Agents changed (load, stats) since they were last written. */
  readonly #dirty = new Set<Agent>();

  constructor(journal: Journal, events: EventLog) {
    this.#journal = journal;
    this.#events = events;
  }

  onChange(listener: AgentListener): void {
    this.#listeners.push(listener);
  }

  get size(): number {
    return this.#agents.size;
  }

  get(id: string): Agent | undefined {
    return this.#agents.get(id);
  }

  values(): IterableIterator<Agent> {
    return this.#agents.values();
  }

  handle(id: string): AgentHandle | undefined {
    return this.#handles.get(id);
  }

  setHandle(id: string, handle: AgentHandle | undefined): void {
    if (handle === undefined) this.#handles.delete(id);
    else this.#handles.set(id, handle);
  }

  /** Adds an agent (new, or restored from the store) and announces its current state. */
  add(agent: Agent, reason: string): void {
    this.#agents.set(agent.id, agent);
    this.persist(agent);
    this.#events.emit({ type: "agent.state", agentId: agent.id, ...(agent.crewId === null ? {} : { crewId: agent.crewId }), to: agent.state, data: { reason } });
    this.#notify(agent, null);
  }

  /** Moves an agent along the lifecycle; throws ILLEGAL_TRANSITION (409) for a move not in the table. */
  transition(agent: Agent, to: AgentState, reason: string): void {
    const from = agent.state;
    assertTransition(from, to, agent.id);
    agent.state = to;
    this.persist(agent);
    this.#events.emit({
      type: "agent.state",
      agentId: agent.id,
      ...(agent.crewId === null ? {} : { crewId: agent.crewId }),
      from,
      to,
      data: { reason },
    });
    if (to === "TERMINATED") {
      this.#agents.delete(agent.id);
      this.#dirty.delete(agent);
      const handle = this.#handles.get(agent.id);
      this.#handles.delete(agent.id);
      if (handle !== undefined) void handle.stop().catch(() => {});
    }
    this.#notify(agent, from);
    if (to === "TERMINATED") this.terminated.emit(agent);
  }

  /**
   * Lets go of a hibernated agent: its store row (written on its way to HIBERNATING) is all
   * that remains of it until it is woken.
   */
  evict(agent: Agent): void {
    if (this.#agents.get(agent.id) !== agent) return;
    this.#agents.delete(agent.id);
    this.#handles.delete(agent.id);
    this.#dirty.delete(agent);
  }

  /**
   * Announces a change that is not a transition (load, stats) to the scheduler. Not written to
   * the store here: load starts from 0 after a restart anyway, and stats go with the agent's
   * next write (a transition, a saved context, a signal, or the factory's close).
   */
  touch(agent: Agent): void {
    this.#dirty.add(agent);
    this.#notify(agent, agent.state);
  }

  /** Writes every agent with unwritten stats (at shutdown). */
  persistDirty(): number {
    const n = this.#dirty.size;
    for (const agent of [...this.#dirty]) if (agent.state !== "TERMINATED") this.persist(agent);
    this.#dirty.clear();
    return n;
  }

  persist(agent: Agent): void {
    this.#dirty.delete(agent);
    agent.updatedAt = new Date().toISOString();
    // The live record: the journal writes whatever state it holds at flush time, which is newer.
    this.#journal.put({ kind: "agent", value: agent });
  }

  #notify(agent: Agent, from: AgentState | null): void {
    for (const listener of this.#listeners) listener(agent, from);
  }
}
