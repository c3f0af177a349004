import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { FactoryError } from "../core/errors.ts";
import { OPERATOR_ROLES, type OperatorKey, type OperatorRole, type StoredOperatorKey } from "../core/operator-key.ts";
import type { Store } from "../core/ports/store.ts";

/** Secrets look like `afk_<id>_<43 base64url characters>`: 32 random bytes, and the key's id to find it by. */
const SECRET = /^afk_(k[0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** How long keys read from the store are trusted: the longest another node keeps accepting a key revoked elsewhere. */
export const KEY_CACHE_MS = 1_000;
const MAX_CREWS = 100;

export interface OperatorKeysDeps {
  store: Store;
  /** Where a key's crews are looked up (rejects when there is no such crew). */
  crews: { get(id: string): Promise<unknown> };
  /** Default: KEY_CACHE_MS. */
  cacheMs?: number;
  now?: () => number;
}

/** What `create` returns: the key, and its secret — the one time it is shown. */
export interface CreatedOperatorKey extends OperatorKey {
  secret: string;
}

/**
 * Operator keys, kept in the store (hashed) so every node of a cluster knows them. Each node
 * reads the whole list (keys are few) and trusts it for at most `cacheMs`: a key revoked on this
 * node stops working here at once, and on the others within that time.
 */
export class OperatorKeys {
  readonly #deps: OperatorKeysDeps;
  readonly #cacheMs: number;
  #cache: { at: number; keys: Map<string, StoredOperatorKey> } | undefined;
  #loading: Promise<Map<string, StoredOperatorKey>> | undefined;
  /** Keys revoked through this node (ids are random, never reused): a read of the store begun before the revocation must not bring one back. */
  readonly #revoked = new Set<string>();

  constructor(deps: OperatorKeysDeps) {
    this.#deps = deps;
    this.#cacheMs = deps.cacheMs ?? KEY_CACHE_MS;
  }

  /** Validates a key's input (naming the field at fault); the trimmed name and the crews without repeats. */
  check(input: { name: string; role: OperatorRole; crews?: readonly string[] | undefined }): { name: string; crews: string[] | null } {
    const name = input.name.trim();
    if (name.length === 0 || name.length > 128) throw new FactoryError("VALIDATION_FAILED", "name: must be 1 to 128 characters", { field: "name" });
    if (!(OPERATOR_ROLES as readonly string[]).includes(input.role)) throw new FactoryError("VALIDATION_FAILED", `role: must be one of ${OPERATOR_ROLES.join(", ")}`, { field: "role" });
    let crews: string[] | null = null;
    if (input.crews !== undefined) {
      crews = [...new Set(input.crews)];
      if (crews.length === 0 || crews.length > MAX_CREWS) throw new FactoryError("VALIDATION_FAILED", `crews: give 1 to ${MAX_CREWS} crew ids, or leave it out for a key not limited to crews`, { field: "crews" });
      // An admin manages keys and server settings, which belong to no crew: a limit would mean nothing.
      if (input.role === "admin") throw new FactoryError("VALIDATION_FAILED", "crews: an admin key cannot be limited to crews (use role operator or viewer)", { field: "crews" });
    }
    return { name, crews };
  }

  /** Makes a key; the secret is in the answer and nowhere else. */
  async create(input: { name: string; role: OperatorRole; crews?: readonly string[] | undefined }): Promise<CreatedOperatorKey> {
    const { name, crews } = this.check(input);
    for (const [i, crewId] of (crews ?? []).entries()) {
      await this.#deps.crews.get(crewId).catch((error: unknown) => {
        throw new FactoryError("CREW_NOT_FOUND", `crews.${i}: no crew with id '${crewId}'`, { field: `crews.${i}`, cause: error });
      });
    }
    const id = `k${randomBytes(8).toString("hex")}`;
    const secret = `afk_${id}_${randomBytes(32).toString("base64url")}`;
    const key: StoredOperatorKey = { id, name, role: input.role, crews, createdAt: new Date(this.#now()).toISOString(), secretHash: hashOf(secret) };
    await this.#deps.store.putOperatorKey(key);
    this.#cache?.keys.set(id, key);
    return { ...view(key), secret };
  }

  /** Every key, oldest first, without secrets (read from the store: what every node sees). */
  async list(): Promise<OperatorKey[]> {
    return [...(await this.#load(true)).values()].map(view);
  }

  /** Revokes a key: it stops working on this node now, and on others within `cacheMs`. */
  async revoke(id: string): Promise<void> {
    this.#revoked.add(id);
    this.#cache?.keys.delete(id);
    if (!(await this.#deps.store.deleteOperatorKey(id))) throw new FactoryError("NOT_FOUND", `no operator key with id '${id}'`, { field: "id" });
  }

  /** Whether any key is stored (then every `/v1` route needs one). */
  async any(): Promise<boolean> {
    return (await this.#load(false)).size > 0;
  }

  /** The key whose secret this is, or undefined (unknown, revoked, malformed). Constant-time on the hash. */
  async authenticate(secret: string): Promise<OperatorKey | undefined> {
    const match = SECRET.exec(secret);
    if (match === null) return undefined;
    const key = (await this.#load(false)).get(match[1] as string);
    if (key === undefined) return undefined;
    const given = Buffer.from(hashOf(secret), "hex");
    const stored = Buffer.from(key.secretHash, "hex");
    return given.length === stored.length && timingSafeEqual(given, stored) ? view(key) : undefined;
  }

  /** The keys, from the cache while it is fresh, else from the store (one read at a time). */
  async #load(fresh: boolean): Promise<Map<string, StoredOperatorKey>> {
    const cache = this.#cache;
    if (!fresh && cache !== undefined && this.#now() - cache.at < this.#cacheMs) return cache.keys;
    this.#loading ??= (async () => {
      const at = this.#now();
      try {
        const keys = new Map((await this.#deps.store.listOperatorKeys()).filter((k) => !this.#revoked.has(k.id)).map((k) => [k.id, k]));
        this.#cache = { at, keys };
        return keys;
      } finally {
        this.#loading = undefined;
      }
    })();
    return this.#loading;
  }

  #now(): number {
    return (this.#deps.now ?? Date.now)();
  }
}

function hashOf(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

function view(key: StoredOperatorKey): OperatorKey {
  return { id: key.id, name: key.name, role: key.role, crews: key.crews === null ? null : [...key.crews], createdAt: key.createdAt };
}
