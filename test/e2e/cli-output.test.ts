// Pins how the CLI starts and fails: --version, errors as one JSON line on stderr under --json (exit codes unchanged), and client commands that load no server code.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BIN, ENV, ROOT, startServe, type CliResult, type Server } from "./serve.ts";

const T = { timeout: 60_000 };
const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };

/** Runs the CLI with extra Node flags (none by default); never rejects. */
function run(nodeArgs: readonly string[], ...args: string[]): Promise<CliResult> {
  return new Promise((done) => {
    execFile(process.execPath, [...nodeArgs, BIN, ...args], { cwd: ROOT, env: ENV, timeout: 30_000 }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr });
    });
  });
}

/** The one JSON error line a failed `--json` command leaves on stderr, with nothing on stdout. */
function jsonError(result: CliResult): { code: string; message: string; field?: string; status?: number } {
  assert.equal(result.stdout, "", "stdout holds results only");
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line on stderr, got: ${result.stderr}`);
  const parsed = JSON.parse(lines[0] as string) as { error: { code: string; message: string; field?: string; status?: number } };
  assert.deepEqual(Object.keys(parsed), ["error"]);
  return parsed.error;
}

/**
 * Module URLs a server-less command must not load: the store, the server, the model SDKs, zod, the
 * YAML parser and the spinner (any module that needs them loads them too), and the server's own
 * entry points. Small dependency-free helpers (the default data dir's name, the Host check's
 * option parsing) may load.
 */
const SERVER_CODE = [
  /^node:sqlite$/,
  /\/node_modules\/(kysely|pg|pg-[a-z]+|ai|@ai-sdk\/[^/]+|hono|@hono\/[^/]+|zod|yaml|ora|ioredis)\//,
  /\/src\/(adapters|runtimes|scheduler|models|health|economics|state|agents|crews|tasks)\//,
  /\/src\/api\/(app|server)\.ts$/,
  /\/src\/factory\/(create-factory|factory|load-profiles)\.ts$/,
];

describe("agent-factory CLI start and errors", T, () => {
  let server: Server | undefined;
  let tmp: string;

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "agent-factory-cli-output-"));
    server = await startServe(["--data", join(tmp, "data")], (s) => (server = s));
  });

  after(async () => {
    if (server !== undefined && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill("SIGTERM");
      await server.exited;
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  test("--version and -V print the version in package.json", async () => {
    for (const flag of ["--version", "-V"]) {
      const result = await run([], flag);
      assert.deepEqual(result, { code: 0, stdout: `${version}\n`, stderr: "" });
    }
  });

  test("under --json a usage mistake is a JSON error with code USAGE_ERROR and exit code 2", async () => {
    const unknown = await run([], "--json", "--nope");
    assert.equal(unknown.code, 2);
    assert.deepEqual(jsonError(unknown), { code: "USAGE_ERROR", message: "unknown option '--nope'" });

    const badValue = await run([], "--url", server!.url, "task", "list", "--limit", "x", "--json");
    assert.equal(badValue.code, 2);
    assert.deepEqual(jsonError(badValue), { code: "USAGE_ERROR", message: "--limit must be a whole number from 1 to 10000, got 'x'" });

    const noCommand = await run([], "--json", "xyzzy");
    assert.equal(noCommand.code, 2);
    assert.deepEqual(jsonError(noCommand), { code: "USAGE_ERROR", message: "unknown command 'xyzzy'" });

    // Commander answers a command group without its subcommand with help alone; under --json that is an error too.
    const noSubcommand = await run([], "--json", "task");
    assert.equal(noSubcommand.code, 2);
    assert.deepEqual(jsonError(noSubcommand), { code: "USAGE_ERROR", message: "a subcommand is missing: agent-factory task [options] [command] (--help lists them)" });
  });

  test("under --json a refusal by the server is a JSON error with its code, field and HTTP status, exit code 1", async () => {
    const missing = await run([], "--url", server!.url, "--json", "agents", "get", "agent_missing");
    assert.equal(missing.code, 1);
    const notFound = jsonError(missing);
    assert.deepEqual({ ...notFound, message: "" }, { code: "AGENT_NOT_FOUND", message: "", status: 404 });
    assert.match(notFound.message, /agent_missing/);

    const badFrom = await run([], "--url", server!.url, "--json", "ledger", "report", "--by", "day", "--from", "yesterday");
    assert.equal(badFrom.code, 1);
    const invalid = jsonError(badFrom);
    assert.deepEqual({ ...invalid, message: "" }, { code: "VALIDATION_FAILED", message: "", field: "from", status: 400 });
    assert.match(invalid.message, /must be an ISO 8601 date/);
  });

  test("under --json an unreachable server is a JSON error UNREACHABLE without a status, exit code 1", async () => {
    const result = await run([], "--url", "http://127.0.0.1:1", "--json", "agents", "list");
    assert.equal(result.code, 1);
    const error = jsonError(result);
    assert.equal(error.code, "UNREACHABLE");
    assert.equal(error.status, undefined);
    assert.match(error.message, /^cannot reach the factory at http:\/\/127\.0\.0\.1:1 /);
  });

  test("under --json a waited-for task that ends badly or is not done is a JSON error beside the task on stdout, exit codes 1 and 124", async () => {
    const profiles = join(tmp, "profiles");
    mkdirSync(profiles);
    // `idle` never gets an agent (manual pool), so its task stays QUEUED; `failer` runs the built-in fail handler.
    writeFileSync(join(profiles, "idle.yaml"), "name: idle\nrole: Idle\nruntime: { kind: function, handler: echo }\npool: { spawnStrategy: manual }\n");
    writeFileSync(join(profiles, "failer.yaml"), "name: failer\nrole: Failer\nruntime: { kind: function, handler: fail }\n");
    const applied = await run([], "--url", server!.url, "--json", "profiles", "apply", "-f", profiles);
    assert.equal(applied.code, 0, applied.stderr);

    const waited = await run([], "--url", server!.url, "--json", "task", "submit", "--profile", "idle", "--wait", "100");
    assert.equal(waited.code, 124);
    const queued = JSON.parse(waited.stdout) as { id: string; state: string };
    assert.equal(queued.state, "QUEUED");
    const lines = waited.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, waited.stderr);
    assert.deepEqual(JSON.parse(lines[0] as string), {
      error: { code: "WAIT_TIMED_OUT", message: `task ${queued.id} is still QUEUED after 100 ms (wait again with: agent-factory task get ${queued.id} --wait)` },
    });

    const failed = await run([], "--url", server!.url, "--json", "task", "submit", "--profile", "failer", "--input", '{"message":"boom"}', "--wait", "10000");
    assert.equal(failed.code, 1, failed.stderr);
    const task = JSON.parse(failed.stdout) as { id: string; state: string; error: { code: string; message: string } };
    // One attempt (the default) that failed: dead-lettered.
    assert.equal(task.state, "DEAD");
    assert.deepEqual(JSON.parse(failed.stderr), { error: { code: task.error.code, message: `task ${task.id} ended DEAD: ${task.error.message}` } });
    assert.match(task.error.message, /boom/);
  });

  test("without --json the errors stay one readable line", async () => {
    const missing = await run([], "--url", server!.url, "agents", "get", "agent_missing");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: .*agent_missing.* \[AGENT_NOT_FOUND\]\n$/);
    const badValue = await run([], "task", "list", "--limit", "x");
    assert.deepEqual(badValue, { code: 2, stdout: "", stderr: "error: --limit must be a whole number from 1 to 10000, got 'x'\n" });
  });

  test("a client command and --version load no server code", async () => {
    // A module hook in the CLI's own process writes down every module it loads.
    const hook = join(tmp, "record-modules.mjs");
    const log = join(tmp, "modules.txt");
    writeFileSync(
      hook,
      `import { registerHooks } from "node:module";\nimport { appendFileSync } from "node:fs";\n` +
        `registerHooks({ load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + "\\n"); return next(url, context); } });\n`,
    );
    for (const args of [["--url", server!.url, "--json", "agents", "list"], ["--version"]]) {
      writeFileSync(log, "");
      const result = await run(["--import", hook], ...args);
      assert.equal(result.code, 0, result.stderr);
      const loaded = readFileSync(log, "utf8").trim().split("\n");
      // The hook saw the CLI itself, so an empty list cannot pass for a clean one.
      assert.ok(loaded.some((url) => url.endsWith("/src/cli/main.ts")), "the hook recorded the CLI's modules");
      assert.ok(loaded.some((url) => url.includes("/node_modules/commander/")), "the hook recorded commander");
      assert.deepEqual(loaded.filter((url) => SERVER_CODE.some((pattern) => pattern.test(url))), [], `agent-factory ${args.join(" ")} loaded server code`);
    }
  });
});
