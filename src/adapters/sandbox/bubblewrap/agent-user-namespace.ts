import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";

/**
 * A user namespace, prepared by a factory that runs as root, in which uid/gid 0 is the host's
 * root (bubblewrap sets the sandbox up as it) and 65534 is the host's 65534 (the agent, after
 * `setpriv` drops to it). Unlike bubblewrap's own `--unshare-user`, which can only map the
 * agent to the uid that started bubblewrap, the agent is then an unprivileged user on the host
 * too. Nested user namespaces are disabled in it. A sleeping helper process holds it; `close`
 * ends it (it also dies with the factory).
 */
export class AgentUserNamespace {
  readonly #helper: ChildProcess;
  /** An open descriptor of the namespace, for `bwrap --userns`. */
  readonly fd: number;

  private constructor(helper: ChildProcess, fd: number) {
    this.#helper = helper;
    this.fd = fd;
  }

  /** Prepares the namespace; undefined when the factory is not root or the host refuses (then bubblewrap maps the agent itself). */
  static create(uid: number): AgentUserNamespace | undefined {
    if (process.getuid?.() !== 0) return undefined;
    // setpriv: the helper is killed when the factory dies, however it dies.
    const helper = spawn("setpriv", ["--pdeathsig", "KILL", "--", "unshare", "--user", "--", "sleep", "infinity"], { stdio: "ignore" });
    helper.on("error", () => {});
    // It must not keep the factory's process alive.
    helper.unref();
    const pid = helper.pid;
    try {
      if (pid === undefined || !waitForOwnNamespace(pid)) throw new Error("no user namespace");
      const map = `0 0 1\n${uid} ${uid} 1\n`;
      writeFileSync(`/proc/${pid}/uid_map`, map);
      writeFileSync(`/proc/${pid}/gid_map`, map);
      // Per user namespace: 0 here stops an agent from making a user namespace of its own (where it would be root again).
      const limit = spawnSync("nsenter", [`--user=/proc/${pid}/ns/user`, "--", "sh", "-c", "echo 0 > /proc/sys/user/max_user_namespaces && cat /proc/sys/user/max_user_namespaces"], { encoding: "utf8", timeout: 5_000 });
      if (limit.stdout.trim() !== "0") throw new Error("cannot disable nested user namespaces");
      return new AgentUserNamespace(helper, openSync(`/proc/${pid}/ns/user`, "r"));
    } catch {
      helper.kill("SIGKILL");
      return undefined;
    }
  }

  /** Ends the helper and closes the descriptor. */
  close(): void {
    this.#helper.kill("SIGKILL");
    closeSync(this.fd);
  }
}

/** Waits (at most 2 s) until `pid` runs `sleep` in a user namespace other than ours. */
function waitForOwnNamespace(pid: number): boolean {
  const ours = readlinkSync("/proc/self/ns/user");
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 400; i++) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "sleep" && readlinkSync(`/proc/${pid}/ns/user`) !== ours) return true;
    } catch {
      return false;
    }
    Atomics.wait(pause, 0, 0, 5);
  }
  return false;
}
