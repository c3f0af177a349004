/**
 * Affinity bindings: key → agent id, each expiring `ttlMs` after its last use, and the least
 * recently used evicted past `maxBindings` (seed 003's affinity had no eviction at all).
 */
export class AffinityTable {
  readonly #ttlMs: number;
  readonly #max: number;
  /** Map order is recency: a use moves the entry to the end. */
  readonly #bindings = new Map<string, { agentId: string; expiresAt: number }>();
  /** Keys bound to each agent, so forgetting or counting an agent's bindings does not scan them all. */
  readonly #byAgent = new Map<string, Set<string>>();
  evictions = 0;

  constructor(options: { ttlMs: number; maxBindings: number }) {
    this.#ttlMs = options.ttlMs;
    this.#max = options.maxBindings;
  }

  get size(): number {
    return this.#bindings.size;
  }

  /** The bound agent, refreshing the binding; undefined if none or expired. */
  get(key: string, now = Date.now()): string | undefined {
    const binding = this.#bindings.get(key);
    if (binding === undefined) return undefined;
    this.#bindings.delete(key);
    if (binding.expiresAt <= now) {
      this.#unindex(key, binding.agentId);
      return undefined;
    }
    binding.expiresAt = now + this.#ttlMs;
    this.#bindings.set(key, binding);
    return binding.agentId;
  }

  bind(key: string, agentId: string, now = Date.now()): void {
    const previous = this.#bindings.get(key);
    if (previous !== undefined) {
      this.#bindings.delete(key);
      this.#unindex(key, previous.agentId);
    }
    this.#bindings.set(key, { agentId, expiresAt: now + this.#ttlMs });
    let keys = this.#byAgent.get(agentId);
    if (keys === undefined) {
      keys = new Set();
      this.#byAgent.set(agentId, keys);
    }
    keys.add(key);
    while (this.#bindings.size > this.#max) {
      const [oldest, binding] = this.#bindings.entries().next().value as [string, { agentId: string }];
      this.#bindings.delete(oldest);
      this.#unindex(oldest, binding.agentId);
      this.evictions++;
    }
  }

  /** Drops every binding to an agent that is gone. */
  forgetAgent(agentId: string): void {
    for (const key of this.#byAgent.get(agentId) ?? []) this.#bindings.delete(key);
    this.#byAgent.delete(agentId);
  }

  /** How many bindings point at this agent (the scaler retires such agents last). Expired ones may still count until used. */
  countFor(agentId: string): number {
    return this.#byAgent.get(agentId)?.size ?? 0;
  }

  #unindex(key: string, agentId: string): void {
    const keys = this.#byAgent.get(agentId);
    if (keys === undefined) return;
    keys.delete(key);
    if (keys.size === 0) this.#byAgent.delete(agentId);
  }
}
