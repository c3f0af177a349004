import type { Command } from "commander";
import type { Waiting } from "../../client/index.ts";
import { cliContext } from "../context.ts";
import { details, printJson, table } from "../output.ts";

export function poolCommands(program: Command): void {
  program
    .command("pools [profile]")
    .description("pools (one per profile): size, queue, wait times, target and scaling decisions")
    .action(async (profile: string | undefined, _opts, command: Command) => {
      const { client, json } = cliContext(command);
      if (profile === undefined) {
        const { items, waiting } = await client.pools();
        if (json) return printJson({ items, waiting });
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
        if (waiting.length > 0) {
          console.log();
          console.log("tasks waiting for an agent, by target:");
          console.log(
            table(
              waiting.map((w) => ({
                ...w,
                target: describeTarget(w),
                crew: w.crewId ?? "-",
                servedBy: w.agentId !== null ? `agent ${w.agentId}` : w.crewId !== null ? "crew members" : w.profiles.join(", "),
              })),
              ["target", "crew", "queued", "servedBy"],
            ),
          );
        }
        return;
      }
      const pool = await client.getPool(profile);
      if (json) return printJson(pool);
      console.log(
        details(pool, [
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
      console.log(pool.decisions.length === 0 ? "no scaling decisions yet" : table(pool.decisions, ["at", "policy", "from", "to", "reason"]));
    });
}

/** `role Coder, capabilities [ts]` — what the waiting tasks ask for. */
function describeTarget(w: Waiting): string {
  if (w.agentId !== null) return `agent ${w.agentId}`;
  return [w.role === null ? undefined : `role ${w.role}`, w.profile === null ? undefined : `profile ${w.profile}`, w.capabilities.length === 0 ? undefined : `capabilities [${w.capabilities.join(", ")}]`]
    .filter((p) => p !== undefined)
    .join(", ");
}
