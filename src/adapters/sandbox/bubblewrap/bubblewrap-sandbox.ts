import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, readlinkSync } from "node:fs";
import { FactoryError } from "../../../core/errors.ts";
import type { Sandbox, SandboxLaunch, SandboxRequest } from "../../../core/ports/sandbox.ts";

/** The system folders programs need to run, mounted read-only (a symlink such as /bin → usr/bin stays a symlink). */
const SYSTEM = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/**
 * What agents see of the host's /etc: name lookups, the dynamic linker's cache, time zone,
 * TLS roots, MIME and protocol tables. Never shadow, gshadow, sudoers, ssh keys or
 * /etc/ssl/private: inside, the agent's files are checked as the factory's host user, so a
 * root-only file that were mounted would be readable.
 */
const ETC = [
  "passwd", "group", "hosts", "hostname", "host.conf", "resolv.conf", "nsswitch.conf", "gai.conf", "networks",
  "protocols", "services", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "alternatives",
  "ssl/certs", "ssl/openssl.cnf", "ca-certificates", "ca-certificates.conf", "mime.types", "os-release",
  "debian_version", "python3", "python3.11", "python3.12", "python3.13",
].map((name) => `/etc/${name}`);

/** The uid and gid an agent runs as inside its sandbox (`nobody`). */
export const SANDBOX_UID = 65534;

/**
 * Flags that take every privilege away: a user namespace where the agent is uid/gid 65534, no
 * capabilities (effective, permitted or bounding), no new user namespaces, and (bubblewrap
 * always sets it) no-new-privileges. Without them bubblewrap run as root leaves the agent root
 * with full capabilities, able to remount the read-only host folders read-write.
 */
const UNPRIVILEGED = ["--unshare-user", "--uid", String(SANDBOX_UID), "--gid", String(SANDBOX_UID), "--disable-userns", "--cap-drop", "ALL"];

const PATH = "/usr/local/bin:/usr/bin:/bin";

/**
 * Linux namespaces through bubblewrap, unprivileged: uid 65534 with no capabilities; only the
 * host's system folders (/usr, /bin, /lib*) and a short /etc allow-list, read-only, on an empty
 * tmpfs root; a private writable /workspace; private /tmp and /run (so no host unix socket is
 * reachable); its own PID, IPC, UTS, cgroup and network namespaces (no network at all unless
 * the profile allows egress); killed with the factory; resource limits through prlimit.
 */
export class BubblewrapSandbox implements Sandbox {
  readonly kind = "bubblewrap";
  readonly #bwrap: string;
  #checked: { ok: boolean; said: string } | undefined;
  #systemMounts: string[] | undefined;

  constructor(options: { bwrapPath?: string } = {}) {
    this.#bwrap = options.bwrapPath ?? "bwrap";
  }

  check(): void {
    if (this.#checked === undefined) {
      // The same privilege-dropping flags as a launch: a bubblewrap too old for them (before 0.8) fails here, not at spawn.
      const probe = spawnSync(this.#bwrap, ["--ro-bind", "/", "/", "--unshare-all", ...UNPRIVILEGED, "--die-with-parent", "--", "/bin/true"], { timeout: 10_000, encoding: "utf8" });
      this.#checked = { ok: probe.status === 0, said: (probe.stderr ?? "").trim().split("\n")[0] ?? "" };
    }
    if (!this.#checked.ok) {
      const said = this.#checked.said === "" ? "" : ` (it said: ${this.#checked.said})`;
      throw new FactoryError(
        "SANDBOX_UNAVAILABLE",
        `bubblewrap cannot run here${said}: install bubblewrap 0.8 or newer (Debian/Ubuntu: apt-get install bubblewrap) and make sure user namespaces are allowed, or set \`sandbox: { kind: none }\` in the profile and start the server with --allow-unsandboxed to run it unsandboxed`,
        { field: "sandbox.kind" },
      );
    }
  }

  launch(request: SandboxRequest): SandboxLaunch {
    const { spec } = request;
    const args: string[] = ["--tmpfs", "/", ...this.#system()];
    args.push("--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/run");
    // Hidden host folders matter only where a mounted system folder would show them.
    for (const hidden of request.hidden) if (SYSTEM.concat(ETC).some((dir) => hidden.startsWith(`${dir}/`))) args.push("--tmpfs", hidden);
    args.push("--bind", request.workspace, "/workspace");
    const fds: number[] = [];
    for (const { host, path, fd } of request.files) {
      if (fd === undefined) args.push("--ro-bind", host, path);
      else {
        // The launcher inherits the descriptors as 3, 4, … (SandboxLaunch.fds).
        fds.push(fd);
        args.push("--ro-bind-fd", String(2 + fds.length), path);
      }
    }
    if (request.warm !== undefined) {
      args.push("--tmpfs", "/agent");
      for (const { host, path } of request.warm.readOnly) args.push("--ro-bind", host, path);
    }
    // The tmpfs root too, once everything is mounted on it: only /workspace, /tmp, /run (and a warm /agent) are writable.
    args.push("--remount-ro", "/");
    args.push("--unshare-all", ...UNPRIVILEGED);
    if (spec.allowEgress) args.push("--share-net");
    args.push("--die-with-parent", "--new-session", "--chdir", request.cwd ?? "/workspace", "--clearenv");
    const env: Record<string, string> = { PATH, HOME: "/workspace", TMPDIR: "/tmp", AGENT_ID: request.agentId, ...request.env };
    for (const [key, value] of Object.entries(env)) args.push("--setenv", key, value);
    args.push("--", "prlimit", ...limits(spec), "--", ...request.command);
    return { file: this.#bwrap, args, env: { PATH: process.env.PATH ?? PATH }, cwd: "/", fds };
  }

  /** Mounts of the system folders and the /etc allow-list that exist on this host, read once. */
  #system(): string[] {
    if (this.#systemMounts === undefined) {
      const mounts: string[] = [];
      for (const path of SYSTEM) {
        const stat = lstatSync(path, { throwIfNoEntry: false });
        if (stat === undefined) continue;
        if (stat.isSymbolicLink()) mounts.push("--symlink", readlinkSync(path), path);
        else if (stat.isDirectory()) mounts.push("--ro-bind", path, path);
      }
      // Bound by content (a symlinked /etc/resolv.conf may point into the host's /run, which agents do not get).
      for (const path of ETC) if (existsSync(path)) mounts.push("--ro-bind", path, path);
      this.#systemMounts = mounts;
    }
    return this.#systemMounts;
  }
}

function limits(spec: SandboxRequest["spec"]): string[] {
  const out = [`--nofile=${spec.openFiles}:${spec.openFiles}`];
  if (spec.memoryMb !== undefined) out.push(`--as=${spec.memoryMb * 1024 * 1024}`);
  if (spec.cpuSeconds !== undefined) out.push(`--cpu=${spec.cpuSeconds}`);
  if (spec.processes !== undefined) out.push(`--nproc=${spec.processes}`);
  return out;
}
