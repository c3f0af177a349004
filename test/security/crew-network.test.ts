// Pins what a crew manifest's `network: crew` gives, in real bubblewrap sandboxes: a member reaches another member's port on 127.0.0.1; a member of another crew, an agent with the default private network, and the host's own 127.0.0.1 stay unreachable both ways; the crew's namespace is gone once the crew is disbanded; manifests that would break the promise are refused with a 400 naming the field.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chownSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApp } from "../../src/api/app.ts";
import type { Agent } from "../../src/core/agent.ts";
import { isFactoryError } from "../../src/core/errors.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { tempDir, testFactory, until } from "../helpers.ts";

const fixtures = resolve(import.meta.dirname, "../fixtures");
const agentFile = resolve(fixtures, "net-agent.mjs");

/** The network namespace the agent's program is in (`net:[inode]`): its sandbox's innermost process, under bubblewrap (which may itself stay outside). */
function netOf(pid: number): string {
  let leaf = pid;
  for (;;) {
    const [child] = readFileSync(`/proc/${leaf}/task/${leaf}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    if (child === undefined) return readlinkSync(`/proc/${leaf}/ns/net`);
    leaf = Number(child);
  }
}

/** Whether any process on the host, or any descriptor of this one, still holds the namespace `net`. */
function held(net: string): boolean {
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      // A zombie has no namespaces left to read: it holds nothing.
      if (readlinkSync(`/proc/${pid}/ns/net`) === net) return true;
    } catch {
      // gone, or a zombie
    }
  }
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === net) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

describe("crew networks (network: crew)", { skip: process.getuid?.() !== 0 ? "a crew network needs a root factory (it says so: SANDBOX_UNAVAILABLE)" : false }, () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let host: Server;
  let hostPort: number;

  const run = async (agent: Agent, input: unknown): Promise<Record<string, unknown>> => {
    const task = await factory.waitForTask((await factory.submitTask({ agentId: agent.id, ...(agent.crewId === null ? {} : { crewId: agent.crewId }), input })).id, 10_000);
    assert.equal(task.state, "SUCCEEDED", JSON.stringify(task.error));
    return task.result as Record<string, unknown>;
  };
  const listen = async (agent: Agent): Promise<number> => (await run(agent, { listen: true })).port as number;

  before(async () => {
    ({ factory, close } = await testFactory({ agentFiles: [fixtures], allowEgress: true, allowUnsandboxed: true }));
    factory.registerProfile({ name: "net", role: "Net", runtime: { kind: "process", command: ["node", "/agent/net-agent.mjs"], files: [agentFile] }, health: { heartbeatIntervalMs: 0 }, pool: { spawnStrategy: "manual" } });
    // The factory's own host, as an agent would want to reach it: a port on the host's 127.0.0.1.
    host = createServer((socket) => socket.end("host"));
    await new Promise<void>((done) => host.listen(0, "127.0.0.1", done));
    hostPort = (host.address() as { port: number }).port;
  });
  after(async () => {
    host.close();
    await close();
  });

  it("members reach each other's ports on 127.0.0.1; another crew's member, a private agent and the host's 127.0.0.1 stay unreachable, both ways", async () => {
    const red = await factory.assembleCrew({ name: "red", network: "crew", members: [{ profile: "net", count: 2 }] });
    const blue = await factory.assembleCrew({ name: "blue", network: "crew", members: [{ profile: "net" }] });
    const lone = await factory.spawnAgent({ profile: "net" });
    const [a, b] = red.agents as [Agent, Agent];
    const [c] = blue.agents as [Agent];
    assert.deepEqual([red.crew.network, a.network, b.network, c.network, lone.network], ["crew", "crew", "crew", "crew", undefined]);
    // One namespace for the crew, another for the other crew, neither the host's nor the private agent's.
    assert.equal(netOf(a.pid as number), netOf(b.pid as number));
    assert.equal(new Set([netOf(a.pid as number), netOf(c.pid as number), netOf(lone.pid as number), readlinkSync("/proc/self/ns/net")]).size, 4);

    const portA = await listen(a);
    assert.deepEqual(await run(b, { connect: portA }), { reached: true, said: a.id });
    // Another crew's member, and an agent with the default network, find nothing there (their own loopback).
    assert.deepEqual(await run(c, { connect: portA }), { reached: false, code: "ECONNREFUSED" });
    assert.deepEqual(await run(lone, { connect: portA }), { reached: false, code: "ECONNREFUSED" });
    // And the other way: a member does not reach the other crew's or the private agent's ports.
    assert.deepEqual(await run(a, { connect: await listen(c) }), { reached: false, code: "ECONNREFUSED" });
    assert.deepEqual(await run(a, { connect: await listen(lone) }), { reached: false, code: "ECONNREFUSED" });
    // The host's loopback (where the factory's own API would listen) is not the crew's.
    assert.deepEqual(await run(a, { connect: hostPort }), { reached: false, code: "ECONNREFUSED" });
    await factory.disbandCrew(red.crew.id);
    await factory.disbandCrew(blue.crew.id);
    await factory.terminateAgent(lone.id);
  });

  it("a restarted member comes back into its crew's network; the namespace ends with the crew's last member (nothing holds it after disband)", async () => {
    const { crew, agents } = await factory.assembleCrew({ name: "green", network: "crew", members: [{ profile: "net", count: 2 }] });
    const [a, b] = agents as [Agent, Agent];
    const net = netOf(a.pid as number);
    assert.equal(held(net), true);
    // A member's process dies: the factory replaces it under the same id, in the same namespace (the other member kept it).
    process.kill(a.pid as number, "SIGKILL");
    await until(async () => {
      const now = await factory.getAgent(a.id);
      return now.state === "READY" && now.restarts === 1;
    }, "the member replaced", 10_000);
    const again = await factory.getAgent(a.id);
    assert.equal(netOf(again.pid as number), net);
    assert.deepEqual(await run(b, { connect: await listen(again) }), { reached: true, said: a.id });
    assert.equal((factory.stats().runtimes.process as { crewNetworks: number }).crewNetworks, 1);
    await factory.disbandCrew(crew.id);
    await until(() => !held(net), "no process or descriptor holding the crew's namespace", 10_000);
    assert.equal((factory.stats().runtimes.process as { crewNetworks: number }).crewNetworks, 0);
  });

  it("members that hibernate give the namespace back; woken, they share a new one", async () => {
    const { crew, agents } = await factory.assembleCrew({ name: "sleepy", network: "crew", members: [{ profile: "net", count: 2 }] });
    const [a, b] = agents as [Agent, Agent];
    const net = netOf(a.pid as number);
    await factory.hibernateAgent(a.id);
    await factory.hibernateAgent(b.id);
    await until(() => !held(net), "the namespace ended with both members asleep", 10_000);
    const [wokeA, wokeB] = [await factory.wakeAgent(a.id), await factory.wakeAgent(b.id)];
    assert.equal(netOf(wokeA.pid as number), netOf(wokeB.pid as number));
    assert.deepEqual(await run(wokeB, { connect: await listen(wokeA) }), { reached: true, said: a.id });
    await factory.disbandCrew(crew.id);
  });

  it("refuses at assemble, naming the field: an unknown network, network crew with placement spread, a member with egress or no sandbox", async () => {
    factory.registerProfile({ name: "net-egress", role: "NetEgress", sandbox: { allowEgress: true }, runtime: { kind: "process", command: ["node", "/agent/net-agent.mjs"], files: [agentFile] }, pool: { spawnStrategy: "manual" } });
    factory.registerProfile({ name: "net-bare", role: "NetBare", sandbox: { kind: "none" }, runtime: { kind: "process", command: ["node", agentFile] }, pool: { spawnStrategy: "manual" } });
    const app: OpenAPIHono = createApp(factory);
    const assemble = async (manifest: unknown): Promise<{ status: number; error: { code: string; field?: string; message: string } }> => {
      const response = await app.request("/v1/crews/assemble", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ manifest }) });
      return { status: response.status, error: ((await response.json()) as { error: { code: string; field?: string; message: string } }).error };
    };
    const unknown = await assemble({ name: "x", network: "host", members: [{ profile: "net" }] });
    assert.deepEqual([unknown.status, unknown.error.code, unknown.error.field], [400, "VALIDATION_FAILED", "manifest.network"]);
    assert.match(unknown.error.message, /unknown network "host" \(known: private, crew\)/);
    const spread = await assemble({ name: "x", network: "crew", placement: "spread", members: [{ profile: "net" }] });
    assert.deepEqual([spread.status, spread.error.code, spread.error.field], [400, "VALIDATION_FAILED", "network"]);
    const egress = await assemble({ name: "x", network: "crew", members: [{ profile: "net" }, { profile: "net-egress" }] });
    assert.deepEqual([egress.status, egress.error.field], [400, "members.1.profile"]);
    assert.match(egress.error.message, /members\.1: profile net-egress allows egress/);
    const bare = await assemble({ name: "x", network: "crew", members: [{ profile: "net-bare" }] });
    assert.deepEqual([bare.status, bare.error.field], [400, "members.0.profile"]);
    assert.match(bare.error.message, /is unsandboxed/);
    // Refused before anything ran: no crew of these names was left.
    assert.deepEqual((await factory.listCrews()).filter((c) => c.name === "x" && c.state !== "DISBANDED"), []);
  });

  it("a clone of a member (as the pools make them) and a member spawned into the crew later join the crew network too; one with egress is refused, naming network", async () => {
    const { crew, agents } = await factory.assembleCrew({ name: "blue2", network: "crew", members: [{ profile: "net" }] });
    const [a] = agents as [Agent];
    const clone = await factory.cloneAgent(a.id);
    const added = await factory.spawnCrewMember(crew.id, "net");
    assert.deepEqual([clone.network, added.network], ["crew", "crew"]);
    assert.equal(netOf(clone.pid as number), netOf(a.pid as number));
    assert.equal(netOf(added.pid as number), netOf(a.pid as number));
    const port = await listen(a);
    assert.deepEqual(await run(clone, { connect: port }), { reached: true, said: a.id });
    assert.deepEqual(await run(added, { connect: port }), { reached: true, said: a.id });
    factory.registerProfile({ name: "net-egress2", role: "NetEgress2", sandbox: { allowEgress: true }, runtime: { kind: "process", command: ["node", "/agent/net-agent.mjs"], files: [agentFile] }, pool: { spawnStrategy: "manual" } });
    await assert.rejects(factory.spawnCrewMember(crew.id, "net-egress2"), (error: unknown) => {
      assert.ok(isFactoryError(error));
      assert.deepEqual([error.code, error.field], ["AGENT_START_FAILED", "network"]);
      assert.match(error.message, /allows egress \(sandbox.allowEgress\), which would put it on the host's network instead/);
      return true;
    });
    await factory.disbandCrew(crew.id);
  });
});

describe("crew networks on a factory that is not root", { skip: process.getuid?.() !== 0 ? "needs root to start a factory as another user" : false }, () => {
  it("assembling a network: crew crew fails naming `network` (its member cannot join a namespace the factory made); a private agent still starts", () => {
    const dir = tempDir();
    try {
      chownSync(dir.path, 65534, 65534);
      const run = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", process.execPath, "--conditions=agent-factory-source", "--disable-warning=ExperimentalWarning", resolve(fixtures, "non-root-crew-network.ts"), join(dir.path, "data")], {
        encoding: "utf8",
        timeout: 60_000,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir.path },
      });
      assert.equal(run.status, 0, run.stderr);
      const [refused, lone] = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, string>);
      assert.deepEqual([refused?.code, refused?.field], ["CREW_ASSEMBLY_FAILED", "network"]);
      assert.match(refused?.message ?? "", /cannot join crew crew_\w+'s network: the factory does not run as root .* use network 'private'/);
      assert.deepEqual(lone, { private: "READY" });
    } finally {
      dir.cleanup();
    }
  });
});
