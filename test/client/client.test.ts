// Pins the typed client (agent-factory/client) against a real server: each family of routes answers typed values, errors arrive as FactoryClientError with status, code, message and field, and the module loads no server code.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { startServer, type RunningServer } from "../../src/api/server.ts";
import { allPages, FactoryClient, FactoryClientError, type FactoryEvent } from "../../src/client/index.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { tempDir, testFactory } from "../helpers.ts";

const ROOT = join(import.meta.dirname, "..", "..");

describe("typed client against a real server", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let server: RunningServer;
  let client: FactoryClient;

  before(async () => {
    ({ factory, close } = await testFactory());
    server = await startServer(factory, { port: 0, host: "127.0.0.1" });
    client = new FactoryClient({ baseUrl: `${server.url}/` });
  });
  after(async () => {
    await server.close({ force: true });
    await close();
  });

  it("profiles, agents and tasks: register (created, then unchanged), spawn, submit, wait for the result, list pages", async () => {
    assert.deepEqual(await client.health(), { status: "ok" });
    const first = await client.registerProfile({ name: "echo", role: "Echo", runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual", warmSize: 0 } });
    assert.deepEqual([first.created, first.profile.name, first.profile.version], [true, "echo", 1]);
    assert.equal((await client.registerProfile({ name: "echo", role: "Echo", runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual", warmSize: 0 } })).created, false);
    assert.deepEqual((await client.listProfiles()).map((p) => p.name), ["echo"]);
    const agent = await client.spawnAgent({ profile: "echo" });
    assert.equal(agent.state, "READY");
    assert.deepEqual((await client.listAgents({ role: "Echo" })).items.map((a) => a.id), [agent.id]);

    const { task, created } = await client.submitTask({ role: "Echo", input: { hello: "world" }, idempotencyKey: "k1" });
    assert.equal(created, true);
    assert.match(task.id, /^task_/);
    const done = await client.waitForTask(task.id, 5_000);
    assert.deepEqual([done.state, done.result, done.agentId], ["SUCCEEDED", { hello: "world" }, agent.id]);
    const again = await client.submitTask({ role: "Echo", input: "other", idempotencyKey: "k1" });
    assert.deepEqual([again.created, again.task.id], [false, task.id]);

    for (let i = 0; i < 4; i++) await client.submitTask({ role: "Echo", input: i });
    const page = await client.listTasks({ limit: 2 });
    assert.equal(page.items.length, 2);
    assert.equal(typeof page.nextCursor, "string");
    const all: string[] = [];
    for await (const t of allPages((cursor) => client.listTasks({ limit: 2, cursor }))) all.push(t.id);
    assert.equal(all.length, 5);
    assert.equal(new Set(all).size, 5);
    assert.equal(all.at(-1), task.id, "the first task submitted is the last of newest-first pages");
  });

  it("crews, context, ledger, pools, models and budgets", async () => {
    const crew = await client.assembleCrew({ name: "team", budget: 10, members: [{ config: { name: "w", role: "Worker" } }] });
    assert.deepEqual([crew.state, crew.agents.length], ["ACTIVE", 1]);
    assert.deepEqual(await client.setContextKey(crew.id, "plan", [1, 2]), { key: "plan", value: [1, 2] });
    assert.deepEqual(await client.getContext(crew.id), { plan: [1, 2] });
    await client.deleteContextKey(crew.id, "plan");
    assert.deepEqual((await client.broadcast(crew.id, "MISSION_START")).delivered, 1);
    assert.deepEqual((await client.listMessages(crew.id, { topic: "signals" })).map((m) => m.signal), ["MISSION_START"]);
    const grant = await client.grantCredits(crew.walletAddress, 5, "top-up");
    assert.deepEqual([grant.kind, grant.amount, grant.credit], ["grant", 5, crew.walletAddress]);
    assert.equal((await client.getWallet(crew.walletAddress)).balance, 15);
    assert.ok((await client.listLedger({ wallet: crew.walletAddress })).some((e) => e.id === grant.id));
    assert.ok((await client.listPools()).some((p) => p.profile === "w"));
    assert.equal(typeof (await client.models()).calls, "number");
    assert.equal(typeof (await client.routeModel({ estimatedInputTokens: 10 })).model, "string");
    const budget = await client.setBudget(`crew:${crew.id}`, { credits: 3 });
    assert.deepEqual([budget.key, budget.credits, budget.periodMs], [`crew:${crew.id}`, 3, null]);
    assert.deepEqual((await client.listBudgets()).map((b) => b.key), [`crew:${crew.id}`]);
    await client.removeBudget(`crew:${crew.id}`);
    assert.deepEqual(await client.listBudgets(), []);
    assert.equal((await client.disbandCrew(crew.id)).state, "DISBANDED");
  });

  it("events: follows new events of the asked types until aborted, and replays stored ones after a seq", async () => {
    const seen: FactoryEvent[] = [];
    const stop = new AbortController();
    let ready = (): void => {};
    const opened = new Promise<void>((resolve) => (ready = resolve));
    const following = client.events({ types: ["agent.state"] }, (event) => seen.push(event), stop.signal, ready);
    await opened;
    const agent = await client.spawnAgent({ config: { name: "watched", role: "Watched" } });
    const deadline = Date.now() + 3_000;
    while (!seen.some((e) => e.agentId === agent.id && e.to === "READY") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    stop.abort();
    await following;
    assert.deepEqual(seen.filter((e) => e.agentId === agent.id).map((e) => e.to), ["PROVISIONING", "WARMING", "READY"]);
    assert.ok(seen.every((e) => e.type === "agent.state"));

    // Replay: the stored events after seq 0 come first, before "ready".
    const replayed: FactoryEvent[] = [];
    const again = new AbortController();
    await client.events({ types: "agent.state", agentId: agent.id, after: 0 }, (event) => replayed.push(event), again.signal, () => again.abort());
    assert.deepEqual(replayed.map((e) => e.to), ["PROVISIONING", "WARMING", "READY"]);
  });

  it("an error answer is a FactoryClientError carrying status, code, message and field", async () => {
    await assert.rejects(client.getTask("task_missing"), (error: unknown) => {
      assert.ok(error instanceof FactoryClientError);
      assert.deepEqual([error.status, error.code, error.message, error.field], [404, "TASK_NOT_FOUND", "no task with id 'task_missing'", undefined]);
      return true;
    });
    await assert.rejects(client.submitTask({ role: "Echo", priority: 42 }), (error: unknown) => {
      assert.ok(error instanceof FactoryClientError);
      assert.deepEqual([error.status, error.code, error.field], [400, "VALIDATION_FAILED", "priority"]);
      assert.match(error.message, /^invalid body: priority: /);
      return true;
    });
    await assert.rejects(client.listTasks({ cursor: "nonsense" }), { name: "FactoryClientError", status: 400, code: "VALIDATION_FAILED", field: "cursor" });
    await assert.rejects(new FactoryClient("http://127.0.0.1:1").health(), { name: "FactoryClientError", status: 0, code: "UNREACHABLE" });
  });
});

describe("typed client and an API key", () => {
  it("sends the key as a bearer token; a wrong one is 401 UNAUTHORIZED", async () => {
    const { factory, close } = await testFactory();
    const server = await startServer(factory, { port: 0, host: "127.0.0.1", apiKey: "s3cret" });
    try {
      assert.deepEqual(await new FactoryClient({ baseUrl: server.url, apiKey: "s3cret" }).listProfiles(), []);
      await assert.rejects(new FactoryClient({ baseUrl: server.url, apiKey: "wrong" }).listProfiles(), { name: "FactoryClientError", status: 401, code: "UNAUTHORIZED" });
    } finally {
      await server.close({ force: true });
      await close();
    }
  });
});

describe("typed client module", () => {
  it("loads no server code: of the project's files only src/client/index.ts, and of packages only eventsource-parser", async () => {
    const dir = tempDir();
    try {
      const probe = join(dir.path, "probe.mjs");
      writeFileSync(
        probe,
        `import { registerHooks } from "node:module";
const loaded = [];
registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
const client = await import(${JSON.stringify(pathToFileURL(join(ROOT, "src", "client", "index.ts")).href)});
if (typeof client.FactoryClient !== "function") throw new Error("no FactoryClient");
process.stdout.write(JSON.stringify(loaded));`,
      );
      const loaded = await new Promise<string[]>((resolve, reject) => {
        execFile(process.execPath, ["--disable-warning=ExperimentalWarning", probe], { timeout: 30_000 }, (error, stdout, stderr) => (error === null ? resolve(JSON.parse(stdout) as string[]) : reject(new Error(stderr))));
      });
      const ours = loaded.filter((url) => url.startsWith(pathToFileURL(ROOT).href)).map((url) => url.slice(pathToFileURL(ROOT).href.length + 1));
      assert.deepEqual(ours.filter((path) => !path.startsWith("node_modules/")), ["src/client/index.ts"]);
      assert.deepEqual([...new Set(ours.filter((path) => path.startsWith("node_modules/")).map((path) => path.split("/")[1]))], ["eventsource-parser"]);
    } finally {
      dir.cleanup();
    }
  });
});
