// Pins the README's LLM demo against the real server started as `npm start` starts it (the example profiles and the example mock script): the models line of the first screen, the research-desk crew's task with usage on it, a ledger report per model, `models`, `budgets set/rm`, and CLI errors for bad input; and `serve --config` refusing a provider whose key variable is unset, naming it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BIN, cli, ENV, ROOT, startServe, type Server } from "./serve.ts";

// Each test and the hook has its own limit, sized to its work on a loaded machine, so one slow
// step fails alone and by name rather than using up a budget the others share.
const STARTUP = { timeout: 30_000 }; // a server start (up to 15 s in serve.ts) and its models line (up to 5 s)
const DEMO = { timeout: 45_000 }; // a crew assembly, a 3-call task run with --wait, and six more CLI calls
const FEW_CALLS = { timeout: 30_000 };

describe("the LLM demo through the CLI, offline on the mock", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "agent-factory-models-"));
  let server: Server | undefined;

  before(async () => {
    server = await startServe(["--data", dataDir, "--profiles", "examples/profiles", "--agent-files", "examples/agents", "--mock-script", "examples/models/mock-script.yaml"], (s) => (server = s));
    const deadline = Date.now() + 5_000;
    while (!server.stdout().includes("models:") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }, STARTUP);

  after(async () => {
    if (server !== undefined && server.child.exitCode === null) {
      server.child.kill("SIGKILL");
      await server.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("prints the README's models line, runs the research desk and reports what it spent", DEMO, async () => {
    const url = (server as Server).url;
    assert.match((server as Server).stdout(), /^models: offline — the mock provider answers every model name \(--config, --openai-base-url to use real ones\)$/m);
    const assembled = await cli(url, "--json", "crew", "assemble", "-f", "examples/crews/research-desk.yaml");
    assert.equal(assembled.code, 0, assembled.stderr);
    const crew = JSON.parse(assembled.stdout) as { id: string; walletAddress: string };
    const run = await cli(url, "task", "submit", "--role", "Researcher", "--crew", crew.id, "--input", "tidal energy", "--wait");
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^state\s+SUCCEEDED$/m);
    assert.match(run.stdout, /^usage\s+3 model call\(s\), \d+ tokens in, \d+ out, [\d.]+ credits$/m);
    assert.match(run.stdout, /The writer's draft: .*Draft by openrouter:gpt-4o-mini\. Write three sentences on: tidal energy/);

    const report = await cli(url, "ledger", "report", "--by", "model");
    assert.equal(report.code, 0, report.stderr);
    const lines = report.stdout.trim().split("\n");
    assert.match(lines[0] ?? "", /^KEY\s+ENTRIES\s+CREDITS\s+TOKENS IN\s+TOKENS OUT$/);
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2)),
      [
        ["openrouter:qwen2-72b", "3"],
        ["openrouter:gpt-4o-mini", "1"],
        ["TOTAL", "4"],
      ],
    );
    const wallet = JSON.parse((await cli(url, "--json", "wallet", crew.walletAddress)).stdout) as { balance: number };
    assert.ok(wallet.balance < 50 && wallet.balance > 48, `balance ${wallet.balance}`);
    // The human view says which unit is which: credits pay for calls, achievement tokens are a score.
    const shown = await cli(url, "wallet", crew.walletAddress);
    assert.match(shown.stdout, new RegExp(`^balance\\s+${String(wallet.balance).replace(".", "\\.")} credits$`, "m"));
    assert.match(shown.stdout, /^achievementTokens\s+0 \(a score, not credits\)$/m);
    assert.doesNotMatch(shown.stdout, /^tokens/m);

    const models = await cli(url, "models");
    assert.equal(models.code, 0);
    assert.match(models.stdout, /^mock\s+mock\s+-\s+yes\s+4\s+0/m);
    assert.match(models.stdout, /^balanced\s+\{\}\s+openrouter:qwen2-72b\s+openrouter:mistral-7b$/m);
  });

  it("sets and removes budgets, and names what is wrong with bad input", FEW_CALLS, async () => {
    const url = (server as Server).url;
    const set = await cli(url, "--json", "budgets", "set", "global", "100", "--period", "24h");
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual((({ key, credits, periodMs }) => ({ key, credits, periodMs }))(JSON.parse(set.stdout) as { key: string; credits: number; periodMs: number }), { key: "global", credits: 100, periodMs: 86_400_000 });
    const badKey = await cli(url, "budgets", "set", "everyone", "5");
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /invalid budget: key: must be global, crew:<id> or agent:<id> \(field: key\) \[VALIDATION_FAILED\]/);
    const badPeriod = await cli(url, "budgets", "set", "global", "5", "--period", "soon");
    assert.equal(badPeriod.code, 2);
    assert.match(badPeriod.stderr, /--period must be a duration/);
    const badMetadata = await cli(url, "models", "route", "--metadata", "{nope");
    assert.equal(badMetadata.code, 2);
    const removed = await cli(url, "budgets", "rm", "global");
    assert.equal(removed.code, 0);
    const again = await cli(url, "budgets", "rm", "global");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no budget 'global' \(field: key\) \[NOT_FOUND\]/);
    const reward = await cli(url, "task", "submit", "--role", "Writer", "--reward", "-3");
    assert.equal(reward.code, 2);
  });

  it("refuses to start with a provider whose key variable is unset, naming the variable", FEW_CALLS, async (t) => {
    const config = join(dataDir, "models.yaml");
    writeFileSync(config, "providers:\n  - { name: remote, kind: openai-compatible, baseURL: 'http://127.0.0.1:9/v1', apiKeyEnv: AF_E2E_UNSET_KEY }\n");
    const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--data", join(dataDir, "other"), "--config", config], { cwd: ROOT, env: ENV, stdio: ["ignore", "pipe", "pipe"] });
    // If it wrongly starts and the limit ends the test, the server must not outlive it.
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    const code = await new Promise<number | null>((done) => child.once("exit", (c) => done(c)));
    assert.notEqual(code, 0);
    assert.match(err, /providers\.0\.apiKeyEnv: the environment variable AF_E2E_UNSET_KEY is not set/);
  });
});
