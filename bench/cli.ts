/**
 * CLI start-time benchmark (issue 11): how long `agent-factory --version` and a client command
 * (`agents list` against a local server) take as new processes, beside a bare `node -e 0` on the
 * same Node in the same run. The commands run as a user runs them in a checkout
 * (bin/agent-factory.js → the TypeScript sources); when dist/ is built, also the installed path
 * (the JavaScript in dist/).
 *
 *   node bench/cli.ts --case cli-start [--quick]
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startServer } from "../src/api/server.ts";
import { createFactory } from "../src/index.ts";
import { withTempDir } from "./spawn.ts";
import { metric, summarize, type Claim, type Metric } from "./stats.ts";

export const CLI_CASE_NAMES = ["cli-start"] as const;
export type CliCaseName = (typeof CLI_CASE_NAMES)[number];

const CLAIMS = {
  client: { text: "client command well under 0.3 s", source: "issue 11", kind: "max", limit: 300 },
} as const satisfies Record<string, Claim>;

const root = resolve(import.meta.dirname, "..");
const BIN = join(root, "bin", "agent-factory.js");
const DIST_MAIN = join(root, "dist", "cli", "main.js");
const now = (): number => performance.now();

/** No developer key or URL may leak into the measured commands. */
const env: NodeJS.ProcessEnv = { ...process.env };
delete env.AGENT_FACTORY_API_KEY;
delete env.AGENT_FACTORY_URL;

/**
 * dist/cli/main.js run directly misses what the installed bin does first: turn on Node's compile
 * cache (in its default folder). The variable does the same, and NODE_DISABLE_COMPILE_CACHE=1
 * still turns both off.
 */
const distEnv: NodeJS.ProcessEnv = { ...env, NODE_COMPILE_CACHE: join(tmpdir(), "node-compile-cache") };

interface Command {
  args: string[];
  env?: NodeJS.ProcessEnv;
}

/** Wall time of one `node …args` process, from spawn to exit; a failed command fails the bench. */
function timed({ args, env: commandEnv = env }: Command): Promise<number> {
  return new Promise((done, fail) => {
    const started = now();
    execFile(process.execPath, ["--disable-warning=ExperimentalWarning", ...args], { cwd: root, env: commandEnv, timeout: 30_000 }, (error, _stdout, stderr) => {
      const ms = now() - started;
      if (error !== null) fail(new Error(`node ${args.join(" ")} failed: ${error.message}\n${stderr}`));
      else done(ms);
    });
  });
}

async function cliCase({ quick }: { quick: boolean }): Promise<{ title: string; metrics: Metric[]; details: Record<string, unknown> }> {
  const runs = quick ? 10 : 30;
  return withTempDir(async (dir) => {
    const factory = await createFactory({ dataDir: dir });
    const server = await startServer(factory, { port: 0, host: "127.0.0.1" });
    try {
      const commands: Record<string, Command> = {
        baseline: { args: ["-e", "0"] },
        version: { args: [BIN, "--version"] },
        client: { args: [BIN, "--url", server.url, "--json", "agents", "list"] },
        ...(existsSync(DIST_MAIN) ? { distClient: { args: [DIST_MAIN, "--url", server.url, "--json", "agents", "list"], env: distEnv } } : {}),
      };
      const samples: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
      // One warm-up round for the OS file cache; then the commands take turns, so a noisy
      // moment on a shared machine falls on all of them rather than on one.
      for (const command of Object.values(commands)) await timed(command);
      for (let i = 0; i < runs; i++) for (const [name, command] of Object.entries(commands)) samples[name]?.push(await timed(command));
      const s = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)]));
      const p50 = (name: string): number => s[name]?.p50 ?? Number.NaN;
      return {
        title: `CLI start (new process each time, ${runs} runs, p50; Node ${process.version})`,
        metrics: [
          metric("cli.baseline.p50", "node -e 0 (baseline), p50", p50("baseline"), "ms"),
          metric("cli.version.p50", "agent-factory --version, p50", p50("version"), "ms"),
          metric("cli.client.p50", "agent-factory agents list (local server), p50", p50("client"), "ms", CLAIMS.client),
          metric("cli.client.overBaseline", "  above node -e 0", p50("client") - p50("baseline"), "ms"),
          ...(s.distClient === undefined ? [] : [metric("cli.distClient.p50", "  the same from dist/ (as installed), p50", p50("distClient"), "ms", CLAIMS.client)]),
        ],
        details: { runs, summaries: s },
      };
    } finally {
      await server.close();
    }
  });
}

export async function runCliCase(name: CliCaseName, options: { quick: boolean }) {
  const start = now();
  const result = await cliCase(options);
  return { name, ...result, durationMs: now() - start, gcExposed: (globalThis as { gc?: () => void }).gc !== undefined };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { case: { type: "string" }, quick: { type: "boolean", default: false } } });
  if (values.case !== "cli-start") {
    process.stderr.write("usage: node bench/cli.ts --case cli-start [--quick]\n");
    process.exit(2);
  }
  const result = await runCliCase("cli-start", { quick: values.quick });
  if (process.send !== undefined) process.send(result, undefined, {}, () => process.disconnect());
  else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
