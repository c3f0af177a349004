// Pins that an agent acts only on its own attempts: progress, model calls, sub-tasks and waits naming another task are refused, logged and counted, never recorded.
import assert from "node:assert/strict";
import { dirname, resolve } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { isFactoryError } from "../../src/core/errors.ts";
import type { AgentRuntime, AgentServices } from "../../src/core/ports/runtime.ts";
import { createFactory } from "../../src/factory/create-factory.ts";
import type { Factory } from "../../src/factory/factory.ts";
import type { HandlerContext } from "../../src/runtimes/function/function-handler.ts";
import { silentLogger, tempDir, testFactory, until } from "../helpers.ts";

const meddler = resolve(import.meta.dirname, "../fixtures/meddling-agent.mjs");

/** Never progresses; ends only when aborted (a stuck handler). */
const hang = (_input: unknown, ctx: HandlerContext): Promise<never> =>
  new Promise((_resolve, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason as Error)));

describe("agents act only on their own tasks", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let warnings: string[];
  beforeEach(async () => {
    warnings = [];
    const logger = { info: () => {}, warn: (m: string) => warnings.push(m), error: () => {} };
    ({ factory, close } = await testFactory({ handlers: { hang }, logger, agentFiles: [dirname(meddler)] }));
  });
  afterEach(() => close());

  it("ignores a process agent's progress for another crew's running task: not recorded, stuck detection still fires; its own progress counts", async () => {
    factory.registerProfile({ name: "victim", role: "Victim", runtime: { kind: "function", handler: "hang" }, pool: { spawnStrategy: "manual", stuckThresholdMs: 400 } });
    factory.registerProfile({
      name: "meddler",
      role: "Meddler",
      runtime: { kind: "process", command: ["node", "/agent/meddling-agent.mjs"], files: [meddler] },
      pool: { spawnStrategy: "manual" },
    });
    const { crew: victims } = await factory.assembleCrew({ name: "victims", members: [{ profile: "victim" }] });
    const { crew: meddlers, agents } = await factory.assembleCrew({ name: "meddlers", members: [{ profile: "meddler" }] });
    const meddlerId = agents[0]?.id as string;
    const victim = await factory.submitTask({ role: "Victim", crewId: victims.id, maxAttempts: 5 });
    await until(async () => (await factory.getTask(victim.id)).state === "RUNNING", "the victim task to run");
    const own = await factory.submitTask({ role: "Meddler", crewId: meddlers.id, input: { meddle: victim.id, ms: 1_500, every: 50 } });
    const done = await factory.waitForTask(own.id, 10_000);
    assert.equal(done.state, "SUCCEEDED");
    const meddled = (done.result as { meddled: number }).meddled;
    assert.ok(meddled >= 10, `the agent sent ${meddled} progress notifications for the victim task`);

    // Nothing of it was recorded on the victim task.
    const victimEvents = await factory.listEvents({ taskId: victim.id });
    assert.deepEqual(victimEvents.filter((e) => e.type === "task.progress"), []);
    // Its stuck timer ran on: it was found stuck (400 ms without progress) while the meddler was still sending.
    const stuck = victimEvents.find((e) => e.type === "task.state" && e.to === "QUEUED" && String(e.data?.reason).includes("stuck"));
    assert.ok(stuck !== undefined, "the victim task was found stuck");
    assert.ok(Date.parse(stuck.at) < Date.parse(done.finishedAt as string), "stuck detection fired while the meddler was sending progress for it");

    // Its own progress is recorded.
    const ownProgress = (await factory.listEvents({ taskId: own.id, types: ["task.progress"] })).map((e) => [e.agentId, e.data?.message]);
    assert.deepEqual(ownProgress, [[meddlerId, "mine"]]);

    // Every refused notification is counted; each is a warning naming the agent and the task.
    assert.equal(factory.stats().security.denied, meddled);
    const denials = warnings.filter((w) => w.includes(meddlerId) && w.includes(victim.id));
    assert.ok(denials.length >= 1);
    assert.match(denials[0] as string, new RegExp(`^security: agent ${meddlerId} named task ${victim.id} \\(progress\\), which is not one of its attempts; ignored$`));
  });
});

/**
 * A runtime (any implementation of the port can be plugged in through `runtimes`) whose agents
 * use every service that names a task, on their own task and on the one given as input.
 */
const probing: AgentRuntime = {
  kind: "function",
  validate: () => {},
  start: async (_agent, _profile, services: AgentServices) => ({
    run: async (input, { task }) => {
      if ((input as { leaf?: boolean }).leaf === true) return null;
      const other = (input as { other: string }).other;
      const attempt = async (call: () => Promise<unknown>): Promise<string> => {
        try {
          await call();
          return "ok";
        } catch (error) {
          return isFactoryError(error) ? `${error.code}: ${error.message}` : String(error);
        }
      };
      const ask = { messages: [{ role: "user" as const, content: "hello" }] };
      return {
        otherModel: await attempt(() => (services.models as NonNullable<AgentServices["models"]>).call(other, ask)),
        otherSubtask: await attempt(() => (services.tasks as NonNullable<AgentServices["tasks"]>).submit(other, { role: "Prober", input: { leaf: true } })),
        otherWait: await attempt(() => (services.tasks as NonNullable<AgentServices["tasks"]>).wait(other, 0)),
        ownModel: await attempt(() => (services.models as NonNullable<AgentServices["models"]>).call(task.id, ask)),
        ownSubtaskWait: await attempt(async () => {
          const sub = await (services.tasks as NonNullable<AgentServices["tasks"]>).submit(task.id, { role: "Prober", input: { leaf: true } });
          await (services.tasks as NonNullable<AgentServices["tasks"]>).wait(sub.id, 0);
        }),
      };
    },
    signal: async () => {},
    stop: async () => {},
  }),
};

describe("agents act only on their own tasks: model calls, sub-tasks, waits", () => {
  it("refuses a model call, a sub-task and a wait naming another crew's task with NOT_YOUR_TASK; its own work goes through", async () => {
    const dir = tempDir();
    const warnings: string[] = [];
    const factory = await createFactory({ dataDir: dir.path, runtimes: [probing], logger: { ...silentLogger, warn: (m) => warnings.push(m) } });
    try {
      factory.registerProfile({ name: "prober", role: "Prober", pool: { spawnStrategy: "manual" } });
      const { crew: a } = await factory.assembleCrew({ name: "a", budget: 100, members: [{ profile: "prober" }] });
      const { crew: b, agents } = await factory.assembleCrew({ name: "b", budget: 100, members: [{ profile: "prober" }] });
      const theirs = await factory.submitTask({ role: "Prober", crewId: a.id, input: { leaf: true } });
      await factory.waitForTask(theirs.id, 5_000);
      const mine = await factory.waitForTask((await factory.submitTask({ role: "Prober", crewId: b.id, input: { other: theirs.id } })).id, 5_000);
      const refused = `NOT_YOUR_TASK: task ${theirs.id} is not one of agent ${agents[0]?.id}'s attempts`;
      assert.deepEqual(mine.result, { otherModel: refused, otherSubtask: refused, otherWait: refused, ownModel: "ok", ownSubtaskWait: "ok" });
      assert.equal((await factory.getTask(theirs.id)).usage, undefined, "no usage was counted on their task");
      assert.equal((await factory.listTasks()).filter((t) => t.parentTaskId === theirs.id).length, 0, "no sub-task was linked to their task");
      assert.equal((await factory.getTask(mine.id)).usage?.calls, 1, "its own call counted on its own task");
      assert.equal(factory.stats().security.denied, 3);
      assert.equal(warnings.filter((w) => w.startsWith(`security: agent ${agents[0]?.id} named task ${theirs.id}`)).length, 3);
    } finally {
      await factory.close({ force: true });
      dir.cleanup();
    }
  });
});
