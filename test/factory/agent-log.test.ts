// Pins how agents' log lines reach the factory's logger: with id and level, cut when long, and a chatty agent rate-limited with the drops counted and said.
import assert from "node:assert/strict";
import { dirname, resolve } from "node:path";
import { describe, it } from "node:test";
import { AGENT_LOG_LINE_CHARS, AGENT_LOG_LINES_PER_SEC } from "../../src/agents/agent-log.ts";
import { testFactory } from "../helpers.ts";

const fixture = resolve(import.meta.dirname, "../fixtures/meddling-agent.mjs");

describe("agent logs", () => {
  it("limits a flooding agent to its burst, then says how many lines were dropped; cuts a long line and says how much", async () => {
    const lines: string[] = [];
    const record = (m: string): void => void lines.push(m);
    const { factory, close } = await testFactory({ logger: { debug: record, info: record, warn: record, error: record }, agentFiles: [dirname(fixture)] });
    try {
      const agent = await factory.spawnAgent({
        config: { name: "talker", role: "Talker", runtime: { kind: "process", command: ["node", "/agent/meddling-agent.mjs"], files: [fixture] }, pool: { spawnStrategy: "manual" } },
      });
      const run = async (input: unknown): Promise<void> => {
        const task = await factory.submitTask({ agentId: agent.id, input });
        assert.equal((await factory.waitForTask(task.id, 10_000)).state, "SUCCEEDED");
      };
      await run({ flood: 1_000 });
      // Two seconds later the agent has budget again: its next line carries the count of those dropped.
      await new Promise((r) => setTimeout(r, 2_000));
      await run({ log: "x".repeat(AGENT_LOG_LINE_CHARS + 500) });
      const passed = lines.filter((l) => l.startsWith(`[agent ${agent.id} info] flood `)).length;
      const notices = lines.filter((l) => l.startsWith(`agent ${agent.id} logs more than ${AGENT_LOG_LINES_PER_SEC} lines/s`));
      assert.equal(notices.length, 1, "the first drop is said once");
      const count = lines.map((l) => new RegExp(`^agent ${agent.id}: (\\d+) log line\\(s\\) dropped`).exec(l)?.[1]).find((n) => n !== undefined);
      assert.ok(count !== undefined, "the count of dropped lines follows");
      assert.equal(passed + Number(count), 1_000, "every line is either logged or counted as dropped");
      assert.ok(passed >= 100 && passed < 150, `${passed} lines passed: the burst of 100 and what the rate refilled meanwhile`);
      const long = lines.find((l) => l.startsWith(`[agent ${agent.id} info] xxx`));
      assert.equal(long, `[agent ${agent.id} info] ${"x".repeat(AGENT_LOG_LINE_CHARS)}… (500 more characters cut)`);
    } finally {
      await close();
    }
  });

  it("lines below the logger's level are not printed and cost no budget: a flood of info under level warn says nothing, a warning still shows", async () => {
    const lines: string[] = [];
    const record = (m: string): void => void lines.push(m);
    const { factory, close } = await testFactory({ logger: { level: "warn", info: record, warn: record, error: record }, agentFiles: [dirname(fixture)] });
    try {
      const agent = await factory.spawnAgent({
        config: { name: "talker", role: "Talker", runtime: { kind: "process", command: ["node", "/agent/meddling-agent.mjs"], files: [fixture] }, pool: { spawnStrategy: "manual" } },
      });
      for (const input of [{ flood: 500 }, { log: "careful", level: "warn" }]) {
        assert.equal((await factory.waitForTask((await factory.submitTask({ agentId: agent.id, input })).id, 10_000)).state, "SUCCEEDED");
      }
      assert.deepEqual(lines, [`[agent ${agent.id} warn] careful`]);
    } finally {
      await close();
    }
  });
});
