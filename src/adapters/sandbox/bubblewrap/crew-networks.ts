import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, readlinkSync } from "node:fs";
import { FactoryError } from "../../../core/errors.ts";

/** One crew's network namespace on this node: an open descriptor of it, and how many sandboxes use it. */
interface CrewNetwork {
  fd: number;
  /** The namespace's inode (`net:[…]`), for tests and /ready. */
  id: string;
  users: number;
}

/**
 * The network namespaces of `network: crew` crews on this node, one per crew, each with only
 * loopback, up. A namespace is made when the first member's sandbox launches and ended when
 * the last one has exited (counted), so restarts, heals, wake-ups and a take-over by another
 * node need nothing of their own: each start takes a place, each exit gives it back.
 *
 * bubblewrap makes the namespace (it brings `lo` up; iproute2 may be missing), around a
 * `sleep` that lives only until the factory has opened the namespace: the open descriptor, not
 * a process, keeps it, so nothing is left running when the factory dies however it dies (the
 * kernel closes the descriptor), and members join it by `nsenter --net=/proc/self/fd/N` with
 * the descriptor inherited. Joining another user namespace's network needs root: a factory
 * that is not root cannot make one (`acquire` says so).
 */
export class CrewNetworks {
  readonly #bwrap: string;
  readonly #networks = new Map<string, CrewNetwork>();

  constructor(bwrap: string) {
    this.#bwrap = bwrap;
  }

  /** The crew's namespace (made now if none), counted as used once more; its descriptor, to be inherited by the launcher. */
  acquire(crewId: string): number {
    let network = this.#networks.get(crewId);
    if (network === undefined) {
      network = this.#make(crewId);
      this.#networks.set(crewId, network);
    }
    network.users++;
    return network.fd;
  }

  /** One user fewer; the last one ends the namespace (processes still in it keep it until they exit). */
  release(crewId: string): void {
    const network = this.#networks.get(crewId);
    if (network === undefined) return;
    network.users--;
    if (network.users > 0) return;
    this.#networks.delete(crewId);
    closeSync(network.fd);
  }

  /** The namespaces held now, by crew id (`net:[inode]`): what tests and operators check. */
  held(): Map<string, string> {
    return new Map([...this.#networks].map(([crewId, network]) => [crewId, network.id]));
  }

  /** Closes every namespace (the factory's end; any agent still in one keeps it until it exits). */
  close(): void {
    for (const network of this.#networks.values()) closeSync(network.fd);
    this.#networks.clear();
  }

  #make(crewId: string): CrewNetwork {
    const unavailable = (why: string): FactoryError =>
      new FactoryError("SANDBOX_UNAVAILABLE", `network: crew ${crewId}'s shared network cannot be made here: ${why}; use network 'private' (the default)`, { field: "network" });
    if (process.getuid?.() !== 0) throw unavailable("joining a shared network namespace needs a factory that runs as root (with a prepared user namespace for its agents)");
    // setpriv: killed with the factory even in the moment before the namespace is opened.
    const holder = spawn("setpriv", ["--pdeathsig", "KILL", "--", this.#bwrap, "--ro-bind", "/", "/", "--unshare-net", "--die-with-parent", "--", "sleep", "infinity"], { stdio: "ignore" });
    holder.on("error", () => {});
    holder.unref();
    try {
      const inner = holder.pid === undefined ? undefined : waitForOwnNetwork(holder.pid);
      if (inner === undefined) throw unavailable("bubblewrap did not start a process in a new network namespace");
      const fd = openSync(`/proc/${inner}/ns/net`, "r");
      return { fd, id: readlinkSync(`/proc/self/fd/${fd}`), users: 0 };
    } finally {
      // bubblewrap's --die-with-parent ends the sleep with it; the descriptor keeps the namespace.
      holder.kill("SIGKILL");
    }
  }
}

/** Waits (at most 2 s) until bubblewrap (`pid`) has a child running `sleep` in a network namespace other than ours; its pid. */
function waitForOwnNetwork(pid: number): number | undefined {
  const ours = readlinkSync("/proc/self/ns/net");
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 400; i++) {
    try {
      for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean)) {
        if (readFileSync(`/proc/${child}/comm`, "utf8").trim() === "sleep" && readlinkSync(`/proc/${child}/ns/net`) !== ours) return Number(child);
      }
    } catch {
      return undefined;
    }
    Atomics.wait(pause, 0, 0, 5);
  }
  return undefined;
}
