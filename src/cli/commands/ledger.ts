import { Option, type Command } from "commander";
import type { LedgerEntry, LedgerReport, LedgerReportQuery } from "../../client/index.ts";
import { LEDGER_REPORT_KEYS } from "../../core/ledger.ts";
import { cliContext } from "../context.ts";
import { details, printJson, table } from "../output.ts";
import { creditsOption, intOption } from "../flags.ts";

const COLUMNS = ["seq", "at", "kind", "debit", "credit", "amount", "crewId", "agentId", "model", "tokensIn", "tokensOut", "memo"];
const REPORT_COLUMNS = ["key", "entries", "amount", "tokensIn", "tokensOut"] as const;

/** RFC 4180: quote a field that holds a comma, a quote or a line break. */
function csvField(value: unknown): string {
  const text = value === null || value === undefined ? "" : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function ledgerCommands(program: Command): void {
  const ledger = program.command("ledger").description("the double-entry ledger: entries, grants, transfers");
  ledger
    .command("list", { isDefault: true })
    .description("entries in order (who paid whom, how much, for what)")
    .option("--wallet <address>", "entries that debit or credit this wallet")
    .option("--crew <id>", "entries of this crew")
    .option("--agent <id>", "entries of this agent")
    .option("--kind <kind>", "grant, reservation, usage, release, attribution or transfer")
    .option("--after <seq>", "entries after this seq", intOption("--after", 0, Number.MAX_SAFE_INTEGER))
    .option("--limit <n>", "at most this many", intOption("--limit", 1, 10_000))
    .option("--csv", "CSV (RFC 4180) with a header row, for spreadsheets")
    .action(async (opts: { wallet?: string; crew?: string; agent?: string; kind?: string; after?: number; limit?: number; csv?: boolean }, command: Command) => {
      const { client, json } = cliContext(command);
      // The server checks --kind and names it when it is not one.
      const kind = opts.kind as LedgerEntry["kind"] | undefined;
      const items = await client.listLedger({ wallet: opts.wallet, crewId: opts.crew, agentId: opts.agent, kind, after: opts.after, limit: opts.limit });
      if (json) return printJson(items);
      if (opts.csv === true) {
        process.stdout.write(`${COLUMNS.join(",")}\n`);
        for (const e of items) process.stdout.write(`${COLUMNS.map((c) => csvField((e as unknown as Record<string, unknown>)[c])).join(",")}\n`);
        return;
      }
      console.log(table(items, ["seq", "kind", "debit", "credit", "amount", "memo"]));
    });
  ledger
    .command("report")
    .description("sums per agent, crew, model or UTC hour, day or month: credits and tokens of model calls by default")
    .addOption(new Option("--by <key>", "one row per agent, crew, model, hour, day or month").choices(LEDGER_REPORT_KEYS).makeOptionMandatory())
    .option("--kind <kind>", "which entries: usage (default), grant, reservation, release, attribution or transfer")
    .option("--crew <id>", "entries of this crew")
    .option("--agent <id>", "entries of this agent")
    .option("--model <model>", "entries of this model")
    .option("--from <iso>", "entries at or after this instant (2026-01-31, 2026-01-31T09:00:00Z)")
    .option("--to <iso>", "entries before this instant")
    .option("--csv", "CSV (RFC 4180) with a header row, without the total")
    .action(async (opts: { by: string; kind?: string; crew?: string; agent?: string; model?: string; from?: string; to?: string; csv?: boolean }, command: Command) => {
      const { client, json } = cliContext(command);
      const query = { by: opts.by, kind: opts.kind, crewId: opts.crew, agentId: opts.agent, model: opts.model, from: opts.from, to: opts.to } as LedgerReportQuery;
      const report = await client.ledgerReport(query);
      if (json) return printJson(report);
      if (opts.csv === true) {
        process.stdout.write(`${REPORT_COLUMNS.join(",")}\n`);
        for (const row of report.rows) process.stdout.write(`${REPORT_COLUMNS.map((c) => csvField(row[c])).join(",")}\n`);
        return;
      }
      if (report.rows.length === 0) return console.log("(none)");
      const line = (key: string | null, r: LedgerReport["total"]) => ({ key, entries: r.entries, credits: r.amount, "tokens in": r.tokensIn, "tokens out": r.tokensOut });
      console.log(table([...report.rows.map((r) => line(r.key, r)), line("TOTAL", report.total)], ["key", "entries", "credits", "tokens in", "tokens out"]));
    });
  ledger
    .command("grant <wallet> <amount>")
    .description("grant credits from outside to an agent's or crew's wallet")
    .option("--memo <text>", "why")
    .action(async (wallet: string, amount: string, opts: { memo?: string }, command: Command) => {
      const { client, json } = cliContext(command);
      const entry = await client.grantCredits(wallet, creditsOption("amount")(amount), opts.memo);
      if (json) return printJson(entry);
      console.log(`granted ${entry.amount} to ${entry.credit} (entry ${entry.seq})`);
    });
  ledger
    .command("transfer <from> <to> <amount>")
    .description("move credits between two agent or crew wallets")
    .option("--memo <text>", "why")
    .action(async (from: string, to: string, amount: string, opts: { memo?: string }, command: Command) => {
      const { client, json } = cliContext(command);
      const entry = await client.transferCredits(from, to, creditsOption("amount")(amount), opts.memo);
      if (json) return printJson(entry);
      console.log(`moved ${entry.amount} from ${entry.debit} to ${entry.credit} (entry ${entry.seq})`);
    });

  program
    .command("wallet <address>")
    .description("a wallet and its balance (the sum of its ledger entries)")
    .action(async (address: string, _opts, command: Command) => {
      const { client, json } = cliContext(command);
      const wallet = await client.getWallet(address);
      if (json) return printJson(wallet);
      // Units in the values: credits pay for model calls, achievement tokens are only a score.
      const shown = { ...wallet, balance: `${wallet.balance} credits`, achievementTokens: `${wallet.achievementTokens} (a score, not credits)` };
      console.log(details(shown, ["address", "ownerKind", "ownerId", "balance", "achievementTokens", "createdAt"]));
    });
}
