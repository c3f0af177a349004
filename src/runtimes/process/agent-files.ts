import { closeSync, constants, fstatSync, openSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { basename, isAbsolute, sep } from "node:path";
import { FactoryError, type ErrorCode } from "../../core/errors.ts";

/** Linux's open(2) flag for a descriptor that only names a file (Node does not export it). */
const O_PATH = 0o10000000;

/** A checked agent file, open: the descriptor names the very file that was checked. */
export interface OpenAgentFile {
  /** An O_PATH descriptor; the caller closes it. */
  fd: number;
  /** Its real path. */
  real: string;
}

/** Host folders an agent never gets, whatever the operator allows: the kernel's views of the host. */
const NEVER = ["/proc", "/sys", "/dev"];

/**
 * Which host paths a profile's `runtime.files` may name: regular files and folders (symlinks
 * resolved) under the folders the operator allows, never in or around the factory's data folder,
 * /proc, /sys or /dev. Checked when a profile is registered and again at every start (a file
 * can be swapped for a symlink in between); a start mounts and reads the opened files (`open`),
 * not the names. Symlinks inside an allowed folder resolve inside the sandbox, not on the host.
 */
export class AgentFiles {
  readonly #allowed: readonly string[];
  readonly #forbidden: readonly string[];

  /** `allowed`: folders agent files may come from (resolved: `agentFileFolders`); `forbidden`: real folders they may not be in or hold (the data folder). */
  constructor(allowed: readonly string[], forbidden: readonly string[]) {
    this.#allowed = allowed;
    this.#forbidden = [...NEVER, ...forbidden];
  }

  /** Each file's real path, or a FactoryError (`code`) naming the field (`runtime.files.N`, or what `fieldOf` says), the path and why. */
  resolve(files: readonly string[], code: ErrorCode = "VALIDATION_FAILED", fieldOf: (i: number) => string = filesField): string[] {
    return files.map((file, i) => {
      const field = fieldOf(i);
      const fail = (why: string): never => {
        throw new FactoryError(code, `${field}: ${file} ${why}`, { field });
      };
      if (!isAbsolute(file)) {
        fail("is a relative path: the server cannot know what it is relative to; give an absolute path (profile files read by `serve --profiles` or `agent-factory profiles apply -f` are resolved against their own folder)");
      }
      // The mount point is /agent/<last part>: `..` or `.` there would mount over /agent's parent or /agent itself.
      if ([".", "..", ""].includes(basename(file))) fail("ends in '.' or '..': name the file or folder itself, so it has a name under /agent");
      let real: string;
      try {
        real = realpathSync(file);
      } catch (error) {
        return fail((error as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
      }
      const stat = statSync(real);
      if (!stat.isFile() && !stat.isDirectory()) fail(`is not a regular file or folder`);
      const near = this.#forbidden.find((dir) => within(real, dir) || (stat.isDirectory() && within(dir, real)));
      if (near !== undefined) fail(`${real === file ? "" : `(${real}) `}is ${within(real, near) ? "inside" : "a folder holding"} ${near}: agents never get the factory's data folder, /proc, /sys or /dev`);
      if (!this.#allowed.some((dir) => within(real, dir))) {
        const from = this.#allowed.length === 0 ? "no folder is allowed" : `allowed: ${this.#allowed.join(", ")}`;
        fail(`${real === file ? "" : `(${real}) `}is outside the folders agent files may come from (${from}); the operator allows a folder with \`serve --agent-files DIR\` (or createFactory({ agentFiles }))`);
      }
      return real;
    });
  }

  /**
   * Checks each file as `resolve` does, opens it without following a symlink, and checks that
   * the opened file is still at the checked path: the descriptor, not the name, is what gets
   * mounted or read, so a swap between the check and the use changes nothing. The caller closes
   * the descriptors (all are closed when this throws).
   */
  open(files: readonly string[], code: ErrorCode, fieldOf: (i: number) => string = filesField): OpenAgentFile[] {
    const real = this.resolve(files, code, fieldOf);
    const opened: OpenAgentFile[] = [];
    try {
      for (const [i, path] of real.entries()) {
        const field = fieldOf(i);
        const changed = new FactoryError(code, `${field}: ${files[i]} changed while it was being checked`, { field });
        let fd: number;
        try {
          fd = openSync(path, O_PATH | constants.O_NOFOLLOW);
        } catch {
          throw changed;
        }
        opened.push({ fd, real: path });
        const stat = fstatSync(fd);
        if (readlinkSync(`/proc/self/fd/${fd}`) !== path || (!stat.isFile() && !stat.isDirectory())) throw changed;
      }
      return opened;
    } catch (error) {
      for (const { fd } of opened) closeSync(fd);
      throw error;
    }
  }
}

/** The operator's agent-file folders, resolved; one that is not an existing folder is an error naming `agentFiles.N`. */
export function agentFileFolders(dirs: readonly string[]): string[] {
  return dirs.map((dir, i) => {
    const field = `agentFiles.${i}`;
    let real: string;
    try {
      real = realpathSync(dir);
    } catch (error) {
      throw new FactoryError("VALIDATION_FAILED", `${field}: the agent-files folder ${dir} ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`}`, { field });
    }
    if (!statSync(real).isDirectory()) throw new FactoryError("VALIDATION_FAILED", `${field}: ${dir} is not a folder`, { field });
    return real;
  });
}

/** Where a profile names its agent files. */
const filesField = (i: number): string => `runtime.files.${i}`;

/** Whether `path` is `dir` or lies under it (both resolved). */
function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);
}
