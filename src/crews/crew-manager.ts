import type { Agent } from "../core/agent.ts";
import type { Crew, CrewMessage } from "../core/crew.ts";
import { assertCrewTransition, type CrewState } from "../core/crew-states.ts";
import { FactoryError, isFactoryError } from "../core/errors.ts";
import { newCrewId, newMessageId, newWalletAddress } from "../core/ids.ts";
import { LIVE_STATES } from "../core/lifecycle.ts";
import type { Bus, Unsubscribe } from "../core/ports/bus.ts";
import type { CrewAccess } from "../core/ports/runtime.ts";
import type { Store } from "../core/ports/store.ts";
import { jsonProblem } from "../core/schemas/json-value.ts";
import type { CrewManifest } from "../core/schemas/manifest.ts";
import type { ProfileRecord } from "../core/schemas/profile.ts";
import type { AgentRegistry } from "../state/agent-registry.ts";
import type { EventLog } from "../state/event-log.ts";
import type { Journal } from "../state/journal.ts";
import type { Spawner } from "../agents/spawner.ts";
import { Hook } from "../core/hook.ts";

export interface CrewManagerDeps {
  registry: AgentRegistry;
  spawner: Spawner;
  journal: Journal;
  events: EventLog;
  bus: Bus;
  store: Store;
  /** Resolves a manifest member to a registered profile version (registering inline ones). */
  resolveProfile(member: CrewManifest["members"][number], field: string): ProfileRecord;
  maxCrewSize: number;
  /** The other nodes of a cluster, for crews whose members run on several; absent on a single node. */
  peers?: CrewPeers;
}

/** What a crew whose members run on several nodes needs of the others (the factory implements it over their APIs). */
export interface CrewPeers {
  /** Live nodes other than this one that members may be placed on, in a stable order. */
  nodes(): Promise<string[]>;
  /** Spawns a member of `crew` on `node`; resolves with the agent once it is READY there. */
  spawnMember(node: string, crew: Crew, profile: ProfileRecord, name: string, scopes?: readonly string[]): Promise<Agent>;
  /** Ends a member another node runs (after an assembly that failed). */
  terminateMember(agentId: string, reason: string): Promise<void>;
  /** Delivers a signal to these members, which `node` runs; resolves with how many took it. */
  signal(node: string, crewId: string, agentIds: readonly string[], signal: string, payload: unknown, at: string): Promise<number>;
  /** The node each of these agents runs on now. */
  nodesOf(agentIds: readonly string[]): Promise<Map<string, string>>;
}

/** Topic names: like other names, plus '/' for hierarchy (`plans/draft`). */
const TOPIC_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;
/** Signals are UPPER_CASE so that `pause` cannot be mistaken for PAUSE and silently do nothing. */
const SIGNAL_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;
const CONTEXT_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,255}$/;

function checkJson(value: unknown, field: string): void {
  const problem = jsonProblem(value);
  if (problem !== undefined) throw new FactoryError("VALIDATION_FAILED", `${field}: ${problem}`, { field });
}

/** How long one member may take to accept a broadcast signal. */
const SIGNAL_TIMEOUT_MS = 5_000;

function rejectAfter(ms: number): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error("timed out")), ms).unref());
}

export const crewChannel = (crewId: string, topic: string): string => `crew:${crewId}:${topic}`;

/** Crews: atomic assembly, broadcast (PAUSE/RESUME), their bus and shared context, disbanding. */
export class CrewManager {
  readonly #deps: CrewManagerDeps;
  readonly #crews = new Map<string, Crew>();
  /**
   * Crews another node owns that this node runs members of: their state as the owner last said
   * (its `crew.state` events), never written here; the owner's row is the crew.
   */
  readonly #mirrors = new Map<string, Crew>();
  /** The crew's tasks that have not started are to be cancelled (it is ending or failed to assemble). */
  readonly ending = new Hook<[crewId: string, reason: string]>();
  /** The crew's members may take work again (or no longer). */
  readonly availabilityChanged = new Hook<[crew: Crew]>();

  constructor(deps: CrewManagerDeps) {
    this.#deps = deps;
    deps.registry.onChange((agent) => {
      if (agent.state === "TERMINATED" && agent.crewId !== null) {
        const crew = this.#crews.get(agent.crewId);
        if (crew?.state === "DISBANDING") this.#completeDisband(crew);
      }
    });
  }

  /** Takes crews read from the store at start-up. */
  load(crews: readonly Crew[]): void {
    for (const crew of crews) {
      this.#crews.set(crew.id, crew);
      // A crew this node ran members of and now owns (taken over): the mirror is done with.
      this.#mirrors.delete(crew.id);
    }
  }

  /** After a restart: crews caught assembling are dropped, crews caught disbanding finish it. */
  finishInterrupted(): void {
    for (const crew of [...this.#crews.values()]) {
      if (crew.state !== "ASSEMBLING" && crew.state !== "DISBANDING") continue;
      this.ending.emit(crew.id, `crew ${crew.id} was ${crew.state} when the factory stopped`);
      for (const id of crew.agentIds) {
        const agent = this.#deps.registry.get(id);
        if (agent !== undefined && agent.state !== "DRAINING") this.#deps.spawner.terminate(agent, "crew ended by restart");
      }
      if (crew.state === "ASSEMBLING") this.#setState(crew, "DISBANDED", "assembly interrupted by restart");
      else this.#completeDisband(crew);
    }
  }

  /** How many crews are live (not yet disbanded). */
  get size(): number {
    return this.#crews.size;
  }

  values(): IterableIterator<Crew> {
    return this.#crews.values();
  }

  /** A crew this node owns, or one it runs members of for another node (a mirror). */
  get(id: string): Crew | undefined {
    return this.#crews.get(id) ?? this.#mirrors.get(id);
  }

  /** Whether `id` is a crew another node owns, of which this node runs members. */
  isMirror(id: string): boolean {
    return this.#mirrors.has(id) && !this.#crews.has(id);
  }

  /** The crews this node mirrors (runs members of for another node). */
  mirrorIds(): string[] {
    return [...this.#mirrors.keys()].filter((id) => !this.#crews.has(id));
  }

  /** Keeps a copy of a crew another node owns, so the members this node runs take its work and see its state. */
  mirror(crew: Crew): void {
    if (this.#crews.has(crew.id) || crew.state === "DISBANDED") return;
    const known = this.#mirrors.get(crew.id);
    if (known === undefined) this.#mirrors.set(crew.id, { ...crew, agentIds: [...crew.agentIds] });
    else known.agentIds = [...new Set([...known.agentIds, ...crew.agentIds])];
  }

  /**
   * The owner of a mirrored crew changed its state: members here take work while it is ACTIVE;
   * when it ends, the members here are terminated and its queued tasks here cancelled.
   */
  applyRemoteState(crewId: string, to: CrewState): void {
    const crew = this.#mirrors.get(crewId);
    if (crew === undefined || this.#crews.has(crewId) || crew.state === to) return;
    crew.state = to;
    crew.updatedAt = new Date().toISOString();
    if (to === "DISBANDING" || to === "DISBANDED") {
      this.ending.emit(crewId, `crew ${crewId} was disbanded`);
      for (const agent of [...this.#deps.registry.values()]) {
        if (agent.crewId === crewId && agent.state !== "DRAINING" && agent.state !== "TERMINATED") this.#deps.spawner.terminate(agent, "crew disbanded");
      }
    }
    if (to === "DISBANDED") {
      this.#mirrors.delete(crewId);
      this.#access.delete(crewId);
    }
    this.availabilityChanged.emit(crew);
  }

  /** Members may take tasks only while the crew is ACTIVE. */
  acceptsWork(crewId: string): boolean {
    return this.get(crewId)?.state === "ACTIVE";
  }

  /** A crew that can still be addressed (not disbanding or disbanded), else 404/409. */
  requireOpen(crewId: string, field = "crewId"): Crew {
    const crew = this.get(crewId);
    if (crew === undefined) throw new FactoryError("CREW_NOT_FOUND", `no crew with id '${crewId}'`, { field });
    if (crew.state === "DISBANDING" || crew.state === "DISBANDED") {
      throw new FactoryError("CREW_NOT_ACTIVE", `crew ${crewId} is ${crew.state}`, { field, details: { current: crew.state } });
    }
    return crew;
  }

  async assemble(manifest: CrewManifest, options: { requestId?: string } = {}): Promise<{ crew: Crew; agents: Agent[] }> {
    const { registry, spawner, events } = this.#deps;
    // Resolve and validate everything before anything is spawned.
    const total = manifest.members.reduce((sum, m) => sum + m.count, 0);
    if (total > this.#deps.maxCrewSize) {
      throw new FactoryError("VALIDATION_FAILED", `members: a crew may have at most ${this.#deps.maxCrewSize} agents, this manifest asks for ${total}`, {
        field: "members",
      });
    }
    // Named profiles first, so a bad name leaves no inline profile registered.
    // One namespace is one node's: members on several nodes could not share it.
    if (manifest.network === "crew" && manifest.placement === "spread") {
      throw new FactoryError("VALIDATION_FAILED", "network: 'crew' shares one network namespace among members on one node; placement 'spread' would put them on several (use placement 'local', or network 'private')", { field: "network" });
    }
    const named = manifest.members.map((m, i) => (typeof m.profile === "string" ? this.#deps.resolveProfile(m, `members.${i}.profile`) : undefined));
    const plan = manifest.members.map((m, i) => {
      const profile = named[i] ?? this.#deps.resolveProfile(m, `members.${i}`);
      // A manifest narrows a profile's scopes for its members, never widens them.
      const wider = (m.scopes ?? []).filter((scope) => !profile.scopes.includes(scope));
      if (wider.length > 0) {
        throw new FactoryError("VALIDATION_FAILED", `members.${i}.scopes: ${wider.map((x) => `'${x}'`).join(", ")} not among profile ${profile.name}'s scopes (${profile.scopes.join(", ") || "none"}); a manifest may narrow scopes, not widen them`, { field: `members.${i}.scopes` });
      }
      if (manifest.network === "crew") refuseOutsideCrewNetwork(profile, i);
      return { profile, count: m.count, scopes: m.scopes };
    });
    const now = new Date().toISOString();
    const crew: Crew = {
      id: newCrewId(),
      name: manifest.name,
      description: manifest.description ?? null,
      state: "ASSEMBLING",
      agentIds: [],
      budget: manifest.budget ?? null,
      ...(manifest.mcpServers === undefined || manifest.mcpServers.length === 0 ? {} : { mcpServers: manifest.mcpServers }),
      walletAddress: newWalletAddress("CREW"),
      ...(manifest.network === "crew" ? { network: "crew" as const } : {}),
      ...memberScopesOf(plan),
      createdAt: now,
      updatedAt: now,
    };
    this.#crews.set(crew.id, crew);
    this.#deps.journal.put({
      kind: "wallet",
      // The balance is the ledger's; the budget is granted once the crew is ACTIVE.
      value: { address: crew.walletAddress, ownerKind: "crew", ownerId: crew.id, balance: 0, achievementTokens: 0, createdAt: now },
    });
    this.#persist(crew);
    events.emit({ type: "crew.state", crewId: crew.id, to: "ASSEMBLING", data: { name: crew.name, total, requestId: options.requestId ?? null } });

    const seen = new Map<string, number>();
    const specs = plan.flatMap(({ profile, count, scopes }) =>
      Array.from({ length: count }, () => {
        const n = (seen.get(profile.name) ?? 0) + 1;
        seen.set(profile.name, n);
        return { profile, name: `${profile.name}-${n}`, scopes };
      }),
    );
    // Spread: round-robin over this node and the live others (on a single node, all here).
    const peers = this.#deps.peers;
    const slots: Array<string | null> = [null, ...(manifest.placement === "spread" && peers !== undefined ? await peers.nodes() : [])];
    const snapshot: Crew = { ...crew, agentIds: [] };
    // The other nodes read the crew from the store before they run its members.
    if (slots.length > 1) await this.#deps.journal.commit();
    let ready = 0;
    const results = await Promise.allSettled(
      specs.map(async (spec, i) => {
        const node = slots[i % slots.length] ?? null;
        const agent =
          node === null || peers === undefined
            ? await spawner.spawn(spec.profile, { crewId: crew.id, name: spec.name, ...(spec.scopes === undefined ? {} : { scopes: spec.scopes }), ...(crew.network === undefined ? {} : { network: crew.network }) })
            : await peers.spawnMember(node, snapshot, spec.profile, spec.name, spec.scopes);
        ready++;
        events.emit({ type: "crew.assembly.progress", crewId: crew.id, data: { requestId: options.requestId ?? null, ready, total } });
        return agent;
      }),
    );
    const agents = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    crew.agentIds = agents.map((a) => a.id);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failure !== undefined) {
      for (const agent of agents) {
        const local = registry.get(agent.id);
        if (local !== undefined) {
          if (local.state !== "TERMINATED") spawner.terminate(local, "crew assembly failed");
        } else await peers?.terminateMember(agent.id, "crew assembly failed").catch(() => {}); // its node ends it with the crew otherwise
      }
      this.ending.emit(crew.id, `crew ${crew.id} failed to assemble`);
      this.#setState(crew, "DISBANDED", "assembly failed");
      const reason = failure.reason instanceof Error ? failure.reason.message : String(failure.reason);
      throw new FactoryError("CREW_ASSEMBLY_FAILED", `crew '${manifest.name}' was not assembled (nothing of it remains): ${reason}`, {
        cause: failure.reason,
        ...(isFactoryError(failure.reason) && failure.reason.field !== undefined ? { field: failure.reason.field } : {}),
      });
    }
    this.#setState(crew, "ACTIVE", "every member READY");
    return { crew, agents: agents.map((a) => registry.get(a.id) ?? a) };
  }

  /** Adds an agent spawned for the crew after assembly (a clone). */
  addMember(crewId: string, agentId: string): void {
    const crew = this.requireOpen(crewId);
    if (this.isMirror(crewId)) throw new FactoryError("VALIDATION_FAILED", `crew ${crewId} is run by another node of the cluster: add members through that node`, { field: "crewId" });
    crew.agentIds.push(agentId);
    crew.updatedAt = new Date().toISOString();
    this.#persist(crew);
    this.availabilityChanged.emit(crew);
  }

  /** Delivers a signal to every live member and records it on the crew bus. */
  async broadcast(crewId: string, signal: string, payload: unknown): Promise<CrewMessage> {
    const crew = this.requireOpen(crewId, "crewId");
    if (!SIGNAL_PATTERN.test(signal)) {
      throw new FactoryError("VALIDATION_FAILED", `signal: must be UPPER_CASE letters, digits and '_' (e.g. PAUSE, RESUME, MISSION_START), got '${signal.slice(0, 64)}'`, {
        field: "signal",
      });
    }
    checkJson(payload, "payload");
    if (crew.state === "ASSEMBLING") throw new FactoryError("CREW_NOT_ACTIVE", `crew ${crewId} is still ASSEMBLING`, { details: { current: crew.state } });
    if (signal === "PAUSE" && crew.state === "ACTIVE") this.#setState(crew, "PAUSED", "PAUSE broadcast");
    if (signal === "RESUME" && crew.state === "PAUSED") this.#setState(crew, "ACTIVE", "RESUME broadcast");
    const at = new Date().toISOString();
    const here = crew.agentIds.filter((id) => this.#deps.registry.get(id) !== undefined);
    const elsewhere = crew.agentIds.filter((id) => this.#deps.registry.get(id) === undefined);
    let delivered = await this.deliverSignal(crewId, here, signal, payload, at);
    const peers = this.#deps.peers;
    if (elsewhere.length > 0 && peers !== undefined) {
      // Members other nodes run: each node delivers to its own (a node that cannot be reached delivers none).
      const byNode = new Map<string, string[]>();
      for (const [id, node] of await peers.nodesOf(elsewhere).catch(() => new Map<string, string>())) byNode.set(node, [...(byNode.get(node) ?? []), id]);
      const counts = await Promise.all([...byNode].map(([node, ids]) => peers.signal(node, crewId, ids, signal, payload, at).catch(() => 0)));
      delivered += counts.reduce((n, c) => n + c, 0);
    }
    return this.#record(crew, "signals", signal, payload, delivered, at);
  }

  /** Delivers a signal to those of these members this node runs; resolves with how many took it. */
  async deliverSignal(crewId: string, agentIds: readonly string[], signal: string, payload: unknown, at: string): Promise<number> {
    let delivered = 0;
    await Promise.all(
      agentIds.map(async (id) => {
        const agent = this.#deps.registry.get(id);
        if (agent === undefined || agent.crewId !== crewId || !LIVE_STATES.has(agent.state)) return;
        const handle = this.#deps.registry.handle(id);
        if (handle === undefined) return;
        try {
          // One agent that never takes the signal must not hold the broadcast (it counts as not delivered).
          await Promise.race([handle.signal(signal, payload), rejectAfter(SIGNAL_TIMEOUT_MS)]);
        } catch {
          return;
        }
        agent.lastSignal = { signal, payload, at };
        this.#deps.registry.persist(agent);
        delivered++;
      }),
    );
    return delivered;
  }

  /** Publishes to a crew topic: subscribers get it at once, and it is kept with the crew's messages. */
  async publish(crewId: string, topic: string, payload: unknown): Promise<CrewMessage> {
    const crew = this.requireOpen(crewId, "crewId");
    if (!TOPIC_PATTERN.test(topic)) {
      throw new FactoryError("VALIDATION_FAILED", "topic: must be 1-128 letters, digits, '.', '_', '-' or '/', starting with a letter or digit", { field: "topic" });
    }
    checkJson(payload, "payload");
    return this.#record(crew, topic, null, payload, 0, new Date().toISOString());
  }

  subscribe(crewId: string, topic: string, handler: (message: CrewMessage) => void): Unsubscribe {
    this.requireOpen(crewId);
    return this.#deps.bus.subscribe(crewChannel(crewId, topic), (m) => handler(m as CrewMessage));
  }

  async listMessages(crewId: string, options: { topic?: string; afterSeq?: number; limit?: number } = {}): Promise<Array<CrewMessage & { seq: number }>> {
    await this.#deps.journal.commit();
    const events = await this.#deps.store.listEvents({
      crewId,
      types: ["crew.message"],
      ...(options.afterSeq === undefined ? {} : { afterSeq: options.afterSeq }),
      limit: options.topic === undefined ? (options.limit ?? 100) : 100_000,
    });
    const out = events.map((e) => ({ ...(e.data as unknown as CrewMessage), seq: e.seq }));
    const filtered = options.topic === undefined ? out : out.filter((m) => m.topic === options.topic);
    return filtered.slice(0, options.limit ?? 100);
  }

  async getContext(crewId: string): Promise<Record<string, unknown>> {
    this.#requireKnown(crewId);
    await this.#deps.journal.commit();
    return this.#deps.store.getContext(crewId);
  }

  async setContext(crewId: string, key: string, value: unknown): Promise<void> {
    this.requireOpen(crewId);
    this.#checkKey(key);
    if (value === undefined) throw new FactoryError("VALIDATION_FAILED", "value: required (use delete to remove a key)", { field: "value" });
    checkJson(value, "value");
    this.#deps.journal.put({ kind: "context", crewId, key, value, deleted: false });
    this.#deps.events.emit({ type: "crew.context", crewId, data: { key, op: "set" } });
    await this.#deps.journal.commit();
  }

  async deleteContext(crewId: string, key: string): Promise<void> {
    this.requireOpen(crewId);
    this.#checkKey(key);
    this.#deps.journal.put({ kind: "context", crewId, key, value: null, deleted: true });
    this.#deps.events.emit({ type: "crew.context", crewId, data: { key, op: "delete" } });
    await this.#deps.journal.commit();
  }

  readonly #access = new Map<string, CrewAccess>();

  /** What an agent of the crew sees of it (one object per crew, shared by its members). */
  access(crewId: string): CrewAccess {
    let access = this.#access.get(crewId);
    if (access === undefined) {
      access = this.#newAccess(crewId);
      this.#access.set(crewId, access);
    }
    return access;
  }

  #newAccess(crewId: string): CrewAccess {
    return {
      crewId,
      get: async (key) => (await this.getContext(crewId))[key],
      keys: async () => Object.keys(await this.getContext(crewId)),
      set: (key, value) => this.setContext(crewId, key, value),
      publish: async (topic, payload) => {
        await this.publish(crewId, topic, payload);
      },
    };
  }

  /** Drains and terminates the members; the crew is DISBANDED when the last one is gone. */
  disband(crewId: string, reason = "disbanded"): Crew {
    const crew = this.#crews.get(crewId);
    if (crew === undefined) throw new FactoryError("CREW_NOT_FOUND", `no crew with id '${crewId}'`);
    if (crew.state === "DISBANDING") return crew;
    if (crew.state === "ASSEMBLING") {
      throw new FactoryError("CREW_NOT_ACTIVE", `crew ${crewId} is still ASSEMBLING; disband it once assembly has ended`, { details: { current: crew.state } });
    }
    this.#setState(crew, "DISBANDING", reason);
    this.ending.emit(crewId, `crew ${crewId} was disbanded`);
    for (const id of crew.agentIds) {
      const agent = this.#deps.registry.get(id);
      if (agent !== undefined && agent.state !== "DRAINING") this.#deps.spawner.terminate(agent, `crew ${reason}`);
    }
    this.#completeDisband(crew);
    return crew;
  }

  #completeDisband(crew: Crew): void {
    if (crew.state !== "DISBANDING") return;
    if (crew.agentIds.every((id) => this.#deps.registry.get(id) === undefined)) this.#setState(crew, "DISBANDED", "every member terminated");
  }

  #record(crew: Crew, topic: string, signal: string | null, payload: unknown, delivered: number, at: string): CrewMessage {
    const message: CrewMessage = { id: newMessageId(), crewId: crew.id, topic, signal, payload: payload ?? null, delivered, at };
    this.#deps.events.emit({ type: "crew.message", crewId: crew.id, data: message as unknown as Record<string, unknown> });
    this.#deps.bus.publish(crewChannel(crew.id, topic), message);
    return message;
  }

  #requireKnown(crewId: string): Crew {
    const crew = this.get(crewId);
    if (crew === undefined) throw new FactoryError("CREW_NOT_FOUND", `no crew with id '${crewId}'`);
    return crew;
  }

  #checkKey(key: string): void {
    if (!CONTEXT_KEY_PATTERN.test(key)) {
      throw new FactoryError("VALIDATION_FAILED", "key: must be 1-256 letters, digits, '.', '_', ':', '/' or '-', starting with a letter or digit", {
        field: "key",
      });
    }
  }

  /** The one place a crew changes state: checked against CREW_TRANSITIONS, then persisted and emitted. */
  #setState(crew: Crew, to: CrewState, reason: string): void {
    // A mirror follows its owner's events (applyRemoteState); only the owner changes a crew.
    if (this.isMirror(crew.id)) throw new FactoryError("VALIDATION_FAILED", `crew ${crew.id} is run by another node of the cluster: change it through that node`, { field: "crewId" });
    const from = crew.state;
    assertCrewTransition(from, to, crew.id);
    crew.state = to;
    crew.updatedAt = new Date().toISOString();
    this.#persist(crew);
    this.#deps.events.emit({ type: "crew.state", crewId: crew.id, from, to, data: { reason } });
    if (to === "DISBANDED") {
      this.#crews.delete(crew.id);
      this.#mirrors.delete(crew.id);
      this.#access.delete(crew.id);
    }
    this.availabilityChanged.emit(crew);
  }

  #persist(crew: Crew): void {
    this.#deps.journal.put({ kind: "crew", value: crew });
  }
}

/**
 * A member of a `network: crew` crew whose process leaves the crew's namespace some other way
 * is refused: egress (the host's network) or no sandbox (the host's network, as the factory)
 * would make the crew network a fence with a gate in it. Function and llm agents run inside the
 * factory and have no namespace to join: the crew network is about its process agents.
 */
function refuseOutsideCrewNetwork(profile: ProfileRecord, i: number): void {
  if (profile.runtime.kind !== "process") return;
  const why = profile.sandbox?.kind === "none" ? "is unsandboxed (sandbox.kind none)" : profile.sandbox?.allowEgress === true ? "allows egress (sandbox.allowEgress)" : undefined;
  if (why === undefined) return;
  throw new FactoryError("VALIDATION_FAILED", `members.${i}: profile ${profile.name} ${why}, so it would be on the host's network, outside the crew network that network: 'crew' promises its members`, { field: `members.${i}.profile` });
}

/** The narrowest scopes the manifest gave each profile's members (several entries of one profile: what all of them allow). */
function memberScopesOf(plan: ReadonlyArray<{ profile: { name: string; scopes: readonly string[] }; scopes?: readonly string[] | undefined }>): { memberScopes?: Record<string, string[]> } {
  const narrowed: Record<string, string[]> = {};
  for (const { profile, scopes } of plan) {
    const given = scopes ?? profile.scopes;
    const before = narrowed[profile.name];
    narrowed[profile.name] = before === undefined ? [...given] : before.filter((s) => given.includes(s));
  }
  // Only profiles whose members got fewer scopes than the profile gives need remembering.
  const kept = Object.fromEntries(Object.entries(narrowed).filter(([name, scopes]) => plan.some((p) => p.profile.name === name && p.profile.scopes.some((s) => !scopes.includes(s)))));
  return Object.keys(kept).length === 0 ? {} : { memberScopes: kept };
}
