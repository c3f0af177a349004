import { spawnSync } from "node:child_process";
import { lstatSync, readdirSync, readlinkSync } from "node:fs";
import { basename, join } from "node:path";
import { FactoryError } from "../../../core/errors.ts";
import type { Sandbox, SandboxLaunch, SandboxRequest } from "../../../core/ports/sandbox.ts";

/** Top-level host entries the sandbox never sees: its own /proc, /dev, /tmp, /run come instead. */
const REPLACED = new Set(["proc", "dev", "tmp", "run", "sys", "workspace", "agent", "lost+found"]);

const PATH = "/usr/local/bin:/usr/bin:/bin";

/**
 * Linux namespaces through bubblewrap: the host's root, read-only (rebuilt entry by entry on a
 * tmpfs so /workspace and /agent can be mounted); a private writable /workspace; private /tmp
 * and /run (so no host unix socket is reachable); its own PID, IPC, UTS, cgroup and network
 * namespaces (no network at all unless the profile allows egress); killed with the factory;
 * resource limits through prlimit.
 */
export class BubblewrapSandbox implements Sandbox {
  readonly kind = "bubblewrap";
  readonly #bwrap: string;
  #checked: boolean | undefined;
  #rootEntries: string[] | undefined;

  constructor(options: { bwrapPath?: string } = {}) {
    this.#bwrap = options.bwrapPath ?? "bwrap";
  }

  check(): void {
    if (this.#checked === undefined) {
      const probe = spawnSync(this.#bwrap, ["--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "--", "/bin/true"], { timeout: 10_000 });
      this.#checked = probe.status === 0;
    }
    if (!this.#checked) {
      throw new FactoryError(
        "SANDBOX_UNAVAILABLE",
        "bubblewrap cannot run here: install it (Debian/Ubuntu: apt-get install bubblewrap) and make sure unprivileged user namespaces are allowed, or set `sandbox: { kind: none }` in the profile to run it unsandboxed",
        { field: "sandbox.kind" },
      );
    }
  }

  launch(request: SandboxRequest): SandboxLaunch {
    const { spec } = request;
    const args: string[] = ["--tmpfs", "/"];
    for (const args2 of this.#rootMounts()) args.push(...args2);
    args.push("--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/run");
    for (const hidden of request.hidden) args.push("--tmpfs", hidden);
    args.push("--bind", request.workspace, "/workspace");
    for (const file of request.files) args.push("--ro-bind", file, join("/agent", basename(file)));
    if (request.warm !== undefined) {
      args.push("--tmpfs", "/agent");
      for (const { host, path } of request.warm.readOnly) args.push("--ro-bind", host, path);
    }
    args.push("--unshare-all");
    if (spec.allowEgress) args.push("--share-net");
    args.push("--die-with-parent", "--new-session", "--chdir", request.cwd ?? "/workspace", "--clearenv");
    const env: Record<string, string> = { PATH, HOME: "/workspace", TMPDIR: "/tmp", AGENT_ID: request.agentId, ...request.env };
    for (const [key, value] of Object.entries(env)) args.push("--setenv", key, value);
    args.push("--", "prlimit", ...limits(spec), "--", ...request.command);
    return { file: this.#bwrap, args, env: { PATH: process.env.PATH ?? PATH }, cwd: "/" };
  }

  /** The host root's entries, read once: directories and files read-only, symlinks as symlinks. */
  #rootMounts(): string[][] {
    if (this.#rootEntries === undefined) {
      this.#rootEntries = readdirSync("/").filter((name) => !REPLACED.has(name));
    }
    const mounts: string[][] = [];
    for (const name of this.#rootEntries) {
      const path = `/${name}`;
      let stat;
      try {
        stat = lstatSync(path);
      } catch {
        continue;
      }
      if (stat.isSymbolicLink()) mounts.push(["--symlink", readlinkSync(path), path]);
      else if (stat.isDirectory() || stat.isFile()) mounts.push(["--ro-bind", path, path]);
    }
    return mounts;
  }
}

function limits(spec: SandboxRequest["spec"]): string[] {
  const out = [`--nofile=${spec.openFiles}:${spec.openFiles}`];
  if (spec.memoryMb !== undefined) out.push(`--as=${spec.memoryMb * 1024 * 1024}`);
  if (spec.cpuSeconds !== undefined) out.push(`--cpu=${spec.cpuSeconds}`);
  if (spec.processes !== undefined) out.push(`--nproc=${spec.processes}`);
  return out;
}
