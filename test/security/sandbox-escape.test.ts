// Pins the sandbox's walls: an attacker agent in real bubblewrap (as CI runs it, as root) tries each known escape and each fails, exactly so.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Factory } from "../../src/factory/factory.ts";
import { processesWith, testFactory, until } from "../helpers.ts";

const root = resolve(import.meta.dirname, "../..");
const fixtures = join(root, "test/fixtures");

describe("sandbox escape attempts", () => {
  let factory: Factory;
  let dataDir: string;
  let close: () => Promise<void>;
  before(async () => {
    ({ factory, dir: dataDir, close } = await testFactory({ agentFiles: [fixtures] }));
    factory.registerProfile({
      name: "attacker",
      role: "Attacker",
      runtime: { kind: "process", command: ["python3", "/agent/attacker_agent.py"], files: [join(fixtures, "attacker_agent.py")] },
      health: { heartbeatIntervalMs: 0 },
      pool: { spawnStrategy: "manual" },
    });
  });
  after(async () => close());

  /** What every attempt must come to: each one refused by the kernel. */
  const REFUSED = {
    status: { Uid: "65534", Gid: "65534", CapEff: "0000000000000000", CapPrm: "0000000000000000", CapBnd: "0000000000000000", NoNewPrivs: "1" },
    remountUsr: "exit 32: mount: /usr: must be superuser to use mount.",
    writeUsr: "EROFS",
    remountEtc: "exit 32: mount: /etc: must be superuser to use mount.",
    // /etc lies on the sandbox's own tmpfs root, remounted read-only once set up.
    writeEtc: "EROFS",
    chroot: "EPERM",
    // No new user namespace at all (--disable-userns sets its limit to 0); no mount namespace without CAP_SYS_ADMIN.
    unshareUser: "exit 1: unshare: unshare failed: No space left on device",
    unshareMount: "exit 1: unshare: unshare failed: Operation not permitted",
    rawSocket: "EPERM",
    // The sibling's host pid does not exist in the agent's PID namespace.
    ptraceSibling: "ESRCH",
    readShadow: "ENOENT",
    listRoot: "ENOENT",
    listHome: "ENOENT",
    readCheckout: "ENOENT",
    listDataDir: "ENOENT",
    factoryEnviron: "ENOENT",
  };

  it("refuses remount, chroot, unshare, raw sockets and ptrace of a sibling; shows no host secrets; uid 65534, no capabilities, no new privileges", async () => {
    const attacker = await factory.spawnAgent({ profile: "attacker" });
    const sibling = await factory.spawnAgent({ profile: "attacker" });
    const input = { siblingPid: sibling.pid, factoryPid: process.pid, checkout: root, dataDir };
    const task = await factory.waitForTask((await factory.submitTask({ agentId: attacker.id, input })).id, 20_000);
    assert.equal(task.state, "SUCCEEDED", JSON.stringify(task.error));
    assert.deepEqual(task.result, REFUSED);
    assert.equal(existsSync("/usr/escaped"), false);
    assert.equal(existsSync("/etc/escaped"), false);
  });

  it("the agent is an unprivileged user on the host too: uid 65534 when the factory is root, the factory's own uid otherwise", async () => {
    const expected = process.getuid?.() === 0 ? "65534" : String(process.getuid?.());
    assert.equal(String((factory.stats().runtimes.process as { agentHostUid: number }).agentHostUid), expected);
    const agents = processesWith("/agent/attacker_agent.py").map((line) => Number(line.split(" ")[0])).filter((pid) => readFileSync(`/proc/${pid}/comm`, "utf8").trim().startsWith("python"));
    assert.ok(agents.length >= 2, `attacker processes: ${agents.length}`);
    for (const pid of agents) assert.match(readFileSync(`/proc/${pid}/status`, "utf8"), new RegExp(`\nUid:\t${expected}\t${expected}\t${expected}\t${expected}\n`));
  });

  it("a warm sandbox, leased and specialized, is held to the same walls", async () => {
    await until(() => (factory.stats().runtimes.process as { warmReady: number }).warmReady >= 1, "a warm sandbox ready", 10_000);
    const leases = (factory.stats().runtimes.process as { warmLeases: number }).warmLeases;
    const warm = await factory.spawnAgent({ profile: "attacker" });
    assert.equal((factory.stats().runtimes.process as { warmLeases: number }).warmLeases, leases + 1, "started from a warm sandbox");
    const sibling = (await factory.listAgents({})).find((a) => a.id !== warm.id && a.pid !== null);
    const input = { siblingPid: sibling?.pid, factoryPid: process.pid, checkout: root, dataDir };
    const task = await factory.waitForTask((await factory.submitTask({ agentId: warm.id, input })).id, 20_000);
    assert.equal(task.state, "SUCCEEDED", JSON.stringify(task.error));
    assert.deepEqual(task.result, REFUSED);
  });
});
