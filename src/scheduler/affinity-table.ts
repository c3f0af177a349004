/**
 * Affinity bindings: key → agent id, each expiring `ttlMs` after its last use, and the least
 * recently used evicted past `maxBindings` (seed 003's affinity had no eviction at all).
 */
export class AffinityTable {
  readonly #ttlMs: number;
  readonly #max: number;
  /** Map order is recency: a use moves the entry to the end. */
  readonly #bindings = new Map<string, { agentId: string; expiresAt: number }>();
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
    if (binding.expiresAt <= now) return undefined;
    binding.expiresAt = now + this.#ttlMs;
    this.#bindings.set(key, binding);
    return binding.agentId;
  }

  bind(key: string, agentId: string, now = Date.now()): void {
    this.#bindings.delete(key);
    this.#bindings.set(key, { agentId, expiresAt: now + this.#ttlMs });
    while (this.#bindings.size > this.#max) {
      const oldest = this.#bindings.keys().next().value as string;
      this.#bindings.delete(oldest);
      this.evictions++;
    }
  }

  /** Drops every binding to an agent that is gone. */
  forgetAgent(agentId: string): void {
    for (const [key, binding] of this.#bindings) if (binding.agentId === agentId) this.#bindings.delete(key);
  }

  /** How many bindings point at this agent (the scaler leaves such agents alone). */
  countFor(agentId: string, now = Date.now()): number {
    let n = 0;
    for (const binding of this.#bindings.values()) if (binding.agentId === agentId && binding.expiresAt > now) n++;
    return n;
  }
}
