import type { Command } from "commander";
import { cliContext } from "../context.ts";
import { printJson, table } from "../output.ts";

export function toolCommands(program: Command): void {
  program
    .command("tools")
    .description("agents' MCP tools (server.tool), as far as each agent's allow-list goes")
    .option("--agent <id>", "only this agent's")
    .option("--crew <id>", "only this crew's agents'")
    .option("--server <name>", "only this server's")
    .action(async (opts: { agent?: string; crew?: string; server?: string }, command: Command) => {
      const { client, json } = cliContext(command);
      const items = await client.listTools({ ...(opts.agent === undefined ? {} : { agentId: opts.agent }), ...(opts.crew === undefined ? {} : { crewId: opts.crew }), ...(opts.server === undefined ? {} : { server: opts.server }) });
      if (json) return printJson({ items });
      console.log(table(items.map((t) => ({ ...t, crew: t.crewId ?? "-", description: t.description.split("\n")[0]?.slice(0, 60) })), ["name", "agentId", "crew", "description"]));
    });
}
