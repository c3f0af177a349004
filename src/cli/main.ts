import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { isFactoryError } from "../core/errors.ts";
import { ClientError } from "./client.ts";
import { UsageError } from "./context.ts";
import { agentCommands } from "./commands/agents.ts";
import { chaosCommand } from "./commands/chaos.ts";
import { crewCommands } from "./commands/crews.ts";
import { eventCommands } from "./commands/events.ts";
import { ledgerCommands } from "./commands/ledger.ts";
import { modelCommands } from "./commands/models.ts";
import { poolCommands } from "./commands/pools.ts";
import { profileCommands } from "./commands/profiles.ts";
import { DEFAULT_PORT, serveCommand } from "./commands/serve.ts";
import { taskCommands } from "./commands/tasks.ts";

/** package.json sits two folders up from both src/cli/main.ts and the built dist/cli/main.js. */
const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

const program = new Command("agent-factory")
  .version(version, "-V, --version", "print the version of agent-factory")
  .description("Agent Factory: spawn, assemble, dispatch and watch fleets of AI agents")
  .option("--url <url>", "factory server URL", process.env.AGENT_FACTORY_URL ?? `http://127.0.0.1:${DEFAULT_PORT}`)
  .option("--api-key <key>", "API key (default: $AGENT_FACTORY_API_KEY)", process.env.AGENT_FACTORY_API_KEY)
  .option("--json", "print JSON for scripts")
  .showHelpAfterError()
  .exitOverride();

serveCommand(program);
profileCommands(program);
agentCommands(program);
crewCommands(program);
taskCommands(program);
poolCommands(program);
eventCommands(program);
ledgerCommands(program);
modelCommands(program);
chaosCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version exit 0; usage mistakes were already printed by commander.
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else if (error instanceof UsageError) {
    console.error(`error: ${error.message}`);
    process.exitCode = 2;
  } else if (error instanceof ClientError || isFactoryError(error)) {
    const field = error.field === undefined ? "" : ` (field: ${error.field})`;
    console.error(`error: ${error.message}${field} [${error.code}]`);
    process.exitCode = 1;
  } else {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
