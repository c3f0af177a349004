// Pins traces and logs of a real `agent-factory serve`: --otlp-endpoint (and the OTEL_ variables) post a task's spans to an OTLP/HTTP receiver, JSON or protobuf, and nothing without them; --log-format json prints JSON lines, and a failed task, a heal, a budget refusal and a security refusal are each logged once with their ids; a bad endpoint or protocol exits 2 naming it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { until } from "../helpers.ts";
import { otlpReceiver } from "../otlp-receiver.ts";
import { BIN, ENV, ROOT, startServe, type Server } from "./serve.ts";

const KEY = "observability-test-key-0123456789";
const servers: Server[] = [];
const dirs: string[] = [];
after(() => {
  for (const s of servers) s.child.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "af-observability-"));
  dirs.push(dir);
  return dir;
}

async function call(server: Server, method: string, path: string, body?: unknown, key = KEY): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }), "x-request-id": "req-observability-1" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

/** The server's stdout as JSON objects; fails on any line that is not one. */
function jsonLines(server: Server): Array<Record<string, unknown>> {
  return server
    .stdout()
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        assert.fail(`not a JSON line: ${line}`);
      }
    });
}

describe("serve: traces and JSON logs", () => {
  it("--otlp-endpoint: a task's spans reach the receiver under its traceId; --log-format json logs each failure once with its ids", async () => {
    const receiver = await otlpReceiver();
    try {
      const server = await startServe(["--data", dataDir(), "--chaos", "--log-format", "json", "--otlp-endpoint", receiver.url, "--node-id", "obs-node"], (s) => servers.push(s), { ...ENV, AGENT_FACTORY_API_KEY: KEY });
      assert.equal((await call(server, "POST", "/v1/profiles", { name: "fn", role: "Fn", runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual" } })).status, 201);
      assert.equal((await call(server, "POST", "/v1/profiles", { name: "failer", role: "Failer", runtime: { kind: "function", handler: "fail" }, pool: { spawnStrategy: "manual" } })).status, 201);
      assert.equal((await call(server, "POST", "/v1/profiles", { name: "thinker", role: "Thinker", runtime: { kind: "llm", systemPrompt: "You plan.", maxSteps: 1 }, pool: { spawnStrategy: "manual" } })).status, 201);
      const fn = (await call(server, "POST", "/v1/agents", { profile: "fn" })).json;
      await call(server, "POST", "/v1/agents", { profile: "failer" });
      const thinker = (await call(server, "POST", "/v1/agents", { profile: "thinker" })).json;

      // A task's trace.
      const submitted = await call(server, "POST", "/v1/tasks", { role: "Fn", input: { hello: 1 } });
      assert.equal(submitted.status, 202);
      assert.equal(submitted.headers.get("x-request-id"), "req-observability-1", "the caller's request id is echoed");
      const done = (await call(server, "GET", `/v1/tasks/${String(submitted.json.id)}?waitMs=5000`)).json;
      assert.equal(done.state, "SUCCEEDED");
      const traceId = String(done.traceId);
      assert.match(traceId, /^[0-9a-f]{32}$/);
      await until(() => receiver.spans.some((s) => s.traceId === traceId && s.name === "task Fn"), "the task's root span reaches the receiver", 5_000);
      const spans = receiver.spans.filter((s) => s.traceId === traceId);
      const root = spans.find((s) => s.name === "task Fn");
      assert.deepEqual(spans.map((s) => s.name).sort(), ["attempt 1", "queue wait", "task Fn"]);
      assert.ok(spans.every((s) => s === root || s.parentSpanId === root?.spanId));
      assert.equal(root?.resource["service.instance.id"], "obs-node");
      assert.ok(receiver.requests.every((r) => r.path === "/v1/traces" && r.contentType.startsWith("application/json")), "OTLP/HTTP JSON by default");

      // A failed task, a budget refusal (the thinker's wallet is empty), a security refusal, a heal.
      const failed = (await call(server, "POST", "/v1/tasks", { role: "Failer", input: null, maxAttempts: 1 })).json;
      assert.equal((await call(server, "GET", `/v1/tasks/${String(failed.id)}?waitMs=5000`)).json.state, "DEAD");
      const broke = (await call(server, "POST", "/v1/tasks", { role: "Thinker", input: "plan", maxAttempts: 1 })).json;
      const brokeDone = (await call(server, "GET", `/v1/tasks/${String(broke.id)}?waitMs=5000`)).json;
      assert.equal((brokeDone.error as { code?: string } | undefined)?.code, "BUDGET_EXCEEDED", JSON.stringify(brokeDone));
      assert.equal((await call(server, "GET", "/v1/agents", undefined, "not-the-key")).status, 401);
      assert.equal((await call(server, "POST", "/v1/chaos/kill", { agentId: fn.id })).status, 200);
      await until(async () => (await call(server, "GET", `/v1/agents/${String(fn.id)}`)).json.state === "READY", "the killed agent is back", 10_000);

      await until(() => jsonLines(server).some((l) => String(l.msg).includes("is unhealthy")), "the heal is logged", 5_000);
      const lines = jsonLines(server);
      assert.ok(lines.every((l) => typeof l.level === "string" && typeof l.time === "string" && typeof l.msg === "string"), "level, time and msg on every line");
      assert.ok(lines.some((l) => String(l.msg).startsWith("agent-factory listening on")), "the start-up lines are JSON too");
      const about = (pred: (l: Record<string, unknown>) => boolean) => lines.filter(pred);
      const failedLines = about((l) => l.taskId === failed.id && l.state === "DEAD");
      assert.equal(failedLines.length, 1, "the failed task is logged once");
      assert.equal(failedLines[0]?.level, "warn");
      assert.equal(failedLines[0]?.node, "obs-node");
      assert.equal(failedLines[0]?.code, "TASK_FAILED");
      assert.match(String(failedLines[0]?.traceId), /^[0-9a-f]{32}$/);
      const refused = about((l) => l.code === "BUDGET_EXCEEDED" && l.event === "model.budget_refused");
      assert.equal(refused.length, 1, "the budget refusal is logged once");
      assert.equal(refused[0]?.taskId, broke.id);
      assert.equal(refused[0]?.agentId, thinker.id);
      assert.equal(about((l) => l.taskId === broke.id && (l.state === "FAILED" || l.state === "DEAD")).length, 1, "and the task it failed, once");
      const denied = about((l) => l.event === "security.denied");
      assert.equal(denied.length, 1, "the security refusal is logged once");
      assert.equal(denied[0]?.code, "UNAUTHORIZED");
      const heals = about((l) => l.agentId === fn.id && l.state === "UNHEALTHY");
      assert.equal(heals.length, 1, "the heal is logged once");
      assert.equal(heals[0]?.node, "obs-node");
    } finally {
      await receiver.close();
    }
  });

  it("OTEL_EXPORTER_OTLP_ENDPOINT with OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf: protobuf to <endpoint>/v1/traces; without either, no trace id and nothing sent", async () => {
    const receiver = await otlpReceiver();
    try {
      const traced = await startServe(["--data", dataDir()], (s) => servers.push(s), { ...ENV, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" });
      const plain = await startServe(["--data", dataDir()], (s) => servers.push(s));
      for (const server of [traced, plain]) {
        await call(server, "POST", "/v1/profiles", { name: "fn", role: "Fn", runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual" } });
        await call(server, "POST", "/v1/agents", { profile: "fn" });
      }
      const withTrace = (await call(traced, "GET", `/v1/tasks/${String((await call(traced, "POST", "/v1/tasks", { role: "Fn", input: 1 })).json.id)}?waitMs=5000`)).json;
      assert.match(String(withTrace.traceId), /^[0-9a-f]{32}$/);
      await until(() => receiver.requests.length > 0, "the traced server posts its spans", 5_000);
      assert.deepEqual(receiver.requests[0], { path: "/v1/traces", contentType: "application/x-protobuf" });
      const sent = receiver.requests.length;
      const without = (await call(plain, "GET", `/v1/tasks/${String((await call(plain, "POST", "/v1/tasks", { role: "Fn", input: 1 })).json.id)}?waitMs=5000`)).json;
      assert.equal(without.state, "SUCCEEDED");
      assert.equal(without.traceId, null, "no tracing: no trace id");
      // The plain server's batch would have gone within its 1 s schedule.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      assert.equal(receiver.requests.length, sent, "nothing more arrived");
    } finally {
      await receiver.close();
    }
  });

  it("a node killed mid-task: the restarted node ends the same trace, the interrupted attempt marked as such", async () => {
    const receiver = await otlpReceiver();
    try {
      const dir = dataDir();
      const args = ["--data", dir, "--otlp-endpoint", receiver.url, "--node-id", "crash-node"];
      const first = await startServe(args, (s) => servers.push(s));
      await call(first, "POST", "/v1/profiles", { name: "sleeper", role: "Sleeper", runtime: { kind: "function", handler: "sleep" }, pool: { spawnStrategy: "manual" } });
      await call(first, "POST", "/v1/agents", { profile: "sleeper" });
      const submitted = (await call(first, "POST", "/v1/tasks", { role: "Sleeper", input: { ms: 1_500 }, maxAttempts: 3 })).json;
      const traceId = String(submitted.traceId);
      // RUNNING in the store (the list reads it after a commit), not only in memory: what the restart finds.
      await until(async () => ((await call(first, "GET", "/v1/tasks?state=RUNNING")).json.items as Array<{ id: string }> | undefined)?.some((t) => t.id === submitted.id) === true, "the task runs, stored", 5_000);
      first.child.kill("SIGKILL");
      await first.exited;

      const second = await startServe(args, (s) => servers.push(s));
      const done = (await call(second, "GET", `/v1/tasks/${String(submitted.id)}?waitMs=15000`)).json;
      assert.equal(done.state, "SUCCEEDED");
      assert.equal(done.traceId, traceId, "the same trace after the restart");
      await until(() => receiver.spans.some((s) => s.traceId === traceId && s.name === "task Sleeper"), "the root span arrives", 5_000);
      const spans = receiver.spans.filter((s) => s.traceId === traceId);
      const root = spans.find((s) => s.name === "task Sleeper");
      const interrupted = spans.filter((s) => s.attributes["agent_factory.attempt.interrupted"] === true);
      assert.equal(interrupted.length, 1, JSON.stringify(spans.map((s) => s.name)));
      assert.equal(interrupted[0]?.name, "attempt 1");
      assert.equal(interrupted[0]?.status.code, 2, "an interrupted attempt is an error");
      const second2 = spans.find((s) => s.name === "attempt 2");
      assert.equal(second2?.status.code ?? 0, 0);
      assert.equal(second2?.attributes["agent_factory.attempt.outcome"], "SUCCEEDED");
      for (const s of [interrupted[0], second2]) assert.equal(s?.parentSpanId, root?.spanId);
      assert.equal(root?.attributes["agent_factory.task.attempts"], 2);
      // The root spans the whole task, from its submit before the kill.
      assert.ok(root !== undefined && interrupted[0] !== undefined && root.startMs <= interrupted[0].startMs && root.startMs <= Date.parse(String(submitted.createdAt)) + 1);
    } finally {
      await receiver.close();
    }
  });

  for (const [args, env, named] of [
    [["--otlp-endpoint", "not-a-url"], {}, "--otlp-endpoint"],
    [[], { OTEL_EXPORTER_OTLP_ENDPOINT: "localhost:4318" }, "OTEL_EXPORTER_OTLP_ENDPOINT"],
    [["--otlp-endpoint", "http://127.0.0.1:4318"], { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, "OTEL_EXPORTER_OTLP_PROTOCOL"],
    [["--log-format", "xml"], {}, "--log-format"],
  ] as const) {
    it(`serve ${args.join(" ")} ${JSON.stringify(env)}: exit 2 naming ${named}`, () => {
      const run = spawnSync(process.execPath, [BIN, "serve", "--port", "0", "--data", dataDir(), ...args], { cwd: ROOT, env: { ...ENV, ...env }, encoding: "utf8", timeout: 30_000 });
      assert.equal(run.status, 2, `stdout: ${run.stdout}\nstderr: ${run.stderr}`);
      assert.match(run.stderr, new RegExp(named));
    });
  }
});
