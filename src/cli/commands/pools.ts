import type { Command } from "commander";
import { cliContext } from "../context.ts";
import { details, printJson, table } from "../output.ts";

export function poolCommands(program: Command): void {
  program
    .command("pools [profile]")
    .description("pools (one per profile): size, queue, wait times, target and scaling decisions")
    .action(async (profile: string | undefined, _opts, command: Command) => {
      const { client, json } = cliContext(command);
      if (profile === undefined) {
        const items = await client.listPools();
        if (json) return printJson(items);
        console.log(
          table(
            items.map((p) => ({
              ...p,
              max: p.settings.maxSize,
              waitP99: `${p.wait.p99Ms} ms`,
              rate: `${p.dispatchRatePerSec}/s`,
            })),
            ["profile", "spawnStrategy", "balancer", "size", "target", "max", "spawning", "queued", "running", "utilization", "rate", "waitP99"],
          ),
        );
        return;
      }
      const pool = await client.getPool(profile);
      if (json) return printJson(pool);
      console.log(
        details(pool as unknown as Record<string, unknown>, [
          "profile",
          "version",
          "spawnStrategy",
          "balancer",
          "size",
          "states",
          "inCrews",
          "spawning",
          "target",
          "queued",
          "running",
          "utilization",
          "dispatchRatePerSec",
          "forecastRatePerSec",
          "wait",
          "settings",
        ]),
      );
      console.log();
      console.log(pool.decisions.length === 0 ? "no scaling decisions yet" : table(pool.decisions as unknown as Record<string, unknown>[], ["at", "policy", "from", "to", "reason"]));
    });
}
