import { spawnSync } from "node:child_process";
import { chownSync, existsSync, lstatSync, readlinkSync } from "node:fs";
import { dirname } from "node:path";
import { FactoryError } from "../../../core/errors.ts";
import type { Sandbox, SandboxLaunch, SandboxRequest } from "../../../core/ports/sandbox.ts";
import { AgentUserNamespace } from "./agent-user-namespace.ts";
import { CrewNetworks } from "./crew-networks.ts";

/** The system folders programs need to run, mounted read-only (a symlink such as /bin → usr/bin stays a symlink). */
const SYSTEM = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/**
 * What agents see of the host's /etc: name lookups, the dynamic linker's cache, time zone,
 * TLS roots, MIME and protocol tables. Never shadow, gshadow, sudoers, ssh keys or
 * /etc/ssl/private: where the agent's host uid is the factory's (see `launch`), a root-only file
 * that were mounted would be readable.
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

/** In a prepared user namespace the program starts as its root: this drops it to 65534 with no capabilities and no new privileges. */
const DROP = ["setpriv", `--reuid=${SANDBOX_UID}`, `--regid=${SANDBOX_UID}`, "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"];

/** Namespaces other than the user namespace (which is prepared: `AgentUserNamespace`). */
const UNSHARE_BUT_USER = ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"];

const PATH = "/usr/local/bin:/usr/bin:/bin";

/**
 * Linux namespaces through bubblewrap, unprivileged: uid 65534 with no capabilities; only the
 * host's system folders (/usr, /bin, /lib*) and a short /etc allow-list, read-only, on an empty
 * tmpfs root; a private writable /workspace; private /tmp and /run (so no host unix socket is
 * reachable); its own PID, IPC, UTS, cgroup and network namespaces (no network at all unless
 * the profile allows egress; a member of a `network: crew` crew shares its crew's loopback-only
 * namespace instead: `CrewNetworks`); killed with the factory; resource limits through prlimit.
 */
export class BubblewrapSandbox implements Sandbox {
  readonly kind = "bubblewrap";
  readonly #bwrap: string;
  #checked: { ok: boolean; said: string } | undefined;
  #systemMounts: string[] | undefined;
  /** The prepared user namespace (a root factory), null when there is none (bubblewrap maps the agent to the factory's uid). */
  #userns: AgentUserNamespace | null | undefined;
  /** The network namespaces of `network: crew` crews, shared by their members on this node. */
  readonly #crewNetworks: CrewNetworks;

  constructor(options: { bwrapPath?: string } = {}) {
    this.#bwrap = options.bwrapPath ?? "bwrap";
    this.#crewNetworks = new CrewNetworks(this.#bwrap);
  }

  check(): void {
    if (this.#checked === undefined) {
      // The same privilege-dropping flags as a launch: a bubblewrap too old for them (before 0.8) fails here, not at spawn.
      const probe = spawnSync(this.#bwrap, ["--ro-bind", "/", "/", "--unshare-all", ...UNPRIVILEGED, "--die-with-parent", "--", "/bin/true"], { timeout: 10_000, encoding: "utf8" });
      this.#checked = { ok: probe.status === 0, said: (probe.stderr ?? "").trim().split("\n")[0] ?? "" };
      if (this.#checked.ok) this.#prepareUserNamespace();
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

  /** Crew networks held now (one per `network: crew` crew with a member running here). */
  get crewNetworks(): number {
    return this.#crewNetworks.held().size;
  }

  /** The agent's uid on the host: 65534 when the factory is root (a prepared user namespace), otherwise the factory's own. */
  get agentHostUid(): number | undefined {
    return this.#userns instanceof AgentUserNamespace ? SANDBOX_UID : process.getuid?.();
  }

  /** Ends the user namespace's helper and lets go of the crew networks. */
  close(): void {
    this.#crewNetworks.close();
    if (this.#userns instanceof AgentUserNamespace) this.#userns.close();
    this.#userns = undefined;
  }

  /**
   * A root factory prepares a user namespace where the agent is 65534 on the host too, and keeps
   * it only if bubblewrap runs in it; otherwise (not root, or refused) bubblewrap maps the agent.
   */
  #prepareUserNamespace(): void {
    if (this.#userns !== undefined) return;
    const userns = AgentUserNamespace.create(SANDBOX_UID);
    if (userns === undefined) {
      this.#userns = null;
      return;
    }
    const probe = spawnSync(this.#bwrap, ["--userns", "3", "--ro-bind", "/", "/", ...UNSHARE_BUT_USER, "--die-with-parent", "--", ...DROP, "/bin/true"], {
      timeout: 10_000,
      stdio: ["ignore", "ignore", "ignore", userns.fd],
    });
    if (probe.status === 0) this.#userns = userns;
    else {
      userns.close();
      this.#userns = null;
    }
  }

  launch(request: SandboxRequest): SandboxLaunch {
    const { spec } = request;
    this.#prepareUserNamespace();
    const userns = this.#userns instanceof AgentUserNamespace ? this.#userns : undefined;
    const crewNetwork = request.network;
    if (crewNetwork !== undefined && (userns === undefined || spec.allowEgress)) {
      // Without the prepared namespace bubblewrap makes the agent's user namespace itself, and a network it joins must be that namespace's.
      const why = spec.allowEgress ? "the profile allows egress, which would put the agent on the host's network instead" : "the factory does not run as root (with a prepared user namespace for its agents), which joining a shared network namespace needs";
      throw new FactoryError("SANDBOX_UNAVAILABLE", `network: agent ${request.agentId} cannot join crew ${crewNetwork.crewId}'s network: ${why}; use network 'private' (the default)`, { field: "network" });
    }
    // Descriptors the launcher inherits as 3, 4, … (SandboxLaunch.fds).
    const fds: number[] = [];
    const inherit = (fd: number): string => String(2 + fds.push(fd));
    // The agent may not own what bubblewrap creates (in a prepared user namespace it does not):
    // folders it must pass through are 0755, its scratch space 1777.
    const args: string[] = ["--perms", "0755", "--tmpfs", "/", ...this.#system()];
    args.push("--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--tmpfs", "/tmp", "--perms", "1777", "--tmpfs", "/run");
    // Hidden host folders matter only where a mounted system folder would show them.
    for (const hidden of request.hidden) if (SYSTEM.concat(ETC).some((dir) => hidden.startsWith(`${dir}/`))) args.push("--tmpfs", hidden);
    // The agent writes its workspace as 65534 on the host when the namespace is prepared.
    if (userns !== undefined) chownSync(request.workspace, SANDBOX_UID, SANDBOX_UID);
    // A reviewer reads its workspace and writes nothing there (EROFS): the mount says so, not the agent.
    args.push(request.workspaceReadOnly === true ? "--ro-bind" : "--bind", request.workspace, "/workspace");
    if (request.warm !== undefined) args.push("--perms", "1777", "--tmpfs", "/agent");
    else args.push("--perms", "0755", "--dir", "/agent");
    for (const { host, path, fd } of request.files) {
      // A mount point outside /agent (a skill pack's /skills/<name>) needs its folder made on the root before it goes read-only.
      if (dirname(path) !== "/agent") args.push("--perms", "0755", "--dir", dirname(path));
      if (fd === undefined) args.push("--ro-bind", host, path);
      else args.push("--ro-bind-fd", inherit(fd), path);
    }
    for (const { host, path } of request.warm?.readOnly ?? []) args.push("--perms", "0755", "--dir", dirname(path), "--ro-bind", host, path);
    // The tmpfs root too, once everything is mounted on it: only /workspace, /tmp, /run (and a warm /agent) are writable.
    args.push("--remount-ro", "/");
    // A crew network member keeps the namespace nsenter put it in (below); others get one of their own, or the host's with egress.
    if (userns !== undefined) args.push("--userns", inherit(userns.fd), ...UNSHARE_BUT_USER, ...(spec.allowEgress || crewNetwork !== undefined ? [] : ["--unshare-net"]));
    else args.push("--unshare-all", ...UNPRIVILEGED, ...(spec.allowEgress ? ["--share-net"] : []));
    args.push("--die-with-parent", "--new-session", "--chdir", request.cwd ?? "/workspace", "--clearenv");
    const env: Record<string, string> = { PATH, HOME: "/workspace", TMPDIR: "/tmp", AGENT_ID: request.agentId, ...request.env };
    for (const [key, value] of Object.entries(env)) args.push("--setenv", key, value);
    args.push("--", ...(userns === undefined ? [] : DROP), "prlimit", ...limits(spec), "--", ...request.command);
    const hostEnv = { PATH: process.env.PATH ?? PATH };
    if (crewNetwork === undefined) return { file: this.#bwrap, args, env: hostEnv, cwd: "/", fds };
    // Last, so nothing above can throw with the place taken: nsenter (as root, in the host's user namespace) joins the crew's network, then runs bubblewrap there.
    const netFd = inherit(this.#crewNetworks.acquire(crewNetwork.crewId));
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.#crewNetworks.release(crewNetwork.crewId);
    };
    return { file: "nsenter", args: [`--net=/proc/self/fd/${netFd}`, "--", this.#bwrap, ...args], env: hostEnv, cwd: "/", fds, release };
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
      mounts.push("--perms", "0755", "--dir", "/etc", "--perms", "0755", "--dir", "/etc/ssl");
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
