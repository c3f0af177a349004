import { closeSync, fstatSync, statSync } from "node:fs";
import { sep } from "node:path";
import { FactoryError, type ErrorCode } from "../../core/errors.ts";
import type { SandboxSpec, SkillPack } from "../../core/schemas/profile.ts";
import type { AgentFiles, OpenAgentFile } from "./agent-files.ts";

/** Folders that are the system's own: an agent already gets what it needs of them, read-only, and a pack of one would only widen that. */
const SYSTEM = ["/", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/boot", "/root", "/var", "/run", "/home", "/opt", "/srv", "/tmp", "/mnt", "/media"];
/** Trees that hold the host's secrets and boot files: nothing under them is a skill pack. */
const SECRET = ["/etc", "/boot", "/root"];

const pathField = (i: number): string => `skills.${i}.path`;

/**
 * A profile's skill packs (`skills: [{ name, path }]`): host folders mounted read-only at
 * `/skills/<name>`. Their paths follow the rules of `runtime.files` (AgentFiles: under a folder
 * the operator allows, never in or around the data folder, /proc, /sys or /dev), and each must be
 * a folder that is not a system one. Only a sandbox has a /skills to mount them at: an
 * unsandboxed profile with packs is refused rather than left to find them on the host.
 */
export class SkillPacks {
  readonly #files: AgentFiles;

  constructor(files: AgentFiles) {
    this.#files = files;
  }

  /** The packs' real folders, or a FactoryError (`code`) naming `skills` or `skills.N.path`. */
  check(skills: readonly SkillPack[], spec: SandboxSpec, code: ErrorCode = "VALIDATION_FAILED"): string[] {
    if (skills.length === 0) return [];
    if (spec.kind === "none") {
      throw new FactoryError(code, "skills: skill packs are mounted into the agent's sandbox at /skills/<name>; an unsandboxed agent (sandbox.kind none) has none (it runs on the host: give it the folders' paths instead)", { field: "skills" });
    }
    const real = this.#files.resolve(skills.map((s) => s.path), code, pathField);
    for (const [i, path] of real.entries()) {
      const field = pathField(i);
      if (!statSync(path).isDirectory()) throw new FactoryError(code, `${field}: ${skills[i]?.path} is not a folder: a skill pack is a folder, mounted at /skills/${skills[i]?.name}`, { field });
      if (SYSTEM.includes(path) || SECRET.some((dir) => path.startsWith(`${dir}${sep}`))) {
        throw new FactoryError(code, `${field}: ${skills[i]?.path}${path === skills[i]?.path ? "" : ` (${path})`} is a system folder: a skill pack is a folder of its own`, { field });
      }
    }
    return real;
  }

  /** Checks the packs as `check` does and opens each (an O_PATH descriptor: what is mounted is what was checked); the caller closes them. */
  open(skills: readonly SkillPack[], spec: SandboxSpec, code: ErrorCode): OpenAgentFile[] {
    this.check(skills, spec, code);
    const opened = this.#files.open(skills.map((s) => s.path), code, pathField);
    // A folder swapped for a file between the check and the open.
    const swapped = opened.findIndex(({ fd }) => !fstatSync(fd).isDirectory());
    if (swapped !== -1) {
      for (const { fd } of opened) closeSync(fd);
      throw new FactoryError(code, `${pathField(swapped)}: ${skills[swapped]?.path} changed while it was being checked`, { field: pathField(swapped) });
    }
    return opened;
  }
}
