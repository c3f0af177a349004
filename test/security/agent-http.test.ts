// Pins the agent-facing operations over HTTP with an agent's token as bearer: its own crew's context, bus, tasks and its crew's agents' MCP tools answer, an admin agent spawns and terminates members of its own crew, an agent makes model calls for its attempts as itself; another crew is 403 CROSS_CREW; a missing scope, another agent's id and any other route are 403 FORBIDDEN; a token from another key, no token and the token of a terminated agent are 401 (an expired one: agent-tokens.test.ts and the keys matrix) — over every operation × crew, with zero cross-crew successes.
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { generateKeyPair, SignJWT } from "jose";
import { createApp } from "../../src/api/app.ts";
import { AGENT_OPERATIONS } from "../../src/api/access.ts";
import type { Factory } from "../../src/factory/factory.ts";
import type { HandlerContext } from "../../src/runtimes/function/function-handler.ts";
import { testFactory } from "../helpers.ts";

/** The project's node_modules, for the crews' MCP server (server-memory). */
const NODE_MODULES = resolve(import.meta.dirname, "../../node_modules");

describe("agents over HTTP with their tokens", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let app: ReturnType<typeof createApp>;
  const crews: Record<"own" | "other", string> = { own: "", other: "" };
  let token = "";
  let agentId = "";
  /** A worker member of each crew, for the admin agent to terminate. */
  const victims: Record<"own" | "other", string> = { own: "", other: "" };
  /** The token holder of each crew (its tools are its crew's MCP server's). */
  const agents: Record<"own" | "other", string> = { own: "", other: "" };
  before(async () => {
    ({ factory, close } = await testFactory({
      agentFiles: [NODE_MODULES],
      handlers: {
        whoami: (_i: unknown, ctx: HandlerContext) => ctx.token(),
        // During its attempt: model calls over HTTP with its token, as itself, as another agent, for another task.
        modeler: async (input: unknown, ctx: HandlerContext) => {
          const { otherAgent, otherTask } = input as { otherAgent: string; otherTask: string };
          const bearer = (await ctx.token()) as string;
          const body = (taskId: string) => ({ taskId, messages: [{ role: "user", content: "hello" }] });
          const asItself = await app.request(`/v1/agents/${ctx.agent.id}/model-calls`, { method: "POST", headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" }, body: JSON.stringify(body(ctx.task.id)) });
          const asAnother = await app.request(`/v1/agents/${otherAgent}/model-calls`, { method: "POST", headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" }, body: JSON.stringify(body(ctx.task.id)) });
          const forAnotherTask = await app.request(`/v1/agents/${ctx.agent.id}/model-calls`, { method: "POST", headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" }, body: JSON.stringify(body(otherTask)) });
          const code = async (r: Response) => [r.status, ((await r.json()) as { error?: { code: string } }).error?.code ?? null];
          const first = (await asItself.json()) as { text: string; cost: number };
          return { itself: [asItself.status, typeof first.text, first.cost >= 0], another: await code(asAnother), otherTask: await code(forAnotherTask) };
        },
      },
    }));
    // A key exists, so /v1 is closed to callers without one.
    app = createApp(factory, { apiKey: "operator-secret-for-the-test" });
    // The token's agent has the admin scope: it may spawn and terminate in its own crew.
    factory.registerProfile({ name: "fn", role: "Fn", scopes: ["admin"], runtime: { kind: "function", handler: "whoami" }, pool: { spawnStrategy: "manual" } });
    factory.registerProfile({ name: "worker", role: "Worker", runtime: { kind: "function", handler: "whoami" }, pool: { spawnStrategy: "manual" } });
    factory.registerProfile({ name: "modeler", role: "Modeler", runtime: { kind: "function", handler: "modeler" }, pool: { spawnStrategy: "manual" } });
    // Each crew has an MCP server, so its agents have tools an agent's token may list and call.
    const mcpServers = [{ name: "memory", command: ["node", "/agent/node_modules/@modelcontextprotocol/server-memory/dist/index.js"], files: [NODE_MODULES], env: { MEMORY_FILE_PATH: "/workspace/m.jsonl" } }];
    const own = await factory.assembleCrew({ name: "own", members: [{ profile: "fn" }, { profile: "worker" }], mcpServers });
    const other = await factory.assembleCrew({ name: "other", members: [{ profile: "fn" }, { profile: "worker" }], mcpServers });
    agents.own = own.agents[0]?.id as string;
    agents.other = other.agents[0]?.id as string;
    victims.own = own.agents[1]?.id as string;
    victims.other = other.agents[1]?.id as string;
    crews.own = own.crew.id;
    crews.other = other.crew.id;
    agentId = own.agents[0]?.id as string;
    const asked = await factory.waitForTask((await factory.submitTask({ role: "Fn", crewId: crews.own, input: {} })).id, 5_000);
    token = asked.result as string;
  });
  after(() => close());

  const call = async (method: string, path: string, body?: unknown, bearer = token) => {
    const res = await app.request(path, { method, headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { "content-type": "application/json" }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    return { status: res.status, code: text.length > 0 ? ((JSON.parse(text) as { error?: { code?: string } }).error?.code ?? null) : null };
  };

  it("every agent-facing operation answers for its own crew and is CROSS_CREW for another; zero cross-crew successes", async () => {
    const otherTask = await factory.submitTask({ role: "Fn", crewId: crews.other, input: {} });
    const ownTask = await factory.submitTask({ role: "Fn", crewId: crews.own, input: {} });
    const cases = (crew: "own" | "other"): Array<[string, string, string, unknown?]> => [
      ["getCrew", "GET", `/v1/crews/${crews[crew]}`],
      ["setCrewContextKey", "PUT", `/v1/crews/${crews[crew]}/context/plan`, { value: { step: 1 } }],
      ["getCrewContextKey", "GET", `/v1/crews/${crews[crew]}/context/plan`],
      ["getCrewContext", "GET", `/v1/crews/${crews[crew]}/context`],
      ["deleteCrewContextKey", "DELETE", `/v1/crews/${crews[crew]}/context/plan`],
      ["publishCrewMessage", "POST", `/v1/crews/${crews[crew]}/messages`, { topic: "updates", payload: { n: 1 } }],
      ["listCrewMessages", "GET", `/v1/crews/${crews[crew]}/messages`],
      ["submitTask", "POST", "/v1/tasks", { role: "Fn", crewId: crews[crew], input: {} }],
      ["getTask", "GET", `/v1/tasks/${crew === "own" ? ownTask.id : otherTask.id}`],
      ["listTools", "GET", `/v1/tools?crewId=${crews[crew]}`],
      ["callTool", "POST", "/v1/tools/call", { agentId: agents[crew], server: "memory", tool: "read_graph", arguments: {} }],
      ["spawnCrewMember", "POST", `/v1/crews/${crews[crew]}/members`, { profile: "worker" }],
      ["terminateAgent", "DELETE", `/v1/agents/${victims[crew]}`],
    ];
    // Model calls need an attempt of the agent's own: the next test.
    assert.deepEqual(new Set([...cases("own").map(([op]) => op), "callAgentModel"]), new Set(Object.keys(AGENT_OPERATIONS)), "every agent operation is tried");
    let crossCrewSuccesses = 0;
    for (const crew of ["own", "other"] as const) {
      for (const [op, method, path, body] of cases(crew)) {
        const { status, code } = await call(method, path, body);
        if (crew === "own") assert.ok(status >= 200 && status < 300, `${op} on its own crew: ${status} ${code}`);
        else {
          if (status < 300) crossCrewSuccesses++;
          assert.deepEqual([status, code], [403, "CROSS_CREW"], `${op} on another crew`);
        }
      }
    }
    assert.equal(crossCrewSuccesses, 0);
    assert.deepEqual(await factory.getContext(crews.other), {});
    // The other crew kept its two members; the own crew gained a worker and lost its victim.
    assert.deepEqual((await factory.getAgent(victims.other)).state, "READY");
    assert.equal((await factory.getCrew(crews.other)).agentIds.length, 2);
    assert.equal((await factory.getAgent(victims.own)).state, "TERMINATED");
  });

  it("an agent without the admin scope may not spawn or terminate, even in its own crew", async () => {
    const crew = await factory.assembleCrew({ name: "plain", members: [{ profile: "worker" }, { profile: "worker" }] });
    const [first, second] = crew.agents as unknown as [{ id: string }, { id: string }];
    const asked = await factory.waitForTask((await factory.submitTask({ role: "Worker", crewId: crew.crew.id, agentId: first.id, input: {} })).id, 5_000);
    const plain = asked.result as string;
    assert.deepEqual(await call("POST", `/v1/crews/${crew.crew.id}/members`, { profile: "worker" }, plain), { status: 403, code: "FORBIDDEN" });
    assert.deepEqual(await call("DELETE", `/v1/agents/${second.id}`, undefined, plain), { status: 403, code: "FORBIDDEN" });
    assert.equal((await factory.getAgent(second.id)).state, "READY");
    assert.equal((await factory.getCrew(crew.crew.id)).agentIds.length, 2);
  });

  it("an agent makes model calls over HTTP for its own attempt as itself: another agent's id is FORBIDDEN, another task NOT_YOUR_TASK", async () => {
    const crew = await factory.assembleCrew({ name: "models", budget: 10, members: [{ profile: "modeler" }] });
    const otherTask = await factory.submitTask({ role: "Fn", crewId: crews.other, input: {} });
    const done = await factory.waitForTask((await factory.submitTask({ role: "Modeler", crewId: crew.crew.id, input: { otherAgent: victims.other, otherTask: otherTask.id } })).id, 10_000);
    assert.equal(done.state, "SUCCEEDED", JSON.stringify(done.error));
    assert.deepEqual(done.result, { itself: [200, "string", true], another: [403, "FORBIDDEN"], otherTask: [403, "NOT_YOUR_TASK"] });
    assert.equal(done.usage?.calls, 1);
  });

  it("any other route is FORBIDDEN to an agent's token, even on its own crew", async () => {
    for (const [method, path] of [["GET", "/v1/agents"], ["DELETE", `/v1/crews/${crews.own}`], ["POST", `/v1/crews/${crews.own}/broadcast`], ["GET", "/v1/ledger"], ["GET", "/v1/keys"], ["GET", "/v1/nodes"]] as const) {
      const body = method === "POST" ? { signal: "PAUSE" } : undefined;
      assert.deepEqual(await call(method, path, body), { status: 403, code: "FORBIDDEN" }, `${method} ${path}`);
    }
    assert.equal((await factory.getCrew(crews.own)).state, "ACTIVE");
  });

  it("a forged token, no token, and the token of a terminated agent are 401", async () => {
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const forged = await new SignJWT({ crew: crews.other, scopes: ["admin"] }).setProtectedHeader({ alg: "EdDSA" }).setSubject(agentId).setIssuer("agent-factory").setAudience("agent-factory").setIssuedAt().setExpirationTime("5m").sign(privateKey);
    assert.deepEqual(await call("GET", `/v1/crews/${crews.other}/context`, undefined, forged), { status: 401, code: "UNAUTHORIZED" });
    assert.deepEqual(await call("GET", `/v1/crews/${crews.own}/context`, undefined, ""), { status: 401, code: "UNAUTHORIZED" });
    await factory.terminateAgent(agentId);
    assert.deepEqual(await call("GET", `/v1/crews/${crews.own}/context`), { status: 401, code: "UNAUTHORIZED" });
  });
});
