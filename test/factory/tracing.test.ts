// Pins tracing: one trace per task (root → queue wait, attempt → model call with GenAI attributes) posted over OTLP/HTTP JSON, the trace id on the task and its events; off (no ids, nothing sent) by default; bad tracing options name the field.
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { writeFileSync } from "node:fs";
import { isFactoryError } from "../../src/core/errors.ts";
import type { HandlerContext } from "../../src/runtimes/function/function-handler.ts";
import { tempDir, testFactory, until } from "../helpers.ts";
import { otlpReceiver, type ReceivedSpan } from "../otlp-receiver.ts";

const byName = (spans: ReceivedSpan[], name: string): ReceivedSpan[] => spans.filter((s) => s.name === name);

describe("tracing", () => {
  it("a task's trace: root, queue wait, attempt and its model call, under the trace id the task carries", async () => {
    const receiver = await otlpReceiver();
    const { factory, dir, close } = await testFactory({ nodeId: "trace-node", tracing: { endpoint: receiver.url } });
    try {
      factory.registerProfile({ name: "thinker", role: "Thinker", runtime: { kind: "llm", systemPrompt: "You plan.", maxSteps: 1, maxOutputTokens: 40 }, pool: { spawnStrategy: "manual" } });
      const agent = await factory.spawnAgent({ profile: "thinker" });
      await factory.grantCredits(agent.walletAddress, 10);
      const submitted = await factory.submitTask({ role: "Thinker", input: "plan a trip" });
      assert.match(submitted.traceId ?? "", /^[0-9a-f]{32}$/);
      const task = await factory.waitForTask(submitted.id, 10_000);
      assert.equal(task.state, "SUCCEEDED", JSON.stringify(task.error));
      assert.equal(task.traceId, submitted.traceId);
      const events = await factory.listEvents({ taskId: task.id, limit: 100 });
      const states = events.filter((e) => e.type === "task.state");
      assert.deepEqual(states.map((e) => e.to), ["QUEUED", "ASSIGNED", "RUNNING", "SUCCEEDED"]);
      assert.ok(states.every((e) => e.data?.traceId === task.traceId), "every task.state event carries the trace id");

      await until(() => receiver.spans.some((s) => s.name === "task Thinker"), "the root span is exported", 5_000);
      const spans = receiver.spans.filter((s) => s.traceId === task.traceId);
      const chatName = spans.find((s) => s.name.startsWith("chat "))?.name ?? "no chat span";
      assert.deepEqual(spans.map((s) => s.name).sort(), ["attempt 1", chatName, "queue wait", "task Thinker"].sort());
      const [root] = byName(spans, "task Thinker");
      const [wait] = byName(spans, "queue wait");
      const [attempt] = byName(spans, "attempt 1");
      const chat = spans.find((s) => s.name.startsWith("chat "));
      assert.ok(root !== undefined && wait !== undefined && attempt !== undefined && chat !== undefined);
      assert.equal(root.parentSpanId, "", "the root has no parent");
      assert.equal(wait.parentSpanId, root.spanId);
      assert.equal(attempt.parentSpanId, root.spanId);
      assert.equal(chat.parentSpanId, attempt.spanId);
      assert.equal(root.attributes["agent_factory.task.id"], task.id);
      assert.equal(root.attributes["agent_factory.task.state"], "SUCCEEDED");
      assert.equal(root.resource["service.name"], "agent-factory");
      assert.equal(root.resource["service.instance.id"], "trace-node");
      assert.equal(attempt.attributes["agent_factory.agent.id"], agent.id);
      assert.equal(attempt.status.code ?? 0, 0, "a successful attempt is not an error");
      assert.equal(chat.attributes["gen_ai.operation.name"], "chat");
      assert.equal(chat.attributes["agent_factory.task.id"], task.id);
      assert.equal(chat.attributes["agent_factory.agent.id"], agent.id);
      assert.equal(chat.attributes["gen_ai.response.model"], chat.name.slice("chat ".length));
      assert.equal(typeof chat.attributes["gen_ai.request.model"], "string");
      assert.equal(chat.attributes["gen_ai.provider.name"], "mock");
      assert.equal(chat.attributes["gen_ai.usage.input_tokens"], task.usage?.inputTokens);
      assert.equal(chat.attributes["gen_ai.usage.output_tokens"], task.usage?.outputTokens);
      assert.ok((task.usage?.inputTokens ?? 0) > 0);
      // Nested in time as in structure.
      assert.ok(root.startMs <= wait.startMs && wait.endMs <= attempt.startMs + 1 && chat.startMs >= attempt.startMs && chat.endMs <= attempt.endMs && attempt.endMs <= root.endMs + 1);
      // The store keeps the trace id in a column of its own (migration 0011), to find a trace's task.
      await factory.close();
      const db = new DatabaseSync(join(dir, "factory.db"), { readOnly: true });
      try {
        assert.deepEqual({ ...db.prepare("select id from tasks where trace_id = ?").get(task.traceId) }, { id: task.id });
      } finally {
        db.close();
      }
    } finally {
      await close();
      await receiver.close();
    }
  });

  it("a task that fails every attempt: one error span per attempt, each after its own wait, and an error root", async () => {
    const receiver = await otlpReceiver();
    const { factory, close } = await testFactory({ tracing: { url: `${receiver.url}/v1/traces` } });
    try {
      factory.registerProfile({ name: "failer", role: "Failer", runtime: { kind: "function", handler: "fail" }, pool: { spawnStrategy: "manual" } });
      await factory.spawnAgent({ profile: "failer" });
      const submitted = await factory.submitTask({ role: "Failer", input: null, maxAttempts: 2, retryBackoffMs: 1 });
      const task = await factory.waitForTask(submitted.id, 10_000);
      assert.equal(task.state, "DEAD");
      await until(() => receiver.spans.some((s) => s.name === "task Failer"), "the root span is exported", 5_000);
      const spans = receiver.spans.filter((s) => s.traceId === task.traceId);
      assert.deepEqual(spans.map((s) => s.name).sort(), ["attempt 1", "attempt 2", "queue wait", "queue wait", "task Failer"]);
      const root = byName(spans, "task Failer")[0] as ReceivedSpan;
      assert.equal(root.status.code, 2, "ERROR");
      assert.equal(root.attributes["agent_factory.task.state"], "DEAD");
      for (const s of spans.filter((x) => x !== root)) assert.equal(s.parentSpanId, root.spanId, s.name);
      for (const a of spans.filter((x) => x.name.startsWith("attempt"))) assert.equal(a.status.code, 2, `${a.name} is an error`);
    } finally {
      await close();
      await receiver.close();
    }
  });

  it("a re-driven task: its new life is a span under its first root, never a second root", async () => {
    const receiver = await otlpReceiver();
    const { factory, close } = await testFactory({ tracing: { endpoint: receiver.url } });
    try {
      factory.registerProfile({ name: "failer", role: "Failer", runtime: { kind: "function", handler: "fail" }, pool: { spawnStrategy: "manual" } });
      await factory.spawnAgent({ profile: "failer" });
      const first = await factory.waitForTask((await factory.submitTask({ role: "Failer", input: null, maxAttempts: 1 })).id, 5_000);
      assert.equal(first.state, "DEAD");
      await factory.retryTask(first.id);
      await until(async () => (await factory.getTask(first.id)).state === "DEAD" && (await factory.getTask(first.id)).redrives === 1, "dead again", 5_000);
      await until(() => receiver.spans.some((s) => s.name === "re-drive 1 of task Failer"), "the re-drive's span is exported", 5_000);
      const spans = receiver.spans.filter((s) => s.traceId === first.traceId);
      const roots = spans.filter((s) => s.parentSpanId === "");
      assert.deepEqual(roots.map((s) => s.name), ["task Failer"]);
      const redrive = spans.find((s) => s.name === "re-drive 1 of task Failer");
      assert.equal(redrive?.parentSpanId, roots[0]?.spanId);
      assert.equal(new Set(spans.map((s) => s.spanId)).size, spans.length, "no span id twice");
      // A re-drive gives the task a fresh set of attempts: its new life starts again at attempt 1.
      assert.deepEqual(spans.map((s) => s.name).sort(), ["attempt 1", "attempt 1", "queue wait", "queue wait", "re-drive 1 of task Failer", "task Failer"]);
    } finally {
      await close();
      await receiver.close();
    }
  });

  it("a sub-task is a trace of its own: the parent's attempt shows its submit, linked to the sub-task's root", async () => {
    const receiver = await otlpReceiver();
    const scripts = tempDir();
    const script = join(scripts.path, "script.json");
    // The planner's first step submits a sub-task to the Fn role and waits for it; its second answers.
    writeFileSync(script, JSON.stringify({ rules: [{ when: { system: "^You plan" }, steps: [{ toolCalls: [{ name: "submit_task", input: { role: "Fn", input: "sub" } }] }, { text: "done" }] }] }));
    const { factory, close } = await testFactory({ tracing: { endpoint: receiver.url }, models: { providers: [{ name: "mock", kind: "mock", script, serves: "*" }] } });
    try {
      factory.registerProfile({ name: "fn", role: "Fn", runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual" } });
      factory.registerProfile({ name: "planner", role: "Planner", runtime: { kind: "llm", systemPrompt: "You plan.", tools: ["submit_task"], maxSteps: 3 }, pool: { spawnStrategy: "manual" } });
      await factory.spawnAgent({ profile: "fn" });
      const planner = await factory.spawnAgent({ profile: "planner" });
      await factory.grantCredits(planner.walletAddress, 10);
      const parent = await factory.waitForTask((await factory.submitTask({ role: "Planner", input: "plan" })).id, 10_000);
      assert.equal(parent.state, "SUCCEEDED", JSON.stringify(parent.error));
      await until(() => receiver.spans.some((s) => s.name === "task Fn") && receiver.spans.some((s) => s.name === "task Planner"), "both roots exported", 5_000);
      const submitSpan = receiver.spans.find((s) => s.name === "submit sub-task");
      assert.ok(submitSpan !== undefined);
      const sub = await factory.getTask(String(submitSpan.attributes["agent_factory.subtask.id"]));
      assert.equal(sub.parentTaskId, parent.id);
      assert.notEqual(sub.traceId, parent.traceId, "one trace per task");
      const attempt = receiver.spans.find((s) => s.traceId === parent.traceId && s.name === "attempt 1");
      assert.equal(submitSpan.traceId, parent.traceId);
      assert.equal(submitSpan.parentSpanId, attempt?.spanId, "under the attempt that submitted it");
      const subRoot = receiver.spans.find((s) => s.traceId === sub.traceId && s.name === "task Fn");
      assert.deepEqual(submitSpan.links, [{ traceId: sub.traceId, spanId: subRoot?.spanId }]);
      assert.equal(subRoot?.attributes["agent_factory.task.parent_id"], parent.id);
    } finally {
      await close();
      await receiver.close();
      scripts.cleanup();
    }
  });

  it("an MCP tool call is a span under the attempt that made it (execute_tool, GenAI attributes)", async () => {
    const receiver = await otlpReceiver();
    const nodeModules = resolve(import.meta.dirname, "../../node_modules");
    const { factory, close } = await testFactory({
      agentFiles: [nodeModules],
      tracing: { endpoint: receiver.url },
      handlers: { remember: (_input: unknown, ctx: HandlerContext) => ctx.tools.call("memory", "read_graph", {}) },
    });
    try {
      factory.registerProfile({
        name: "keeper",
        role: "Keeper",
        runtime: { kind: "function", handler: "remember" },
        mcpServers: [{ name: "memory", command: ["node", "/agent/node_modules/@modelcontextprotocol/server-memory/dist/index.js"], files: [nodeModules], env: { MEMORY_FILE_PATH: "/workspace/m.jsonl" } }],
        pool: { spawnStrategy: "manual" },
      });
      await factory.spawnAgent({ profile: "keeper" });
      const task = await factory.waitForTask((await factory.submitTask({ role: "Keeper", input: {} })).id, 15_000);
      assert.equal(task.state, "SUCCEEDED", JSON.stringify(task.error));
      await until(() => receiver.spans.some((s) => s.traceId === task.traceId && s.name === "task Keeper"), "the root span is exported", 5_000);
      const spans = receiver.spans.filter((s) => s.traceId === task.traceId);
      const [attempt] = byName(spans, "attempt 1");
      const [tool] = byName(spans, "execute_tool memory.read_graph");
      assert.ok(attempt !== undefined && tool !== undefined, spans.map((s) => s.name).join(", "));
      assert.equal(tool.parentSpanId, attempt.spanId);
      assert.equal(tool.attributes["gen_ai.operation.name"], "execute_tool");
      assert.equal(tool.attributes["gen_ai.tool.name"], "memory.read_graph");
      assert.equal(tool.attributes["agent_factory.task.id"], task.id);
    } finally {
      await close();
      await receiver.close();
    }
  });

  it("is off by default: tasks carry no trace id and their events none", async () => {
    const { factory, close } = await testFactory();
    try {
      factory.registerProfile({ name: "fn", role: "Fn", runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual" } });
      await factory.spawnAgent({ profile: "fn" });
      const task = await factory.waitForTask((await factory.submitTask({ role: "Fn", input: 1 })).id, 5_000);
      assert.equal(task.state, "SUCCEEDED");
      assert.equal(task.traceId, null);
      const events = await factory.listEvents({ taskId: task.id, limit: 100 });
      assert.ok(events.length > 0 && events.every((e) => e.data?.traceId === undefined));
    } finally {
      await close();
    }
  });

  it("off, it loads none of the OpenTelemetry SDK or exporters; on, it does", () => {
    // A child process records every module it resolves (Node's synchronous module hooks). The
    // API package itself is loaded anyway: prom-client imports it (for exemplars).
    const script = (tracing: boolean): string => `
      import { registerHooks } from "node:module";
      const seen = new Set();
      registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); if (r.url.includes("/@opentelemetry/") && !r.url.includes("/@opentelemetry/api/")) seen.add(r.url); return r; } });
      const { createFactory } = await import("./src/index.ts");
      const factory = await createFactory({ dataDir: ":memory:", ${tracing ? 'tracing: { endpoint: "http://127.0.0.1:9" },' : ""} logger: { info() {}, warn() {}, error() {} } });
      factory.registerProfile({ name: "fn", role: "Fn", runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual" } });
      await factory.spawnAgent({ profile: "fn" });
      await factory.waitForTask((await factory.submitTask({ role: "Fn", input: 1 })).id, 5000);
      await factory.close({ force: true });
      console.log(seen.size);
    `;
    const run = (tracing: boolean): number => {
      const child = spawnSync(process.execPath, ["--conditions=agent-factory-source", "--disable-warning=ExperimentalWarning", "--input-type=module", "-e", script(tracing)], { cwd: join(import.meta.dirname, "..", ".."), encoding: "utf8", timeout: 30_000 });
      assert.equal(child.status, 0, child.stderr);
      return Number(child.stdout.trim().split("\n").at(-1));
    };
    assert.equal(run(false), 0, "no OpenTelemetry SDK module without tracing");
    assert.ok(run(true) > 0, "the SDK is loaded when tracing is on");
  });

  it("metrics: false counts nothing, and /metrics says they are off", async () => {
    const { factory, close } = await testFactory({ metrics: false });
    try {
      const scraped = await factory.scrapeMetrics();
      assert.equal(scraped.body, "# metrics are off on this node\n");
      assert.match(scraped.contentType, /^text\/plain; version=0\.0\.4/);
    } finally {
      await close();
    }
  });

  for (const [tracing, field] of [
    [{ endpoint: "not a url" }, "tracing.endpoint"],
    [{ url: "ftp://x/v1/traces" }, "tracing.url"],
    [{}, "tracing.endpoint"],
    [{ endpoint: "http://127.0.0.1:4318", protocol: "grpc" }, "tracing.protocol"],
  ] as const) {
    it(`refuses tracing ${JSON.stringify(tracing)}, naming ${field}`, async () => {
      await assert.rejects(
        testFactory({ tracing: tracing as never }),
        (error: unknown) => isFactoryError(error) && error.code === "VALIDATION_FAILED" && error.message.includes(field),
      );
    });
  }
});
