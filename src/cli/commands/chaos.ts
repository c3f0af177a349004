import type { Command } from "commander";
import { cliContext, UsageError } from "../context.ts";
import { intOption, parseDuration, parseRate, parseRatio } from "../flags.ts";
import { printJson } from "../output.ts";
import { DEFAULT_CHAOS_PROFILE } from "../chaos/profile.ts";
import { printReport } from "../chaos/report.ts";
import { runChaos } from "../chaos/run.ts";
import type { ChaosOptions } from "../chaos/types.ts";

interface RawOptions {
  duration: string;
  killRate: string;
  freezeRatio: string;
  freezeFor: string;
  latency: string;
  rate: string;
  agents: string;
  work: string;
  profile: string;
  grace: string;
  keep?: boolean;
}

function parseOptions(raw: RawOptions): ChaosOptions {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(raw.profile)) throw new UsageError(`--profile must be a profile name (letters, digits, '.', '_', '-'), got '${raw.profile}'`);
  return {
    durationMs: parseDuration("--duration", raw.duration, 1, 86_400_000),
    killRate: parseRate("--kill-rate", raw.killRate, 0, 100),
    freezeRatio: parseRatio("--freeze-ratio", raw.freezeRatio),
    freezeForMs: parseDuration("--freeze-for", raw.freezeFor, 1, 600_000),
    latencyMs: parseDuration("--latency", raw.latency, 0, 60_000),
    rate: parseRate("--rate", raw.rate, Number.MIN_VALUE, 10_000),
    agents: intOption("--agents", 1, 64)(raw.agents),
    workMs: parseDuration("--work", raw.work, 0, 600_000),
    profile: raw.profile,
    graceMs: parseDuration("--grace", raw.grace, 0, 86_400_000),
    keep: raw.keep === true,
  };
}

/** `agent-factory chaos`: parses its flags, runs the chaos run and prints its report; exit 0 when it found no problem, 1 otherwise. */
export function chaosCommand(program: Command): void {
  program
    .command("chaos")
    .description("drive tasks at a running factory (`serve --chaos`) while killing and freezing its agents and injecting latency; reports lost, twice-completed and wrong tasks and how fast agents were detected and replaced")
    .option("--duration <time>", "how long to drive load (30s, 5m, 1500ms)", "30s")
    .option("--kill-rate <rate>", "chaos actions per second, across agents (0.2/s, 3/m)", "0.2/s")
    .option("--freeze-ratio <fraction>", "fraction of the chaos actions that are freezes instead of kills", "0.3")
    .option("--freeze-for <time>", "how long a freeze lasts (must be past the heartbeat budget)", "5s")
    .option("--latency <time>", "latency injected before every task's handler starts", "0ms")
    .option("--rate <rate>", "tasks submitted per second", "40/s")
    .option("--agents <n>", "agents to spawn for the run", "4")
    .option("--work <time>", "how long each task works inside the agent", "50ms")
    .option(
      "--profile <name>",
      `profile of the agents (${DEFAULT_CHAOS_PROFILE}, the Node echo agent, is registered by the command; another must exist and answer {text, ms} with {reversed} as that agent does)`,
      DEFAULT_CHAOS_PROFILE,
    )
    .option("--grace <time>", "after the load, how long to wait for accepted tasks to finish", "60s")
    .option("--keep", "keep the spawned agents (default: terminate them at the end)")
    .action(async (raw: RawOptions, command: Command) => {
      const { client, json } = cliContext(command);
      const options = parseOptions(raw);
      const report = await runChaos(client, options, json);
      if (json) printJson(report);
      else printReport(report);
      process.exitCode = report.ok ? 0 : 1;
    });
}
