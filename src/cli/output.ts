/** The columns of an agent table, shared by `agent` and `crew` commands. */
export const AGENT_COLUMNS = ["id", "name", "role", "state", "load", "crewId", "nodeId", "walletAddress"];

/** Human output: aligned columns; machine output: `--json`. */
export function table(rows: ReadonlyArray<Record<string, unknown>>, columns: readonly string[]): string {
  if (rows.length === 0) return "(none)";
  const cells = rows.map((row) => columns.map((c) => cell(row[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => (r[i] as string).length)));
  const line = (values: readonly string[]): string => values.map((v, i) => v.padEnd(widths[i] as number)).join("  ").trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join("\n");
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return "-";
  if (Array.isArray(value)) return value.join(",");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** `key: value` lines for one object. */
export function details(object: Record<string, unknown>, keys: readonly string[]): string {
  const width = Math.max(...keys.map((k) => k.length));
  return keys
    .filter((k) => object[k] !== undefined)
    .map((k) => `${k.padEnd(width)}  ${typeof object[k] === "object" && object[k] !== null ? JSON.stringify(object[k]) : String(object[k])}`)
    .join("\n");
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** An error as the CLI reports it: a string code, the message and, when known, the field and the HTTP status. */
export interface ErrorReport {
  code: string;
  message: string;
  field?: string;
  status?: number;
}

/**
 * Reports an error on stderr — `error: message (field: f) [CODE]`, or under `--json` one line
 * `{"error":{"code","message",…}}` — so stdout only ever holds a command's result.
 */
export function printError(report: ErrorReport, json: boolean): void {
  if (json) {
    process.stderr.write(`${JSON.stringify({ error: report })}\n`);
    return;
  }
  const field = report.field === undefined ? "" : ` (field: ${report.field})`;
  const code = report.code === USAGE_ERROR || report.code === OTHER_ERROR ? "" : ` [${report.code}]`;
  process.stderr.write(`error: ${report.message}${field}${code}\n`);
}

/** The code of a mistake in how a command was called (exit code 2). */
export const USAGE_ERROR = "USAGE_ERROR";

/** The code of an error that has none of its own (a bug, or a refusal such as binding an open port without a key). */
export const OTHER_ERROR = "ERROR";
