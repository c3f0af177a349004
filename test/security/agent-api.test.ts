// Pins the agent-facing API on a process agent's stdio channel (the channel is its identity): its crew's context and bus, sub-tasks of its attempt, its tasks, model calls for its attempt, and for an admin agent spawning and terminating members of its crew — and that naming another crew is a JSON-RPC error with data.code CROSS_CREW, another crew's task NOT_YOUR_TASK, a missing scope FORBIDDEN, with nothing done.
import assert from "node:assert/strict";
import { dirname, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Factory } from "../../src/factory/factory.ts";
import { testFactory } from "../helpers.ts";

const agentFile = resolve(import.meta.dirname, "../fixtures/rpc-agent.mjs");

interface Answer {
  result?: unknown;
  error?: { message: string; code: string | number };
}

describe("the agent-facing API on stdio", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let crewA: string;
  let crewB: string;
  let agentA: string;
  before(async () => {
    ({ factory, close } = await testFactory({ agentFiles: [dirname(agentFile)] }));
    factory.registerProfile({ name: "rpc", role: "Rpc", runtime: { kind: "process", command: ["node", "/agent/rpc-agent.mjs"], files: [agentFile] }, health: { heartbeatIntervalMs: 0 }, pool: { spawnStrategy: "manual" } });
    const a = await factory.assembleCrew({ name: "a", members: [{ profile: "rpc" }] });
    const b = await factory.assembleCrew({ name: "b", members: [{ profile: "rpc" }] });
    [crewA, crewB, agentA] = [a.crew.id, b.crew.id, a.agents[0]?.id as string];
  });
  after(() => close());

  const ask = async (calls: Array<{ method: string; params?: unknown }>, crewId = crewA): Promise<Answer[]> => {
    const task = await factory.waitForTask((await factory.submitTask({ role: "Rpc", crewId, input: { calls } })).id, 10_000);
    assert.equal(task.state, "SUCCEEDED", JSON.stringify(task.error));
    return (task.result as { answers: Answer[] }).answers;
  };

  it("reads and writes its crew's context, publishes on its bus, submits a sub-task and reads it", async () => {
    const answers = await ask([
      { method: "crew/context/set", params: { key: "plan", value: { step: 1 } } },
      { method: "crew/context/get", params: { key: "plan" } },
      { method: "crew/context/get", params: { key: "plan", crewId: crewA } },
      { method: "crew/publish", params: { topic: "updates", payload: { ok: true } } },
      { method: "task/submit", params: { parentTaskId: "$task", role: "Rpc", input: { calls: [] } } },
    ]);
    assert.deepEqual(answers.slice(0, 4), [{ result: null }, { result: { value: { step: 1 } } }, { result: { value: { step: 1 } } }, { result: null }]);
    const sub = answers[4]?.result as { id: string; crewId: string; parentTaskId: string };
    assert.equal(sub.crewId, crewA);
    assert.deepEqual(await factory.getContext(crewA), { plan: { step: 1 } });
    const messages = await factory.listMessages(crewA, { topic: "updates" });
    assert.deepEqual(messages.map((m) => m.payload), [{ ok: true }]);
    const read = await ask([{ method: "task/get", params: { id: sub.id, waitMs: 5_000 } }]);
    assert.equal((read[0]?.result as { id: string }).id, sub.id);
  });

  it("naming another crew is CROSS_CREW and another crew's task NOT_YOUR_TASK; nothing of it is done", async () => {
    const other = await factory.submitTask({ role: "Rpc", crewId: crewB, input: { calls: [] } });
    await factory.waitForTask(other.id, 5_000);
    const answers = await ask([
      { method: "crew/context/get", params: { key: "plan", crewId: crewB } },
      { method: "crew/context/set", params: { key: "stolen", value: 1, crewId: crewB } },
      { method: "crew/publish", params: { topic: "updates", payload: {}, crewId: crewB } },
      { method: "task/submit", params: { parentTaskId: "$task", role: "Rpc", crewId: crewB, input: {} } },
      { method: "task/get", params: { id: other.id } },
      { method: "model/call", params: { taskId: other.id, messages: [{ role: "user", content: "hi" }] } },
      { method: "agent/impersonate", params: {} },
    ]);
    assert.deepEqual(
      answers.map((a) => a.error?.code),
      ["CROSS_CREW", "CROSS_CREW", "CROSS_CREW", "CROSS_CREW", "NOT_YOUR_TASK", "NOT_YOUR_TASK", -32601],
    );
    assert.deepEqual(await factory.getContext(crewB), {});
    assert.deepEqual(await factory.listMessages(crewB, { topic: "updates" }), []);
    assert.equal((await factory.listTasks({ crewId: crewB })).length, 1, "no task was submitted into crew B");
    // Each refusal is an audit event naming the agent, what it asked and why.
    const denied = (await factory.listEvents({ types: ["security.denied"] })).map((e) => e.data as Record<string, unknown>).filter((d) => d.agentId === agentA);
    assert.deepEqual(
      denied.map((d) => [d.code, d.operation, d.keyId]),
      [
        ["CROSS_CREW", "crew/context/get", `agent:${agentA}`],
        ["CROSS_CREW", "crew/context/set", `agent:${agentA}`],
        ["CROSS_CREW", "crew/publish", `agent:${agentA}`],
        ["CROSS_CREW", "task/submit", `agent:${agentA}`],
        ["NOT_YOUR_TASK", "a wait", `agent:${agentA}`],
        ["NOT_YOUR_TASK", "a model call", `agent:${agentA}`],
      ],
    );
  });

  it("an admin agent spawns into its own crew and terminates its members; another crew's agent is CROSS_CREW; without the admin scope both are FORBIDDEN", async () => {
    factory.registerProfile({ name: "rpc-admin", role: "RpcAdmin", scopes: ["admin"], runtime: { kind: "process", command: ["node", "/agent/rpc-agent.mjs"], files: [agentFile] }, health: { heartbeatIntervalMs: 0 }, pool: { spawnStrategy: "manual" } });
    const { crew, agents } = await factory.assembleCrew({ name: "led", members: [{ profile: "rpc-admin" }, { profile: "rpc" }] });
    const member = agents[1]?.id as string;
    const outsider = (await factory.listAgents({ crewId: crewB }))[0]?.id as string;
    const run = async (role: string, calls: Array<{ method: string; params?: unknown }>) => {
      const task = await factory.waitForTask((await factory.submitTask({ role, crewId: crew.id, input: { calls } })).id, 15_000);
      return (task.result as { answers: Answer[] }).answers;
    };
    const answers = await run("RpcAdmin", [
      { method: "agent/spawn", params: { profile: "rpc" } },
      { method: "agent/terminate", params: { id: member } },
      { method: "agent/terminate", params: { id: outsider } },
      { method: "agent/spawn", params: { profile: "rpc", crewId: crewB } },
    ]);
    const spawned = answers[0]?.result as { id: string; crewId: string; state: string };
    assert.deepEqual([spawned.crewId, spawned.state], [crew.id, "READY"]);
    assert.equal((answers[1]?.result as { id: string }).id, member);
    assert.deepEqual(answers.slice(2).map((a) => a.error?.code), ["CROSS_CREW", "CROSS_CREW"]);
    assert.ok((await factory.getCrew(crew.id)).agentIds.includes(spawned.id), "the new agent is a member");
    assert.equal((await factory.getAgent(outsider)).state !== "TERMINATED", true, "the other crew's agent lives on");
    // A member without the admin scope may do neither.
    const plain = await run("Rpc", [{ method: "agent/spawn", params: { profile: "rpc" } }, { method: "agent/terminate", params: { id: spawned.id } }]);
    assert.deepEqual(plain.map((a) => a.error?.code), ["FORBIDDEN", "FORBIDDEN"]);
  });
});
