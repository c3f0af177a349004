import { Option, type Command } from "commander";
import { OPERATOR_ROLES } from "../../core/operator-key.ts";
import { cliContext, UsageError } from "../context.ts";
import { details, printJson, table } from "../output.ts";

const COLUMNS = ["id", "name", "role", "crews", "createdAt"];

/** `--crew` may be given again for each crew. */
function collectCrew(value: string, previous: string[] | undefined): string[] {
  if (value.trim().length === 0) throw new UsageError("--crew: give a crew id");
  return [...(previous ?? []), value.trim()];
}

export function keyCommands(program: Command): void {
  const keys = program.command("keys").description("operator keys: named, with a role (admin, operator, viewer), optionally limited to crews");

  keys
    .command("create")
    .description("make a key; its secret is printed once and never again")
    .requiredOption("--name <name>", "what the key is for (a dashboard, a team's tools)")
    .addOption(new Option("--role <role>", "viewer: reads; operator: everything but keys and server settings; admin: everything").choices(OPERATOR_ROLES).makeOptionMandatory())
    .option("--crew <id>", "limit the key to this crew (repeat for several); not for admin keys", collectCrew)
    .action(async (opts: { name: string; role: (typeof OPERATOR_ROLES)[number]; crew?: string[] }, command: Command) => {
      if (opts.name.trim().length === 0) throw new UsageError("--name: give the key a name");
      if (opts.role === "admin" && opts.crew !== undefined) throw new UsageError("--crew: an admin key cannot be limited to crews (use --role operator or viewer)");
      const { client, json } = cliContext(command);
      const key = await client.createKey({ name: opts.name, role: opts.role, ...(opts.crew === undefined ? {} : { crews: opts.crew }) });
      if (json) return printJson(key);
      console.log(details({ ...key, crews: key.crews?.join(", ") ?? "all" }, ["id", "name", "role", "crews", "createdAt", "secret"]));
      console.log("This secret will not be shown again: store it now (the server keeps only its hash).");
    });

  keys
    .command("list", { isDefault: true })
    .description("every key, without secrets")
    .action(async (_opts, command: Command) => {
      const { client, json } = cliContext(command);
      const items = await client.listKeys();
      if (json) return printJson(items);
      console.log(table(items.map((k) => ({ ...k, crews: k.crews?.join(",") ?? "all" })), COLUMNS));
    });

  keys
    .command("revoke <id>")
    .description("revoke a key: it stops working at once")
    .action(async (id: string, _opts, command: Command) => {
      const { client, json } = cliContext(command);
      await client.revokeKey(id);
      if (json) return printJson({ id, revoked: true });
      console.log(`revoked ${id}`);
    });
}
