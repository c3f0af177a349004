// Property: whatever the interleaving of submits (with timeouts, retries, affinity), spawns, terminations, cancels and re-drives, no task is lost, none runs twice at once, and each reaches one final state per life.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { FactoryEvent } from "../../src/core/events.ts";
import { FINAL_TASK_STATES } from "../../src/core/task-states.ts";
import { createFactory } from "../../src/factory/create-factory.ts";
import type { HandlerContext } from "../../src/runtimes/function/function-handler.ts";
import { silentLogger, until } from "../helpers.ts";

type Op =
  | { kind: "submit"; role: "A" | "B"; priority: number; work: number; maxAttempts: number; timeout: boolean; affinity: number | null }
  | { kind: "redrive"; pick: number }
  | { kind: "spawn"; role: "A" | "B"; limit: number }
  | { kind: "terminate"; pick: number }
  | { kind: "cancel"; pick: number }
  | { kind: "tick"; turns: number };

const role = fc.constantFrom("A" as const, "B" as const);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("submit" as const),
      role,
      priority: fc.integer({ min: 0, max: 9 }),
      work: fc.integer({ min: 0, max: 5 }),
      maxAttempts: fc.integer({ min: 1, max: 3 }),
      // A 1 ms timeout fires while the handler still works: its retry must wait for it.
      timeout: fc.boolean(),
      affinity: fc.option(fc.integer({ min: 0, max: 2 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("redrive" as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("spawn" as const), role, limit: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("terminate" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("tick" as const), turns: fc.integer({ min: 1, max: 10 }) }) },
);

const yieldTurns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
};

describe("scheduler properties", () => {
  it("no task lost, none run twice at once, one final state each", { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
        const running = new Set<string>();
        let overlaps = 0;
        const factory = await createFactory({
          dataDir: ":memory:",
          logger: silentLogger,
          handlers: {
            // Works for input.work event-loop turns; fails its first run when input.flaky.
            job: async (input: unknown, ctx: HandlerContext) => {
              const { work, flaky } = input as { work: number; flaky: boolean };
              if (running.has(ctx.task.id)) overlaps++;
              running.add(ctx.task.id);
              try {
                await yieldTurns(work);
                if (flaky && ctx.task.attempts === 1) throw new Error("flaky");
                return ctx.task.id;
              } finally {
                running.delete(ctx.task.id);
              }
            },
          },
        });
        const finals = new Map<string, number>();
        factory.onEvent((e: FactoryEvent) => {
          if (e.taskId !== undefined && e.to !== undefined && FINAL_TASK_STATES.has(e.to as never)) finals.set(e.taskId, (finals.get(e.taskId) ?? 0) + 1);
        });
        try {
          for (const r of ["A", "B"]) factory.registerProfile({ name: `p${r}`, role: r, runtime: { kind: "function", handler: "job" }, pool: { spawnStrategy: "manual" } });
          const taskIds: string[] = [];
          const agentIds: string[] = [];
          for (const o of ops) {
            if (o.kind === "submit") {
              const t = await factory.submitTask({
                role: o.role,
                priority: o.priority,
                maxAttempts: o.maxAttempts,
                retryBackoffMs: 0,
                ...(o.timeout ? { timeoutMs: 1 } : {}),
                ...(o.affinity === null ? {} : { affinityKey: `k${o.affinity}` }),
                input: { work: o.work, flaky: o.work % 2 === 1 },
              });
              taskIds.push(t.id);
            } else if (o.kind === "redrive" && taskIds.length > 0) {
              await factory.retryTask(taskIds[o.pick % taskIds.length] as string).catch((e: { code?: string }) => {
                if (e.code !== "TASK_NOT_DEAD") throw e;
              });
            } else if (o.kind === "spawn") {
              agentIds.push((await factory.spawnAgent({ config: { name: `p${o.role}`, role: o.role, cognitiveLoadLimit: o.limit, runtime: { kind: "function", handler: "job" }, pool: { spawnStrategy: "manual" } } })).id);
            } else if (o.kind === "terminate" && agentIds.length > 0) {
              const id = agentIds.splice(o.pick % agentIds.length, 1)[0] as string;
              await factory.terminateAgent(id);
            } else if (o.kind === "cancel" && taskIds.length > 0) {
              await factory.cancelTask(taskIds[o.pick % taskIds.length] as string).catch((e: { code?: string }) => {
                if (e.code !== "TASK_ALREADY_FINAL") throw e;
              });
            } else if (o.kind === "tick") {
              await yieldTurns(o.turns);
            }
          }
          // Give every role an agent, so everything can finish.
          for (const r of ["A", "B"]) await factory.spawnAgent({ profile: `p${r}` });
          for (const id of taskIds) {
            const t = await factory.waitForTask(id, 5_000);
            assert.ok(FINAL_TASK_STATES.has(t.state), `task ${id} ended ${t.state}`);
            // Re-driven tasks reach a final state once per life.
            assert.equal(finals.get(id), 1 + t.redrives, `task ${id} reached a final state once per life`);
          }
          // Handlers of cancelled tasks may still be finishing their turns; then nothing runs.
          await until(() => factory.stats().runningTasks === 0, "every handler returned");
          assert.equal(overlaps, 0, "no task ran on two agents at once");
        } finally {
          await factory.close({ force: true });
        }
      }),
      { numRuns: 100 },
    );
  });
});
