import { isDeepStrictEqual } from "node:util";
import { FactoryError } from "../core/errors.ts";
import { HealthSettingsSchema, type Profile, type ProfileRecord } from "../core/schemas/profile.ts";

/**
 * Every version of every profile. Registering a profile equal to the latest version of its
 * name is a no-op; a changed one becomes version n+1. Versions are immutable, so agents keep
 * the one they were spawned from.
 */
export class ProfileRegistry {
  readonly #versions = new Map<string, ProfileRecord[]>();
  /** Bumped whenever a version is added, so caches of derived facts know to refresh. */
  epoch = 0;

  /** Adds stored versions; a version already known is kept as it is (loading again picks up what other nodes registered). */
  load(records: readonly ProfileRecord[]): void {
    for (const stored of records) {
      if (this.#versions.get(stored.name)?.some((known) => known.version === stored.version) === true) continue;
      // Versions stored before a settings block existed get its defaults.
      const record: ProfileRecord = stored.health === undefined ? { ...stored, health: HealthSettingsSchema.parse({}) } : stored;
      const list = this.#versions.get(record.name) ?? [];
      list.push(record);
      list.sort((a, b) => a.version - b.version);
      this.#versions.set(record.name, list);
    }
    this.epoch++;
  }

  /** Returns the version `profile` corresponds to, and whether it is new. */
  register(profile: Profile): { record: ProfileRecord; created: boolean } {
    const list = this.#versions.get(profile.name) ?? [];
    const latest = list.at(-1);
    if (latest !== undefined && isDeepStrictEqual(strip(latest), profile)) return { record: latest, created: false };
    // Frozen: versions are immutable, and agents share their arrays.
    const record: ProfileRecord = {
      ...profile,
      capabilities: Object.freeze([...profile.capabilities]) as string[],
      scopes: Object.freeze([...profile.scopes]) as typeof profile.scopes,
      version: (latest?.version ?? 0) + 1,
      createdAt: new Date().toISOString(),
    };
    list.push(record);
    this.#versions.set(profile.name, list);
    this.epoch++;
    return { record, created: true };
  }

  latest(name: string): ProfileRecord | undefined {
    return this.#versions.get(name)?.at(-1);
  }

  /** The latest version, or PROFILE_NOT_FOUND. */
  require(name: string, field = "profile"): ProfileRecord {
    const record = this.latest(name);
    if (record === undefined) throw new FactoryError("PROFILE_NOT_FOUND", `no profile named '${name}'`, { field });
    return record;
  }

  version(name: string, version: number): ProfileRecord | undefined {
    return this.#versions.get(name)?.find((r) => r.version === version);
  }

  versions(name: string): readonly ProfileRecord[] {
    return this.#versions.get(name) ?? [];
  }

  /** The latest version of each name, by name. */
  list(): ProfileRecord[] {
    return [...this.#versions.values()].map((list) => list.at(-1) as ProfileRecord).sort((a, b) => a.name.localeCompare(b.name));
  }
}

function strip(record: ProfileRecord): Profile {
  const { version: _v, createdAt: _c, ...profile } = record;
  return profile;
}
