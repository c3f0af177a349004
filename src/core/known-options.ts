import { closestNames } from "./closest-names.ts";
import { FactoryError } from "./errors.ts";

/**
 * Refuses an options object with a field the adapter does not know: a misspelt `schemaa` or
 * `clustr` would otherwise be ignored, and the store or bus would quietly use its default —
 * another schema, another cluster. The error names the field and the closest known name.
 */
export function requireKnownOptions(options: object, known: readonly string[], what: string): void {
  if (typeof options !== "object" || options === null) throw new FactoryError("VALIDATION_FAILED", `${what}: options must be an object`);
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = closestNames(key, known);
    throw new FactoryError("VALIDATION_FAILED", `${what}: unknown option '${key}'${near.length === 0 ? "" : ` (did you mean ${near.map((n) => `'${n}'`).join(" or ")}?)`}; known: ${known.join(", ")}`, { field: key });
  }
}
