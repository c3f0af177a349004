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
