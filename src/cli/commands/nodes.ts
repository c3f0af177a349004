import type { Command } from "commander";
import { cliContext } from "../context.ts";
import { printJson, table } from "../output.ts";

export function nodeCommands(program: Command): void {
  program
    .command("nodes")
    .description("the nodes of the cluster: lease, agents, load (a single node lists itself)")
    .action(async (_opts, command: Command) => {
      const { client, json } = cliContext(command);
      const items = await client.listNodes();
      if (json) return printJson({ items });
      console.log(
        table(
          items.map((n) => ({ ...n, status: n.alive ? "alive" : "lease expired", load: `${n.load}/${n.capacity}` })),
          ["id", "status", "agents", "load", "startedAt", "leaseUntil", "url"],
        ),
      );
    });
}
