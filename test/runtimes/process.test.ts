// Pins process agents: real programs over JSON-RPC in real bubblewrap sandboxes — isolation, crashes, no processes left, protocol edge cases.
import assert from "node:assert/strict";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { BubblewrapSandbox } from "../../src/adapters/sandbox/bubblewrap/bubblewrap-sandbox.ts";
import type { FactoryEvent } from "../../src/core/events.ts";
import { FactoryError } from "../../src/core/errors.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { alive, processesWith, tempDir, testFactory, until } from "../helpers.ts";

const root = resolve(import.meta.dirname, "../..");

describe("process agents", () => {
  // Agent scripts copied under a unique name, so these tests can count their own processes.
  const scripts = tempDir("af-agents-");
  const marker = `agent_${process.pid}_${Date.now()}`;
  const py = join(scripts.path, `${marker}.py`);
  const mjs = join(scripts.path, `${marker}.mjs`);
  const proto = join(scripts.path, `${marker}_proto.mjs`);
  before(() => {
    copyFileSync(join(root, "examples/agents/echo_agent.py"), py);
    copyFileSync(join(root, "examples/agents/echo-agent.mjs"), mjs);
    copyFileSync(join(root, "test/fixtures/protocol-agent.mjs"), proto);
  });
  after(() => scripts.cleanup());

  let factory: Factory;
  let dataDir: string;
  let close: () => Promise<void>;
  beforeEach(async () => {
    ({ factory, dir: dataDir, close } = await testFactory({ agentFiles: [scripts.path], allowEgress: true }));
  });
  afterEach(async () => {
    await close();
    assert.deepEqual(processesWith(marker), [], "no agent process outlives the factory");
    // This factory's warm sandboxes (their bwrap names a slot under its data dir; what runs inside dies with it):
    // other factories on the machine (another test file, a server) have their own.
    assert.deepEqual(processesWith(join(dataDir, "workspaces", ".warm-")), [], "no warm sandbox outlives the factory");
  });

  const pyAgent = (name = "py", extra: Record<string, unknown> = {}) => ({
    name,
    role: "Py",
    runtime: { kind: "process" as const, command: ["python3", `/agent/${marker}.py`], files: [py] },
    pool: { spawnStrategy: "manual" as const },
    ...extra,
  });

  it("runs a Python and a Node agent in sandboxes: results, pids, saved context, heartbeats, progress", async () => {
    const python = await factory.spawnAgent({ config: pyAgent() });
    const node = await factory.spawnAgent({
      config: { name: "nd", role: "Nd", runtime: { kind: "process", command: ["node", `/agent/${marker}.mjs`], files: [mjs] }, pool: { spawnStrategy: "manual" } },
    });
    assert.ok(python.pid !== null && alive(python.pid) && node.pid !== null && alive(node.pid));
    // Each in a process group of its own: a Ctrl-C at the factory's terminal does not reach it.
    const group = (pid: number): number => Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ")[2]);
    assert.equal(group(python.pid), python.pid);
    assert.notEqual(group(python.pid), group(process.pid));
    const progress: FactoryEvent[] = [];
    factory.onEvent((e) => progress.push(e), { types: ["task.progress"] });
    const a = await factory.waitForTask((await factory.submitTask({ role: "Py", input: { text: "hi" } })).id, 5_000);
    const b = await factory.waitForTask((await factory.submitTask({ role: "Nd", input: { text: "abc" } })).id, 5_000);
    assert.deepEqual([a.state, a.result], ["SUCCEEDED", { upper: "HI", by: "python", runs: 1 }]);
    assert.deepEqual([b.state, b.result], ["SUCCEEDED", { reversed: "cba", by: "node" }]);
    assert.deepEqual((await factory.getAgent(python.id)).context, { runs: 1 });
    assert.deepEqual(progress.map((e) => [e.taskId, (e.data as { fraction: number }).fraction]), [[b.id, 1]]);
    await until(async () => (await factory.getAgent(node.id)).health.lastHeartbeatAt !== null, "a heartbeat", 3_000);
  });

  it("keeps agents in their sandbox: read-only root, private workspace, no network without egress", async () => {
    const one = await factory.spawnAgent({ config: pyAgent() });
    const other = await factory.spawnAgent({ config: pyAgent() });
    const run = async (agentId: string, input: unknown) => factory.waitForTask((await factory.submitTask({ agentId, input })).id, 5_000);
    // Writing outside /workspace fails; inside, it lands in the agent's host workspace.
    for (const path of ["/usr/x", "/etc/x", `${root}/escape`, "/root/x"]) {
      const t = await run(one.id, { write: path });
      assert.equal(t.state, "DEAD", `${path}: ${JSON.stringify(t.result)}`);
      assert.match(t.error?.message ?? "", /Read-only file system|No such file or directory|Permission denied/);
    }
    assert.equal(existsSync(`${root}/escape`), false);
    assert.equal((await run(one.id, { write: "/workspace/note" })).state, "SUCCEEDED");
    const hostWorkspace = join(dataDir, "workspaces", one.id);
    assert.equal(readFileSync(join(hostWorkspace, "note"), "utf8"), "x");
    // Another agent's workspace, by its host path, is not there.
    const peek = await run(other.id, { read: join(hostWorkspace, "note") });
    assert.deepEqual([peek.state, /No such file/.test(peek.error?.message ?? "")], ["DEAD", true]);
    // No network: not even to a server on the host's loopback.
    const server = createServer((socket) => socket.end()).listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const port = (server.address() as { port: number }).port;
    try {
      const blocked = await run(one.id, { connect: ["127.0.0.1", port] });
      assert.equal(blocked.state, "DEAD");
      assert.match(blocked.error?.message ?? "", /refused|unreachable|Network/i);
      const open = await factory.spawnAgent({ config: pyAgent("py-egress", { sandbox: { allowEgress: true } }) });
      const allowed = await run(open.id, { connect: ["127.0.0.1", port] });
      assert.deepEqual([allowed.state, allowed.result], ["SUCCEEDED", { connected: true }]);
    } finally {
      server.close();
    }
    // Terminating an agent wipes its workspace.
    await factory.terminateAgent(one.id);
    await until(() => !existsSync(hostWorkspace), "workspace wiped", 5_000);
  });

  it("applies the profile's limits, and runs unsandboxed when the profile says kind: none and the factory allows it", async () => {
    const limited = await factory.spawnAgent({ config: pyAgent("py-limited", { sandbox: { openFiles: 32 } }) });
    const many = await factory.waitForTask((await factory.submitTask({ agentId: limited.id, input: { open: 64 } })).id, 5_000);
    assert.equal(many.state, "DEAD");
    assert.match(many.error?.message ?? "", /Too many open files/);
    assert.equal((await factory.waitForTask((await factory.submitTask({ agentId: limited.id, input: { open: 16 } })).id, 5_000)).state, "SUCCEEDED");
    // kind: none — a plain child process, in a factory that allows it: the host's loopback is reachable.
    const unsandboxed = await testFactory({ allowUnsandboxed: true });
    const server = createServer((socket) => socket.end()).listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    try {
      const plain = await unsandboxed.factory.spawnAgent({
        config: { name: "py-plain", role: "Py", runtime: { kind: "process", command: ["python3", py] }, sandbox: { kind: "none" }, pool: { spawnStrategy: "manual" } },
      });
      const port = (server.address() as { port: number }).port;
      const t = await unsandboxed.factory.waitForTask((await unsandboxed.factory.submitTask({ agentId: plain.id, input: { connect: ["127.0.0.1", port] } })).id, 5_000);
      assert.deepEqual([t.state, t.result], ["SUCCEEDED", { connected: true }]);
    } finally {
      server.close();
      await unsandboxed.close();
    }
  });

  it("re-queues the task of an agent that crashes mid-task; it completes elsewhere and the agent comes back under its id", async () => {
    factory.registerProfile(pyAgent());
    const b = await factory.spawnAgent({ profile: "py" });
    const a = await factory.spawnAgent({ profile: "py" }); // freed last: least-loaded tries it first
    const task = await factory.waitForTask((await factory.submitTask({ role: "Py", input: { crashOn: a.id } })).id, 10_000);
    assert.deepEqual([task.state, task.agentId, task.attempts], ["SUCCEEDED", b.id, 2]);
    assert.equal(alive(a.pid as number), false, "the crashed process is gone");
    await until(async () => (await factory.getAgent(a.id)).state === "READY", "replaced", 10_000);
    const back = await factory.getAgent(a.id);
    assert.deepEqual([back.restarts, back.walletAddress, back.pid !== a.pid], [1, a.walletAddress, true]);
    // kill -9 of an idle agent: replaced the same way.
    process.kill(back.pid as number, "SIGKILL");
    await until(async () => (await factory.getAgent(a.id)).restarts === 2 && (await factory.getAgent(a.id)).state === "READY", "replaced after kill -9", 10_000);
  });

  it("starts the next agent of a profile from a warm sandbox: specialized in well under a second, same isolation", async () => {
    factory.registerProfile(pyAgent());
    const cold = await factory.spawnAgent({ profile: "py" });
    await until(() => (factory.stats().runtimes.process as { warmReady: number }).warmReady >= 1, "a warm sandbox ready", 5_000);
    const warm = await factory.spawnAgent({ profile: "py" });
    const stats = factory.stats().runtimes.process as { warmLeases: number; leaseP99Ms: number };
    assert.equal(stats.warmLeases, 1);
    assert.ok(stats.leaseP99Ms < 1_000);
    assert.notEqual(warm.pid, cold.pid);
    const t = await factory.waitForTask((await factory.submitTask({ agentId: warm.id, input: { text: "warm" } })).id, 5_000);
    assert.deepEqual(t.result, { upper: "WARM", by: "python", runs: 1 });
    const escape = await factory.waitForTask((await factory.submitTask({ agentId: warm.id, input: { write: "/usr/x" } })).id, 5_000);
    assert.equal(escape.state, "DEAD");
    assert.equal((await factory.waitForTask((await factory.submitTask({ agentId: warm.id, input: { write: "/workspace/w" } })).id, 5_000)).state, "SUCCEEDED");
    assert.equal(existsSync(join(dataDir, "workspaces", warm.id, "w")), true, "the renamed slot is the agent's workspace");
  });

  it("assembles and disbands a crew of 50 process agents with no process left behind", { timeout: 120_000 }, async () => {
    const { crew, agents } = await factory.assembleCrew({ name: "fifty", members: [{ config: pyAgent("fifty"), count: 50 }] });
    assert.equal(agents.length, 50);
    assert.ok(agents.every((a) => a.state === "READY" && a.pid !== null && alive(a.pid)), "every member READY with a live process");
    assert.ok(processesWith(marker).length >= 50, `${processesWith(marker).length} processes`);
    await factory.disbandCrew(crew.id);
    await until(async () => (await factory.getCrew(crew.id)).state === "DISBANDED", "disbanded", 30_000);
    await until(() => processesWith(marker).length === 0, "every process gone", 10_000);
    await until(() => agents.every((a) => !alive(a.pid as number)), "every member's pid gone (reaped)", 5_000);
  });

  describe("protocol edge cases", () => {
    const protoAgent = (mode: string, extra: Record<string, unknown> = {}) => ({
      name: `proto-${mode}`,
      role: "Proto",
      runtime: { kind: "process" as const, command: ["node", `/agent/${marker}_proto.mjs`], files: [proto], env: { MODE: mode }, ...extra },
      pool: { spawnStrategy: "manual" as const },
    });

    it("survives malformed lines, answers unknown methods with method-not-found, drops a 9 MiB line", async () => {
      for (const mode of ["garbage", "unknown", "huge"]) {
        const agent = await factory.spawnAgent({ config: protoAgent(mode) });
        const t = await factory.waitForTask((await factory.submitTask({ agentId: agent.id, input: 7 })).id, 10_000);
        assert.equal(t.state, "SUCCEEDED", mode);
        if (mode === "unknown") assert.deepEqual((t.result as { unknownAnswer: unknown }).unknownAnswer, { code: -32601, message: "method not found: bogus/method" });
      }
      assert.equal(factory.isOpen, true);
    });

    it("fails the spawn of an agent that never answers initialize, and leaves no process", async () => {
      const started = Date.now();
      await assert.rejects(factory.spawnAgent({ config: protoAgent("silent", { initializeTimeoutMs: 300 }) }), (error: unknown) => {
        assert.ok(error instanceof FactoryError);
        assert.equal(error.code, "AGENT_START_FAILED");
        assert.match(error.message, /did not answer 'initialize' within 300 ms/);
        return true;
      });
      assert.ok(Date.now() - started < 5_000);
      await until(() => processesWith(`${marker}_proto`).length === 0, "the silent agent killed", 5_000);
    });
  });

  it("says how to install bubblewrap when it is missing", () => {
    const sandbox = new BubblewrapSandbox({ bwrapPath: "/nonexistent/bwrap" });
    assert.throws(() => sandbox.check(), (error: unknown) => error instanceof FactoryError && error.code === "SANDBOX_UNAVAILABLE" && /apt-get install bubblewrap/.test(error.message));
  });
});
