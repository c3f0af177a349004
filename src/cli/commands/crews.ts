import { randomUUID } from "node:crypto";
import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import type { Crew, CrewManifest } from "../../client/index.ts";
import { resolveManifestFiles } from "../../factory/profile-files.ts";
import { cliContext, readFileArg } from "../context.ts";
import { AGENT_COLUMNS, details, printJson, table } from "../output.ts";
import { listPage } from "../pages.ts";
import { intOption, parseJsonArg } from "../flags.ts";

/** A wait that does not keep the process alive once the command is done. */
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

export function crewCommands(program: Command): void {
  const crew = program.command("crew").description("assemble, signal and disband crews");

  crew
    .command("assemble")
    .description("assemble a crew from a manifest file; shows progress until every member is READY")
    .requiredOption("-f, --file <path>", "crew manifest (YAML or JSON)")
    .action(async (opts: { file: string }, command: Command) => {
      const { client, json } = cliContext(command);
      // Inline profiles' relative agent files are the manifest's folder's.
      const manifest = resolveManifestFiles(await readFileArg(opts.file), dirname(resolve(opts.file)));
      const name = (manifest as { name?: unknown } | null)?.name;
      const requestId = randomUUID();
      const label = `crew '${String(name)}'`;
      // A spinner on a terminal; plain progress lines (at most one a second) otherwise.
      const spinner = !json && process.stderr.isTTY === true ? (await import("ora")).default({ text: `assembling ${label}`, stream: process.stderr }).start() : undefined;
      let lastLine = 0;
      let done = (): void => {};
      const complete = new Promise<void>((resolve) => (done = resolve));
      const follow = new AbortController();
      const opened = new Promise<void>((resolve) => {
        void client
          .events(
            { types: "crew.assembly.progress" },
            (event) => {
              const data = event.data as { requestId?: string; ready?: number; total?: number } | undefined;
              if (data?.requestId !== requestId) return;
              const text = `assembling ${label}: ${data.ready}/${data.total} READY`;
              if (spinner !== undefined) spinner.text = text;
              else if (!json && (Date.now() - lastLine >= 1_000 || data.ready === data.total)) {
                lastLine = Date.now();
                process.stderr.write(`${text}\n`);
              }
              if (data.ready === data.total) done();
            },
            follow.signal,
            resolve,
          )
          .catch(() => resolve());
      });
      // The POST goes out once our event stream is open, so no progress is missed.
      await Promise.race([opened, delay(2_000)]);
      let view: Crew;
      try {
        view = await client.assembleCrew(manifest as CrewManifest, { requestId });
        await Promise.race([complete, delay(250)]);
      } catch (error) {
        spinner?.fail(`${label} was not assembled`);
        throw error;
      } finally {
        follow.abort();
      }
      if (json) return printJson(view);
      const summary = `crew '${view.name}' ${view.state}: ${view.agents.length} agent(s) READY — id ${view.id}`;
      if (spinner !== undefined) spinner.succeed(summary);
      else console.error(summary);
      console.log(table(view.agents, AGENT_COLUMNS));
    });

  crew
    .command("list")
    .description("crews not yet disbanded, newest first, a page at a time")
    .option("--state <state>", "only this state (DISBANDED lists ended crews)")
    .option("--limit <n>", "per page (default 1000)", intOption("--limit", 1, 10_000))
    .option("--cursor <cursor>", "the next (older) page, as the previous page said")
    .option("--all", "every page")
    .action(async (opts: { state?: string; limit?: number; cursor?: string; all?: boolean }, command: Command) => {
      const { client, json } = cliContext(command);
      const state = opts.state?.toUpperCase() as Crew["state"] | undefined;
      const items = await listPage((cursor) => client.listCrews({ state, limit: opts.limit, cursor }), opts);
      if (json) return printJson(items);
      console.log(table(items.map((c) => ({ ...c, members: c.agents.length })), ["id", "name", "state", "members", "budget", "walletAddress"]));
    });

  crew
    .command("get <id>")
    .description("one crew and its members")
    .action(async (id: string, _opts, command: Command) => {
      const { client, json } = cliContext(command);
      const view = await client.getCrew(id);
      if (json) return printJson(view);
      console.log(details(view, ["id", "name", "state", "budget", "walletAddress", "createdAt"]));
      console.log();
      console.log(table(view.agents, AGENT_COLUMNS));
    });

  crew
    .command("broadcast <id> <signal>")
    .description("send a signal to every member (PAUSE / RESUME also stop and restart task intake)")
    .option("--payload <json>", "payload (JSON; plain text is sent as a string)")
    .action(async (id: string, signal: string, opts: { payload?: string }, command: Command) => {
      const { client, json } = cliContext(command);
      const result = await client.broadcast(id, signal, opts.payload === undefined ? undefined : parseJsonArg(opts.payload, "--payload"));
      if (json) return printJson(result);
      console.log(`${signal} delivered to ${result.delivered} agent(s)`);
    });

  crew
    .command("publish <id> <topic>")
    .description("publish a message to a crew topic")
    .option("--payload <json>", "payload (JSON; plain text is sent as a string)")
    .action(async (id: string, topic: string, opts: { payload?: string }, command: Command) => {
      const { client, json } = cliContext(command);
      const message = await client.publish(id, topic, opts.payload === undefined ? undefined : parseJsonArg(opts.payload, "--payload"));
      if (json) return printJson(message);
      console.log(`published ${message.id} on ${topic}`);
    });

  crew
    .command("messages <id>")
    .description("messages on the crew bus, oldest first")
    .option("--topic <topic>", "only this topic (broadcasts are on 'signals')")
    .option("--limit <n>", "at most this many", intOption("--limit", 1, 10_000))
    .action(async (id: string, opts: { topic?: string; limit?: number }, command: Command) => {
      const { client, json } = cliContext(command);
      const items = await client.listMessages(id, { topic: opts.topic, limit: opts.limit });
      if (json) return printJson(items);
      console.log(table(items, ["at", "topic", "signal", "delivered", "payload"]));
    });

  crew
    .command("context <id> [key]")
    .description("read the crew's shared context, or one key; --set JSON writes the key")
    .option("--set <json>", "value to store under <key> (JSON; plain text is stored as a string)")
    .action(async (id: string, key: string | undefined, opts: { set?: string }, command: Command) => {
      const { client, json } = cliContext(command);
      if (key === undefined) {
        const context = await client.getContext(id);
        return json ? printJson(context) : console.log(table(Object.entries(context).map(([k, value]) => ({ key: k, value })), ["key", "value"]));
      }
      const entry =
        opts.set === undefined
          ? await client.getContextKey(id, key)
          : await client.setContextKey(id, key, parseJsonArg(opts.set, "--set"));
      return json ? printJson(entry) : console.log(`${entry.key} = ${JSON.stringify(entry.value)}`);
    });

  crew
    .command("disband <id>")
    .description("cancel queued tasks, drain and terminate every member")
    .action(async (id: string, _opts, command: Command) => {
      const { client, json } = cliContext(command);
      const view = await client.disbandCrew(id);
      if (json) return printJson(view);
      console.log(`crew ${view.id} ${view.state}`);
    });
}
