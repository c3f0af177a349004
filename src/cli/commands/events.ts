import type { Command } from "commander";
import { cliContext } from "../context.ts";
import { intOption } from "../flags.ts";

export function eventCommands(program: Command): void {
  program
    .command("events")
    .description("follow the factory's events (Ctrl-C to stop)")
    .option("--types <list>", "comma-separated types, e.g. agent.state,task.*")
    .option("--crew <id>", "only this crew's events")
    .option("--after <seq>", "replay stored events after this seq first", intOption("--after", 0, Number.MAX_SAFE_INTEGER))
    .action(async (opts: { types?: string; crew?: string; after?: number }, command: Command) => {
      const { client, json } = cliContext(command);
      const stop = new AbortController();
      process.once("SIGINT", () => stop.abort());
      const ready = (): void => {
        if (!json) process.stderr.write(`following events from ${client.baseUrl} (Ctrl-C to stop; --after 0 replays the stored ones)\n`);
      };
      await client.events({ types: opts.types, crewId: opts.crew, after: opts.after }, (event) => {
        if (json) return void process.stdout.write(`${JSON.stringify(event)}\n`);
        const data = event.data ?? {};
        const subject =
          event.taskId ??
          event.agentId ??
          event.crewId ??
          (event.type === "pool.scaled" ? `pool ${String(data.profile)} ${String(data.policy)}` : typeof data.name === "string" ? `${data.name}@${String(data.version)}` : "");
        const change = event.to !== undefined ? `${event.from ?? "∅"} → ${event.to}` : event.type === "pool.scaled" ? `${String(data.from)} → ${String(data.to)}` : "";
        const reason = typeof event.data?.reason === "string" ? `  (${event.data.reason})` : "";
        console.log(`${String(event.seq).padStart(6)}  ${event.at.slice(11, 23)}  ${event.type.padEnd(22)} ${subject}  ${change}${reason}`);
      }, stop.signal, ready);
    });
}
