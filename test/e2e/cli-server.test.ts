// Pins the CLI driving a real `serve` child process end to end: crew assembly, tasks, a SIGTERM restart that restores agents and tasks, and CLI error codes.
// Each test starts its own server over its own data dir and builds the state it needs through the CLI, under its own time limit,
// so a slow step fails alone and by name instead of cancelling the steps after it.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test, type TestContext } from "node:test";
import { cli, startServe, type Server } from "./serve.ts";

const WALLET = /^0x371_[A-Z0-9]+_[0-9a-f]{32}$/;

interface AgentView {
  id: string;
  name: string;
  role: string;
  profile: string;
  state: string;
  crewId: string | null;
  walletAddress: string;
  restarts: number;
}

interface CrewView {
  id: string;
  name: string;
  state: string;
  agentIds: string[];
  agents: AgentView[];
}

interface TaskView {
  id: string;
  state: string;
  input: unknown;
  result?: unknown;
  error?: { code: string; message: string };
  crewId: string | null;
  agentId: string | null;
  attempts: number;
}

/** Servers and data dirs not yet cleaned up: each test cleans its own; this catches what a cancelled one left. */
const servers = new Set<Server>();
const dirs = new Set<string>();

async function stop(server: Server): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill("SIGKILL");
    await server.exited;
  }
  servers.delete(server);
}

after(async () => {
  for (const server of servers) await stop(server);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Sandbox {
  dataDir: string;
  /** Starts `serve` on a free port over `dataDir` with the example profiles. */
  start: () => Promise<Server>;
}

/** A fresh data dir for test `t`; the servers started over it are killed and the dir removed when `t` ends. */
function sandbox(t: TestContext): Sandbox {
  const dataDir = mkdtempSync(join(tmpdir(), "agent-factory-e2e-"));
  dirs.add(dataDir);
  const mine: Server[] = [];
  t.after(async () => {
    for (const server of mine) await stop(server);
    rmSync(dataDir, { recursive: true, force: true });
    dirs.delete(dataDir);
  });
  const start = (): Promise<Server> =>
    startServe(["--data", dataDir, "--profiles", "examples/profiles", "--agent-files", "examples/agents"], (server) => {
      servers.add(server);
      mine.push(server);
    });
  return { dataDir, start };
}

/** The CLI with `--json`, asserting exit 0, parsed. */
async function cliJson<T>(url: string, ...args: string[]): Promise<T> {
  const result = await cli(url, "--json", ...args);
  assert.equal(result.code, 0, `agent-factory ${args.join(" ")} exited ${result.code}\nstderr: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

const waitForLine = async (server: Server, pattern: RegExp, ms: number): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!pattern.test(server.stdout())) {
    if (Date.now() > deadline) throw new Error(`server never printed ${pattern}; stdout:\n${server.stdout()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

const EXPECTED_MEMBERS = [
  { name: "planner-1", role: "Planner", segment: "PLANNER" },
  { name: "coder-1", role: "Coder", segment: "CODER" },
  { name: "coder-2", role: "Coder", segment: "CODER" },
  { name: "reviewer-1", role: "Reviewer", segment: "REVIEWER" },
  { name: "doc-agent-1", role: "DocAgent", segment: "DOCAGENT" },
];

/** `crew assemble` of the launch team, as the first step does it. */
const assembleLaunchTeam = (url: string): Promise<CrewView> => cliJson<CrewView>(url, "crew", "assemble", "-f", "examples/crews/launch-team.yaml");

interface Submitted {
  /** Two crew Coder tasks submitted with --wait, in input order. */
  waited: [TaskView, TaskView];
  /** A crew Reviewer task that runs for 60 s. */
  review: TaskView;
  /** A crewless Planner task: there is no crewless Planner and the pool is manual, so it waits. */
  lonely: TaskView;
}

const INPUTS = [{ n: 1 }, { n: 2 }] as const;

/** The second step's submissions, all at once as it makes them. */
async function submitTasks(url: string, crew: CrewView): Promise<Submitted> {
  const submitWaiting = (input: unknown): Promise<TaskView> => cliJson<TaskView>(url, "task", "submit", "--role", "Coder", "--crew", crew.id, "--input", JSON.stringify(input), "--wait");
  const [waited1, waited2, review, lonely] = await Promise.all([
    submitWaiting(INPUTS[0]),
    submitWaiting(INPUTS[1]),
    cliJson<TaskView>(url, "task", "submit", "--role", "Reviewer", "--crew", crew.id, "--input", '{"ms":60000}'),
    // A task without --crew only runs on agents in no crew; there is no crewless Planner, and
    // the planner pool is manual, so nothing spawns one.
    cliJson<TaskView>(url, "task", "submit", "--role", "Planner", "--input", '{"n":3}'),
  ]);
  return { waited: [waited1, waited2], review, lonely };
}

/** Sends SIGTERM, waits until it was handled, sends a second one; resolves with how the process ended and when. */
async function sigtermTwice(server: Server): Promise<{ code: number | null; signal: NodeJS.Signals | null; stopMs: number }> {
  const stoppedAt = Date.now();
  assert.equal(server.child.kill("SIGTERM"), true);
  // Wait until the first signal was handled: two signals sent back to back may arrive as one.
  await waitForLine(server, /SIGTERM: shutting down/, 5_000);
  assert.equal(server.child.kill("SIGTERM"), true);
  await waitForLine(server, /SIGTERM: forcing shutdown/, 5_000);
  const { code, signal } = await server.exited;
  return { code, signal, stopMs: Date.now() - stoppedAt };
}

// Time limits sized to each test's work on a loaded 2-core machine: a server start (up to 15 s
// in serve.ts) plus its CLI calls (each ~0.2 s alone, several seconds under load), with room to spare.
const ONE_SERVER_FEW_CALLS = { timeout: 30_000 };
const ONE_SERVER_MANY_CALLS = { timeout: 45_000 };
const TWO_SERVERS = { timeout: 60_000 };

describe("agent-factory CLI against a real server, across a restart", () => {
  test("crew assemble --json brings up launch-team: ACTIVE, 5 READY agents with role wallets", ONE_SERVER_FEW_CALLS, async (t) => {
    const server = await sandbox(t).start();
    const crew = await assembleLaunchTeam(server.url);
    assert.match(crew.id, /^crew_[0-9a-f]{16}$/);
    assert.equal(crew.name, "launch-team");
    assert.equal(crew.state, "ACTIVE");
    assert.equal(crew.agents.length, 5);
    assert.deepEqual(
      crew.agents.map((a) => a.name),
      EXPECTED_MEMBERS.map((m) => m.name),
    );
    assert.deepEqual(
      crew.agents.map((a) => a.id),
      crew.agentIds,
    );
    assert.equal(new Set(crew.agentIds).size, 5);
    for (const [i, agent] of crew.agents.entries()) {
      const expected = EXPECTED_MEMBERS[i] as (typeof EXPECTED_MEMBERS)[number];
      assert.equal(agent.state, "READY", agent.name);
      assert.equal(agent.role, expected.role, agent.name);
      assert.equal(agent.crewId, crew.id, agent.name);
      assert.equal(agent.restarts, 0, agent.name);
      assert.match(agent.walletAddress, WALLET, agent.name);
      assert.ok(agent.walletAddress.startsWith(`0x371_${expected.segment}_`), `${agent.name}: ${agent.walletAddress}`);
    }
    assert.equal(new Set(crew.agents.map((a) => a.walletAddress)).size, 5);
  });

  test("task submit --wait runs crew tasks to SUCCEEDED; a long one stays RUNNING; one for a manual pool with no free agent stays QUEUED", ONE_SERVER_MANY_CALLS, async (t) => {
    const server = await sandbox(t).start();
    const crew = await assembleLaunchTeam(server.url);
    const reviewer = crew.agents.find((a) => a.name === "reviewer-1") as AgentView;
    const { waited, review, lonely } = await submitTasks(server.url, crew);
    for (const [i, task] of waited.entries()) {
      assert.equal(task.state, "SUCCEEDED");
      assert.deepEqual(task.result, INPUTS[i]);
      assert.deepEqual(task.input, INPUTS[i]);
      assert.equal(task.crewId, crew.id);
      assert.equal(task.attempts, 1);
      assert.ok(crew.agents.some((a) => a.id === task.agentId && a.role === "Coder"), `ran on ${task.agentId}`);
    }

    assert.equal(review.state, "RUNNING");
    assert.equal(review.agentId, reviewer.id);
    assert.equal(review.attempts, 1);

    assert.equal(lonely.state, "QUEUED");
    assert.equal(lonely.crewId, null);
    assert.equal(lonely.attempts, 0);

    const [again, busy] = await Promise.all([cliJson<TaskView>(server.url, "task", "get", lonely.id), cliJson<AgentView>(server.url, "agents", "get", reviewer.id)]);
    assert.equal(again.state, "QUEUED");
    assert.equal(busy.state, "BUSY");
  });

  test("SIGTERM twice stops the server; a new one on the same data dir restores crew, agents and tasks", TWO_SERVERS, async (t) => {
    const box = sandbox(t);
    const old = await box.start();
    const crew = await assembleLaunchTeam(old.url);
    await submitTasks(old.url, crew);

    const { code, signal, stopMs } = await sigtermTwice(old);
    // The process ends on its own (not killed by the signal), with 128 + 15 for a forced stop,
    // at once rather than after the 10 s drain grace.
    assert.equal(signal, null);
    assert.equal(code, 143);
    assert.ok(stopMs < 3_000, `shutdown took ${stopMs} ms`);

    const server = await box.start();
    assert.notEqual(server.url, "");
    assert.match(server.stdout(), /\(data: .*; 5 agent\(s\), 2 unfinished task\(s\) restored\)/);

    const [restored, list] = await Promise.all([cliJson<CrewView>(server.url, "crew", "get", crew.id), cliJson<CrewView[]>(server.url, "crew", "list")]);
    assert.equal(restored.id, crew.id);
    assert.equal(restored.state, "ACTIVE");
    assert.deepEqual(restored.agentIds, crew.agentIds);
    assert.deepEqual(
      restored.agents.map((a) => [a.id, a.name, a.walletAddress, a.crewId, a.restarts]),
      crew.agents.map((a) => [a.id, a.name, a.walletAddress, crew.id, 1]),
    );
    // The reviewer took its re-queued task straight back, so it is BUSY; the rest are READY.
    assert.deepEqual(
      restored.agents.map((a) => [a.name, a.state]),
      EXPECTED_MEMBERS.map((m) => [m.name, m.name === "reviewer-1" ? "BUSY" : "READY"]),
    );
    assert.deepEqual(
      list.map((c) => [c.id, c.state]),
      [[crew.id, "ACTIVE"]],
    );
  });

  test("after the restart: finished tasks keep their result, the interrupted one runs again and can be cancelled", TWO_SERVERS, async (t) => {
    const box = sandbox(t);
    const old = await box.start();
    const crew = await assembleLaunchTeam(old.url);
    const { waited, review: reviewTask, lonely: lonelyTask } = await submitTasks(old.url, crew);
    await sigtermTwice(old);
    const server = await box.start();

    const [first, second, review, lonely] = await Promise.all([
      cliJson<TaskView>(server.url, "task", "get", waited[0].id),
      cliJson<TaskView>(server.url, "task", "get", waited[1].id),
      cliJson<TaskView>(server.url, "task", "get", reviewTask.id),
      cliJson<TaskView>(server.url, "task", "get", lonelyTask.id),
    ]);
    assert.equal(first.state, "SUCCEEDED");
    assert.deepEqual(first.result, { n: 1 });
    assert.equal(second.state, "SUCCEEDED");
    assert.deepEqual(second.result, { n: 2 });

    // Re-queued at start, then handed back to the revived reviewer: a second attempt.
    assert.equal(review.state, "RUNNING");
    assert.equal(review.attempts, 2);
    assert.equal(review.agentId, reviewTask.agentId);
    assert.deepEqual(review.input, { ms: 60_000 });

    assert.equal(lonely.state, "QUEUED");
    assert.equal(lonely.attempts, 0);
    assert.equal(lonely.agentId, null);

    const cancelled = await cliJson<TaskView>(server.url, "task", "cancel", reviewTask.id);
    assert.equal(cancelled.id, reviewTask.id);
    assert.equal(cancelled.state, "CANCELLED");
    assert.equal(cancelled.error?.code, "TASK_CANCELLED");
    const [reread, view, again] = await Promise.all([
      cliJson<TaskView>(server.url, "task", "get", reviewTask.id),
      cliJson<CrewView>(server.url, "crew", "get", crew.id),
      cli(server.url, "task", "cancel", reviewTask.id),
    ]);
    assert.equal(reread.state, "CANCELLED");
    assert.equal(reread.attempts, 2);
    assert.deepEqual(
      view.agents.map((a) => [a.name, a.state, a.restarts]),
      EXPECTED_MEMBERS.map((m) => [m.name, "READY", 1]),
    );
    assert.equal(again.code, 1);
    assert.match(again.stderr, /\[TASK_ALREADY_FINAL\]/);
  });

  test("spawn planner --json gives the QUEUED crewless task an agent; a crewless Coder task gets one on demand", ONE_SERVER_MANY_CALLS, async (t) => {
    const server = await sandbox(t).start();
    const crew = await assembleLaunchTeam(server.url);
    const lonelyTask = await cliJson<TaskView>(server.url, "task", "submit", "--role", "Planner", "--input", '{"n":3}');

    const planner = await cliJson<AgentView>(server.url, "spawn", "planner");
    assert.match(planner.id, /^agent_[0-9a-f]{16}$/);
    assert.equal(planner.name, "planner");
    assert.equal(planner.role, "Planner");
    assert.equal(planner.state, "READY");
    assert.equal(planner.crewId, null);
    assert.equal(planner.restarts, 0);
    assert.match(planner.walletAddress, WALLET);
    assert.ok(planner.walletAddress.startsWith("0x371_PLANNER_"));

    const done = await cliJson<TaskView>(server.url, "task", "get", lonelyTask.id, "--wait", "5000");
    assert.equal(done.state, "SUCCEEDED");
    assert.deepEqual(done.result, { n: 3 });
    assert.equal(done.agentId, planner.id);
    assert.equal(done.attempts, 1);

    // The coder pool is on-demand: a crewless Coder task spawns its agent.
    const onDemand = await cliJson<TaskView>(server.url, "task", "submit", "--role", "Coder", "--input", '{"n":4}', "--wait", "5000");
    assert.equal(onDemand.state, "SUCCEEDED");
    const coder = await cliJson<AgentView>(server.url, "agents", "get", onDemand.agentId as string);
    assert.deepEqual([coder.role, coder.crewId, coder.profile], ["Coder", null, "coder"]);
    const pool = await cliJson<{ profile: string; spawnStrategy: string; size: number; inCrews: number }>(server.url, "pools", "coder");
    assert.deepEqual([pool.profile, pool.spawnStrategy, pool.size, pool.inCrews], ["coder", "on-demand", 1, 2]);

    const agents = await cliJson<AgentView[]>(server.url, "agents");
    assert.equal(agents.length, 7);
    assert.deepEqual(
      agents.map((a) => a.id).sort(),
      [planner.id, coder.id, ...crew.agentIds].sort(),
    );
  });

  test("bad input through the CLI: exit codes and error codes; a failed assembly leaves nothing behind", ONE_SERVER_MANY_CALLS, async (t) => {
    const { dataDir, start } = sandbox(t);
    const server = await start();
    // The seven live agents the step before leaves: the crew, a spawned planner, an on-demand coder.
    const crew = await assembleLaunchTeam(server.url);
    await cliJson<AgentView>(server.url, "spawn", "planner");
    await cliJson<TaskView>(server.url, "task", "submit", "--role", "Coder", "--input", '{"n":4}', "--wait", "5000");
    const liveAgentIds = (await cliJson<AgentView[]>(server.url, "agents")).map((a) => a.id).sort();

    const manifest = join(dataDir, "ghost-crew.yaml");
    writeFileSync(manifest, ["name: ghost-crew", "members:", "  - profile: coder", "    count: 2", "  - profile: ghost", ""].join("\n"));
    const [noCrew, badPriority, ghost, missing] = await Promise.all([
      cli(server.url, "task", "submit", "--role", "Coder", "--crew", "nope"),
      cli(server.url, "task", "submit", "--priority", "12", "--role", "Coder"),
      cli(server.url, "crew", "assemble", "-f", manifest),
      cli(server.url, "agents", "get", "agent_nope"),
    ]);

    assert.equal(noCrew.code, 1);
    assert.match(noCrew.stderr, /\[CREW_NOT_FOUND\]/);
    assert.equal(noCrew.stdout, "");

    assert.equal(badPriority.code, 2);
    assert.match(badPriority.stderr, /--priority must be a whole number from 0 to 9, got '12'/);
    assert.equal(badPriority.stdout, "");

    assert.equal(ghost.code, 1);
    assert.match(ghost.stderr, /\[PROFILE_NOT_FOUND\]/);
    assert.match(ghost.stderr, /no profile named 'ghost' \(field: members\.1\.profile\)/);
    assert.equal(ghost.stdout, "");

    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /\[AGENT_NOT_FOUND\]/);
    assert.equal(missing.stdout, "");

    const [agents, crews, terminated] = await Promise.all([
      cliJson<AgentView[]>(server.url, "agents"),
      cliJson<CrewView[]>(server.url, "crew", "list"),
      cliJson<AgentView[]>(server.url, "agents", "--state", "TERMINATED"),
    ]);
    assert.equal(liveAgentIds.length, 7);
    assert.deepEqual(
      agents.map((a) => a.id).sort(),
      liveAgentIds,
    );
    assert.deepEqual(
      crews.map((c) => c.id),
      [crew.id],
    );
    assert.equal(terminated.length, 0, "no member was even started");
  });

  test("ledger: grant, transfer, the wallet's balance, entries as a table, JSON and CSV; bad amounts are usage errors", ONE_SERVER_MANY_CALLS, async (t) => {
    const server = await sandbox(t).start();
    await assembleLaunchTeam(server.url);
    const agents = await cliJson<Array<{ walletAddress: string }>>(server.url, "agents", "--limit", "2");
    const [a, b] = [agents[0]?.walletAddress as string, agents[1]?.walletAddress as string];
    assert.equal((await cli(server.url, "ledger", "grant", a, "5", "--memo", "seed, with a comma")).code, 0);
    const moved = await cliJson<{ kind: string; amount: number }>(server.url, "ledger", "transfer", a, b, "1.5");
    assert.deepEqual([moved.kind, moved.amount], ["transfer", 1.5]);
    assert.equal((await cliJson<{ balance: number }>(server.url, "wallet", a)).balance, 3.5);
    const csv = await cli(server.url, "ledger", "--wallet", a, "--csv");
    assert.equal(csv.code, 0);
    const lines = csv.stdout.trim().split("\n");
    assert.equal(lines[0], "seq,at,kind,debit,credit,amount,crewId,agentId,model,tokensIn,tokensOut,memo");
    assert.equal(lines.length, 3);
    assert.match(lines[1] as string, /,grant,.*,5,.*"seed, with a comma"$/);
    const poor = await cli(server.url, "ledger", "transfer", b, a, "100");
    assert.equal(poor.code, 1);
    assert.match(poor.stderr, /INSUFFICIENT_CREDITS/);
    const bad = await cli(server.url, "ledger", "grant", a, "-3");
    assert.equal(bad.code, 2);
  });

  test("ledger report: sums per agent as a table with a total line, as CSV and as JSON; a bad --by is a usage error, a bad --from the server's 400", ONE_SERVER_MANY_CALLS, async (t) => {
    const server = await sandbox(t).start();
    await assembleLaunchTeam(server.url);
    const [agent] = await cliJson<Array<{ id: string; walletAddress: string }>>(server.url, "agents", "--limit", "1");
    const { id, walletAddress } = agent as { id: string; walletAddress: string };
    assert.equal((await cli(server.url, "ledger", "grant", walletAddress, "2.5")).code, 0);
    assert.equal((await cli(server.url, "ledger", "grant", walletAddress, "0.25")).code, 0);
    const args = ["ledger", "report", "--by", "agent", "--kind", "grant", "--agent", id];
    const before = await cliJson<{ rows: Array<{ entries: number; amount: number }>; total: { entries: number; amount: number } }>(server.url, ...args);
    const [entries, amount] = [before.total.entries, before.total.amount];
    assert.ok(entries >= 2 && amount >= 2.75, `${entries} grants of ${amount} credits`);
    assert.deepEqual(before.rows, [{ key: id, entries, amount, tokensIn: 0, tokensOut: 0 }]);

    const shown = await cli(server.url, ...args);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(
      shown.stdout.trimEnd().split("\n").map((line) => line.split(/\s{2,}/)),
      [
        ["KEY", "ENTRIES", "CREDITS", "TOKENS IN", "TOKENS OUT"],
        [id, String(entries), String(amount), "0", "0"],
        ["TOTAL", String(entries), String(amount), "0", "0"],
      ],
    );
    const csv = await cli(server.url, ...args, "--csv");
    assert.equal(csv.code, 0, csv.stderr);
    assert.deepEqual(csv.stdout.trimEnd().split("\n"), ["key,entries,amount,tokensIn,tokensOut", `${id},${entries},${amount},0,0`]);

    const badBy = await cli(server.url, "ledger", "report", "--by", "week");
    assert.equal(badBy.code, 2);
    assert.match(badBy.stderr, /--by <key>' argument 'week' is invalid/);
    const badFrom = await cli(server.url, "ledger", "report", "--by", "day", "--from", "yesterday");
    assert.equal(badFrom.code, 1);
    assert.match(badFrom.stderr, /from: must be an ISO 8601 date.*\(field: from\) \[VALIDATION_FAILED\]/);
  });

  test("CLI mistakes are usage errors (exit 2) naming the flag or file; a wait that runs out exits 124", ONE_SERVER_FEW_CALLS, async (t) => {
    const { dataDir, start } = sandbox(t);
    const server = await start();
    const [badJson, noFile, badUrl, waited] = await Promise.all([
      cli(server.url, "task", "submit", "--role", "Coder", "--input", "{feature:login}"),
      cli(server.url, "crew", "assemble", "-f", join(dataDir, "nope.yaml")),
      cli("notaurl", "agents"),
      cli(server.url, "task", "submit", "--role", "Writer", "--wait", "100"), // a manual pool with no agent
    ]);
    assert.equal(badJson.code, 2);
    assert.match(badJson.stderr, /--input is not valid JSON/);
    assert.equal(noFile.code, 2);
    assert.match(noFile.stderr, /cannot read .*nope\.yaml/);
    assert.equal(badUrl.code, 2);
    assert.match(badUrl.stderr, /--url must be a URL/);
    const withPassword = await cli("http://user:hunter2@127.0.0.1:1", "nodes");
    assert.equal(withPassword.code, 2);
    assert.match(withPassword.stderr, /--url must not carry a user or password \(http:\/\/\*\*\*@127\.0\.0\.1:1\/\); give the API key with --api-key/);
    assert.doesNotMatch(withPassword.stderr, /hunter2/);
    const withV1 = await cli(`${server.url}/v1`, "nodes");
    assert.equal(withV1.code, 2);
    assert.match(withV1.stderr, /--url is the server's address without \/v1/);
    assert.equal(waited.code, 124);
    assert.match(waited.stderr, /is still QUEUED after 100 ms/);
  });
});
