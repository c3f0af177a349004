import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { isFactoryError } from "../core/errors.ts";
import { ClientError } from "./client.ts";
import { UsageError } from "./context.ts";
import { OTHER_ERROR, printError, USAGE_ERROR, type ErrorReport } from "./output.ts";
import { agentCommands } from "./commands/agents.ts";
import { chaosCommand } from "./commands/chaos.ts";
import { clusterCommand } from "./commands/cluster.ts";
import { crewCommands } from "./commands/crews.ts";
import { eventCommands } from "./commands/events.ts";
import { keyCommands } from "./commands/keys.ts";
import { ledgerCommands } from "./commands/ledger.ts";
import { mcpCommand } from "./commands/mcp.ts";
import { modelCommands } from "./commands/models.ts";
import { nodeCommands } from "./commands/nodes.ts";
import { poolCommands } from "./commands/pools.ts";
import { toolCommands } from "./commands/tools.ts";
import { profileCommands } from "./commands/profiles.ts";
import { DEFAULT_PORT, serveCommand } from "./commands/serve.ts";
import { taskCommands } from "./commands/tasks.ts";

/** package.json sits two folders up from both src/cli/main.ts and the built dist/cli/main.js. */
const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

/**
 * `--json` asks for errors as JSON too, including commander's own (an unknown option), which it
 * reports before the options are parsed — so it is read from the arguments (those before `--`).
 */
const args = process.argv.slice(2);
const json = args.slice(0, args.includes("--") ? args.indexOf("--") : undefined).includes("--json");

const program = new Command("agent-factory")
  .version(version, "-V, --version", "print the version of agent-factory")
  .description("Agent Factory: spawn, assemble, dispatch and watch fleets of AI agents")
  .option("--url <url>", "factory server URL", process.env.AGENT_FACTORY_URL ?? `http://127.0.0.1:${DEFAULT_PORT}`)
  .option("--api-key <key>", "API key (default: $AGENT_FACTORY_API_KEY)", process.env.AGENT_FACTORY_API_KEY)
  .option("--json", "print JSON for scripts (errors too: {\"error\":{\"code\",\"message\",…}} on stderr)")
  .exitOverride();
/** Under --json: what commander wrote to stderr (help it shows on an error), and whether it reported an error itself. */
let helpOnError = "";
let reported = false;
if (json) {
  // One JSON error line and no help text after it, which a script could not parse.
  program.configureOutput({
    writeErr: (text) => (helpOnError += text),
    outputError: (text) => {
      reported = true;
      printError({ code: USAGE_ERROR, message: text.replace(/^error: /, "").trim() }, true);
    },
  });
} else {
  program.showHelpAfterError();
}

serveCommand(program);
clusterCommand(program);
profileCommands(program);
agentCommands(program);
crewCommands(program);
taskCommands(program);
poolCommands(program);
toolCommands(program);
nodeCommands(program);
eventCommands(program);
ledgerCommands(program);
modelCommands(program);
keyCommands(program);
mcpCommand(program);
chaosCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version exit 0; usage mistakes were already printed through configureOutput,
    // except a command group called without its subcommand, for which commander shows only help.
    process.exitCode = error.exitCode === 0 ? 0 : 2;
    if (json && !reported && error.exitCode !== 0) {
      const usage = helpOnError.split("\n")[0]?.replace(/^Usage: /, "") ?? "agent-factory";
      printError({ code: USAGE_ERROR, message: `a subcommand is missing: ${usage} (--help lists them)` }, true);
    }
  } else {
    const { report, exitCode } = describe(error);
    printError(report, json);
    process.exitCode = exitCode;
  }
}

/** What to tell the user about an error, and the exit code: 2 for a usage mistake, 1 for the rest. */
function describe(error: unknown): { report: ErrorReport; exitCode: number } {
  if (error instanceof UsageError) return { report: { code: USAGE_ERROR, message: error.message }, exitCode: 2 };
  if (error instanceof ClientError) {
    const report: ErrorReport = { code: error.code, message: error.message, ...(error.field === undefined ? {} : { field: error.field }) };
    // Status 0 means there was no answer at all (unreachable); there is no HTTP status to show.
    return { report: error.status === 0 ? report : { ...report, status: error.status }, exitCode: 1 };
  }
  if (isFactoryError(error)) return { report: { code: error.code, message: error.message, ...(error.field === undefined ? {} : { field: error.field }) }, exitCode: 1 };
  return { report: { code: OTHER_ERROR, message: error instanceof Error ? error.message : String(error) }, exitCode: 1 };
}
