import { stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import type { ProfileInput, ProfileRecord } from "../../client/index.ts";
import { resolveProfileFiles } from "../../factory/profile-files.ts";
import { ClientError } from "../client.ts";
import { cliContext, readFileArg, UsageError } from "../context.ts";
import { details, printJson, table } from "../output.ts";
import { intOption } from "../flags.ts";

const COLUMNS = ["name", "version", "role", "capabilities", "cognitiveLoadLimit", "runtime"];

export function profileCommands(program: Command): void {
  const profiles = program.command("profiles").description("register and read profiles");

  profiles
    .command("list", { isDefault: true })
    .description("the latest version of every profile")
    .action(async (_opts, command: Command) => {
      const { client, json } = cliContext(command);
      const items = await client.listProfiles();
      if (json) return printJson(items);
      console.log(table(items.map((p) => ({ ...p, runtime: runtimeLabel(p.runtime) })), COLUMNS));
    });

  profiles
    .command("apply")
    .description("register profiles from a YAML/JSON file or a folder of them (relative runtime.files are resolved against the file's folder)")
    .requiredOption("-f, --file <path>", "a profile file, or a folder")
    .action(async (opts: { file: string }, command: Command) => {
      const { client, json } = cliContext(command);
      const info = await stat(opts.file).catch(() => undefined);
      if (info === undefined) throw new UsageError(`cannot read ${opts.file}: no such file or folder`);
      // Loaded here, not at start: a client command that reads no folder does not load the YAML loader.
      const { documentFiles } = await import("../../factory/load-profiles.ts");
      const files = info.isDirectory() ? await documentFiles(opts.file) : [opts.file];
      const results: Array<ProfileRecord & { created: boolean }> = [];
      for (const file of files) {
        const doc = await readFileArg(file);
        for (const profile of Array.isArray(doc) ? doc : [doc]) {
          try {
            // The server validates the file's content and names the field at fault. It cannot know where this
            // file is: relative agent files become absolute here (the server still decides what is allowed).
            const { profile: record, created } = await client.registerProfile(resolveProfileFiles(profile, dirname(resolve(file))) as ProfileInput);
            results.push({ ...record, created });
          } catch (error) {
            // Name the file: with a folder of profiles the server's message alone does not say which.
            if (error instanceof ClientError) throw new ClientError(error.code, `${file}: ${error.message}`, error.status, error.field);
            throw error;
          }
        }
      }
      if (json) return printJson(results);
      for (const r of results) console.log(`${r.created ? "registered" : "unchanged "} ${r.name} v${r.version}`);
    });

  profiles
    .command("get <name>")
    .description("one profile (latest version unless --version)")
    .option("--version <n>", "a specific version", intOption("--version", 1, Number.MAX_SAFE_INTEGER))
    .action(async (name: string, opts: { version?: number }, command: Command) => {
      const { client, json } = cliContext(command);
      const record = await client.getProfile(name, opts.version);
      if (json) return printJson(record);
      console.log(details(record, ["name", "version", "role", "description", "capabilities", "cognitiveLoadLimit", "runtime", "scopes", "pool", "createdAt"]));
    });
}

function runtimeLabel(runtime: ProfileRecord["runtime"]): string {
  switch (runtime.kind) {
    case "function":
      return `function:${runtime.handler}`;
    case "process":
      return `process:${runtime.command.join(" ").slice(0, 40)}`;
    case "llm":
      return `llm:${runtime.model ?? "routed"}`;
  }
}
