import { FactoryError } from "../core/errors.ts";
import type { AgentRuntime } from "../core/ports/runtime.ts";
import { parseWith } from "../core/schemas/parse.ts";
import { ProfileSchema, type Profile, type ProfileInput, type ProfileRecord } from "../core/schemas/profile.ts";
import type { EventLog } from "../state/event-log.ts";
import type { Journal } from "../state/journal.ts";
import type { ProfileRegistry } from "../state/profile-registry.ts";

export interface ProfilesDeps {
  registry: ProfileRegistry;
  journal: Journal;
  events: EventLog;
  /** The runtime that runs a profile: it checks what only it understands (a handler name, a command). */
  runtimeFor(profile: Pick<ProfileRecord, "runtime">): AgentRuntime;
}

/** Registering profiles (validated by their runtime, versioned) and reading them back. */
export class Profiles {
  readonly #deps: ProfilesDeps;

  constructor(deps: ProfilesDeps) {
    this.#deps = deps;
  }

  /** Registers a profile (typed; still validated at run time, naming the field at fault); a changed one becomes a new version. */
  register(input: ProfileInput): { profile: ProfileRecord; created: boolean } {
    return this.registerValidated(parseWith(ProfileSchema, input, "profile"), undefined);
  }

  /** Registers a parsed profile; `fieldPrefix` names where it came from (`config`, `members.0.profile`) in errors. */
  registerValidated(profile: Profile, fieldPrefix: string | undefined): { profile: ProfileRecord; created: boolean } {
    try {
      // Skill packs are mounted into a sandbox: function and llm agents run inside the factory and have none.
      if ((profile.skills?.length ?? 0) > 0 && profile.runtime.kind !== "process") {
        throw new FactoryError("VALIDATION_FAILED", `skills: skill packs are mounted into a process agent's sandbox at /skills/<name>; a ${profile.runtime.kind} agent has no sandbox`, { field: "skills" });
      }
      this.#deps.runtimeFor(profile).validate(profile);
    } catch (error) {
      if (fieldPrefix !== undefined && error instanceof FactoryError && error.field !== undefined) {
        throw new FactoryError(error.code, `${fieldPrefix}.${error.message}`, { field: `${fieldPrefix}.${error.field}` });
      }
      throw error;
    }
    const { record, created } = this.#deps.registry.register(profile);
    if (created) {
      this.#deps.journal.put({ kind: "profile", value: record });
      this.#deps.events.emit({ type: "profile.registered", data: { name: record.name, version: record.version } });
    }
    return { profile: record, created };
  }

  /** The latest version of each profile. */
  list(): ProfileRecord[] {
    return this.#deps.registry.list();
  }

  /** A profile's latest version, or the given one. */
  get(name: string, version?: number): ProfileRecord {
    const record = version === undefined ? this.#deps.registry.latest(name) : this.#deps.registry.version(name, version);
    if (record === undefined) {
      throw new FactoryError("PROFILE_NOT_FOUND", version === undefined ? `no profile named '${name}'` : `profile '${name}' has no version ${version}`);
    }
    return record;
  }

  versions(name: string): readonly ProfileRecord[] {
    this.get(name);
    return this.#deps.registry.versions(name);
  }
}
