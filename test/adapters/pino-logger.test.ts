// Pins the JSON logs: pino lines with level names, ISO times, the node and the line's ids; a provider failure and the task it failed logged once each; request ids echoed or made, and a failed request logged with its id.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { pinoLogger } from "../../src/adapters/logger/pino-logger.ts";
import { createApp } from "../../src/api/app.ts";
import { createSqliteStore } from "../../src/adapters/store/sqlite/sqlite-store.ts";
import { testFactory } from "../helpers.ts";

/** A stream that keeps each JSON line pino writes. */
function lines(): { stream: Writable; read(): Array<Record<string, unknown>> } {
  let text = "";
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString("utf8");
      done();
    },
  });
  return { stream, read: () => text.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe("JSON logs (pino)", () => {
  it("prints level names, ISO times, the node once known, the fields given and an error under err; nothing below its level", () => {
    const out = lines();
    const logger = pinoLogger("info", out.stream);
    logger.debug?.("hidden");
    logger.info("before the node is known");
    logger.setNode("node-7");
    logger.warn("task t1 FAILED", { taskId: "t1", agentId: "a1", crewId: undefined });
    logger.error("store write failed", Object.assign(new Error("disk full"), { code: "ENOSPC" }), { requestId: "r1" });
    const [first, second, third, ...rest] = out.read();
    assert.equal(rest.length, 0, "debug is below info");
    assert.equal(first?.level, "info");
    assert.equal(first?.msg, "before the node is known");
    assert.equal(first?.node, undefined);
    assert.match(String(first?.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual({ level: second?.level, node: second?.node, taskId: second?.taskId, agentId: second?.agentId, msg: second?.msg }, { level: "warn", node: "node-7", taskId: "t1", agentId: "a1", msg: "task t1 FAILED" });
    assert.equal("crewId" in (second ?? {}), false, "undefined fields are left out");
    assert.equal(third?.level, "error");
    assert.equal(third?.requestId, "r1");
    const err = third?.err as { message?: string; code?: string; stack?: string; type?: string };
    assert.equal(err.message, "disk full");
    assert.equal(err.code, "ENOSPC");
    assert.equal(err.type, "Error");
    assert.match(String(err.stack), /disk full/);
  });

  it("a failing provider: its failure and the task it left DEAD are logged once each, with their ids", async () => {
    const upstream = createServer((_req, res) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "upstream exploded" } }));
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const baseURL = `http://127.0.0.1:${(upstream.address() as { port: number }).port}/v1`;
    const out = lines();
    const logger = pinoLogger("info", out.stream);
    const { factory, close } = await testFactory({ logger, nodeId: "log-node", models: { providers: [{ name: "local", kind: "openai-compatible", baseURL, model: "m1", serves: "*" }] } });
    logger.setNode(factory.nodeId);
    try {
      factory.registerProfile({ name: "asker", role: "Asker", runtime: { kind: "llm", systemPrompt: "You answer.", maxSteps: 1 }, pool: { spawnStrategy: "manual" } });
      const agent = await factory.spawnAgent({ profile: "asker" });
      await factory.grantCredits(agent.walletAddress, 10);
      const task = await factory.waitForTask((await factory.submitTask({ role: "Asker", input: "hello", maxAttempts: 1 })).id, 10_000);
      assert.equal(task.state, "DEAD");
      const all = out.read();
      const fallbacks = all.filter((l) => l.event === "model.fallback");
      assert.equal(fallbacks.length, 1, JSON.stringify(all));
      assert.deepEqual({ level: fallbacks[0]?.level, provider: fallbacks[0]?.provider, model: fallbacks[0]?.model, taskId: fallbacks[0]?.taskId, node: fallbacks[0]?.node }, { level: "warn", provider: "local", model: "local:m1", taskId: task.id, node: "log-node" });
      const dead = all.filter((l) => l.taskId === task.id && l.state === "DEAD");
      assert.equal(dead.length, 1);
      assert.equal(dead[0]?.code, "MODEL_UNAVAILABLE");
      assert.equal(dead[0]?.agentId, agent.id);
    } finally {
      await close();
      await new Promise((resolve) => upstream.close(resolve));
    }
  });

  it("request ids: a caller's plain id is echoed, anything else replaced by a UUID; a 4xx is logged at debug with it, nothing below", async () => {
    const out = lines();
    const { factory, close } = await testFactory({ logger: pinoLogger("debug", out.stream) });
    try {
      const app = createApp(factory);
      const given = await app.request("/v1/tasks/task_nope", { headers: { "x-request-id": "abc-123.x" } });
      assert.equal(given.status, 404);
      assert.equal(given.headers.get("x-request-id"), "abc-123.x");
      const made = await app.request("/v1/tasks/task_nope", { headers: { "x-request-id": "has spaces\tand tabs" } });
      const madeId = made.headers.get("x-request-id") ?? "";
      assert.match(madeId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      const ok = await app.request("/health");
      assert.equal(ok.status, 200);
      assert.ok((ok.headers.get("x-request-id") ?? "").length > 0, "every answer has one");
      const logged = out.read().filter((l) => l.requestId !== undefined);
      assert.deepEqual(
        logged.map((l) => ({ level: l.level, requestId: l.requestId, status: l.status, path: l.path, method: l.method })),
        [
          { level: "debug", requestId: "abc-123.x", status: 404, path: "/v1/tasks/task_nope", method: "GET" },
          { level: "debug", requestId: madeId, status: 404, path: "/v1/tasks/task_nope", method: "GET" },
        ],
      );
    } finally {
      await close();
    }
  });

  it("a request answered 500 is logged once, at error, with its request id and the error", async () => {
    const out = lines();
    const store = await createSqliteStore({ filename: ":memory:" });
    const { factory, close } = await testFactory({ store, logger: pinoLogger("info", out.stream) });
    try {
      // Once started, the store fails to list (a broken disk, say): the API answers 500 INTERNAL.
      store.listTasks = () => Promise.reject(new Error("the disk is on fire"));
      const app = createApp(factory);
      const res = await app.request("/v1/tasks?limit=5", { headers: { "x-request-id": "req-500" } });
      assert.equal(res.status, 500);
      assert.equal(res.headers.get("x-request-id"), "req-500");
      const logged = out.read().filter((l) => l.requestId === "req-500");
      assert.equal(logged.length, 1, JSON.stringify(out.read()));
      assert.deepEqual({ level: logged[0]?.level, status: logged[0]?.status, path: logged[0]?.path, method: logged[0]?.method }, { level: "error", status: 500, path: "/v1/tasks", method: "GET" });
      assert.equal((logged[0]?.err as { message?: string } | undefined)?.message, "the disk is on fire");
      assert.equal(String(logged[0]?.msg).includes("limit=5"), false, "no query string in the log");
    } finally {
      await close();
    }
  });
});
