import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import type { Agent, SpawnRequest } from "../../client/index.ts";
import { resolveProfileFiles } from "../../factory/profile-files.ts";
import { cliContext, readFileArg, UsageError } from "../context.ts";
import { AGENT_COLUMNS, details, printJson, table } from "../output.ts";
import { listPage } from "../pages.ts";
import { intOption } from "../flags.ts";

const AGENT_DETAILS = ["id", "name", "profile", "profileVersion", "role", "state", "capabilities", "cognitiveLoadLimit", "load", "crewId", "nodeId", "walletAddress", "spawnedAt", "pid", "restarts", "stats", "health", "lastSignal"];

export function agentCommands(program: Command): void {
  program
    .command("spawn [profile]")
    .description("spawn agents from a registered profile (or -f an inline profile file)")
    .option("-f, --file <path>", "an inline profile (YAML/JSON) instead of a name")
    .option("-n, --count <n>", "how many", intOption("--count", 1, 10_000), 1)
    .option("--name <name>", "instance name")
    .action(async (profile: string | undefined, opts: { file?: string; count: number; name?: string }, command: Command) => {
      const { client, json } = cliContext(command);
      if ((profile === undefined) === (opts.file === undefined)) throw new UsageError("give a profile name or -f FILE (not both)");
      const body = (opts.file === undefined ? { profile } : { config: resolveProfileFiles(await readFileArg(opts.file), dirname(resolve(opts.file))) }) as SpawnRequest;
      const agents: Agent[] = [];
      for (let i = 0; i < opts.count; i++) {
        agents.push(await client.spawnAgent({ ...body, ...(opts.name === undefined ? {} : { name: opts.name }) }));
        if (!json && opts.count > 1 && process.stderr.isTTY === true) process.stderr.write(`\rspawned ${i + 1}/${opts.count}`);
      }
      if (!json && opts.count > 1 && process.stderr.isTTY === true) process.stderr.write("\n");
      if (json) return printJson(opts.count === 1 ? agents[0] : agents);
      console.log(table(agents, AGENT_COLUMNS));
    });

  const agents = program.command("agents").description("list, read and terminate agents");
  agents
    .command("list", { isDefault: true })
    .description("live agents, newest first, a page at a time")
    .option("--state <state>", "only this state (TERMINATED and HIBERNATING read the store)")
    .option("--role <role>", "only this role")
    .option("--crew <id>", "only this crew's members")
    .option("--limit <n>", "per page (default 1000)", intOption("--limit", 1, 10_000))
    .option("--cursor <cursor>", "the next (older) page, as the previous page said")
    .option("--all", "every page")
    .action(async (opts: { state?: string; role?: string; crew?: string; limit?: number; cursor?: string; all?: boolean }, command: Command) => {
      const { client, json } = cliContext(command);
      const state = opts.state?.toUpperCase() as Agent["state"] | undefined;
      const items = await listPage((cursor) => client.listAgents({ state, role: opts.role, crewId: opts.crew, limit: opts.limit, cursor }), opts);
      if (json) return printJson(items);
      console.log(table(items, AGENT_COLUMNS));
    });
  agents
    .command("get <id>")
    .description("one agent")
    .action(async (id: string, _opts, command: Command) => {
      const { client, json } = cliContext(command);
      const agent = await client.getAgent(id);
      if (json) return printJson(agent);
      console.log(details(agent, AGENT_DETAILS));
    });
  agents
    .command("clone <id>")
    .description("clone a live agent (same profile version and crew, its saved context)")
    .action(async (id: string, _opts, command: Command) => {
      const { client, json } = cliContext(command);
      const agent = await client.cloneAgent(id);
      if (json) return printJson(agent);
      console.log(table([agent], AGENT_COLUMNS));
    });
  agents
    .command("hibernate <id>")
    .description("put an idle agent to sleep: context to the store, runtime stopped, memory freed")
    .action(async (id: string, _opts, command: Command) => {
      const { client, json } = cliContext(command);
      const agent = await client.hibernateAgent(id);
      if (json) return printJson(agent);
      console.log(`${agent.id} ${agent.state}`);
    });
  agents
    .command("wake <id>")
    .description("wake a hibernated agent (answers when it is READY)")
    .action(async (id: string, _opts, command: Command) => {
      const { client, json } = cliContext(command);
      const started = performance.now();
      const agent = await client.wakeAgent(id);
      if (json) return printJson(agent);
      console.log(`${agent.id} ${agent.state} (${(performance.now() - started).toFixed(1)} ms)`);
    });
  agents
    .command("terminate <id>")
    .description("drain and terminate an agent")
    .action(async (id: string, _opts, command: Command) => {
      const { client, json } = cliContext(command);
      const agent = await client.terminateAgent(id);
      if (json) return printJson(agent);
      console.log(`${agent.id} ${agent.state}`);
    });
}
