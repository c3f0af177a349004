import { stat } from "node:fs/promises";
import type { Command } from "commander";
import type { ProfileRecord } from "../../core/schemas/profile.ts";
import { ClientError } from "../client.ts";
import { cliContext, readFileArg, UsageError } from "../context.ts";
import { details, printJson, table } from "../output.ts";

const COLUMNS = ["name", "version", "role", "capabilities", "cognitiveLoadLimit", "runtime"];

export function profileCommands(program: Command): void {
  const profiles = program.command("profiles").description("register and read profiles");

  profiles
    .command("list", { isDefault: true })
    .description("the latest version of every profile")
    .action(async (_opts, command: Command) => {
      const { client, json } = cliContext(command);
      const { items } = await client.request<{ items: ProfileRecord[] }>("GET", "/v1/profiles");
      if (json) return printJson(items);
      console.log(table(items.map((p) => ({ ...p, runtime: runtimeLabel(p.runtime) })), COLUMNS));
    });

  profiles
    .command("apply")
    .description("register profiles from a YAML/JSON file or a folder of them")
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
            const { status, body } = await client.send<ProfileRecord>("POST", "/v1/profiles", profile);
            results.push({ ...body, created: status === 201 });
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
    .option("--version <n>", "a specific version")
    .action(async (name: string, opts: { version?: string }, command: Command) => {
      const { client, json } = cliContext(command);
      const record = await client.request<ProfileRecord>("GET", `/v1/profiles/${encodeURIComponent(name)}${opts.version === undefined ? "" : `?version=${encodeURIComponent(opts.version)}`}`);
      if (json) return printJson(record);
      console.log(details(record as unknown as Record<string, unknown>, ["name", "version", "role", "description", "capabilities", "cognitiveLoadLimit", "runtime", "scopes", "pool", "createdAt"]));
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
