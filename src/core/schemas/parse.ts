import type { z } from "zod";
import { FactoryError } from "../errors.ts";

/** Formats the first issue of a zod error as "field: message". */
export function describeIssue(error: z.ZodError): { field: string | undefined; message: string } {
  // An unknown key usually explains a missing one (a typo), so it is the more useful report.
  const issue = error.issues.find((i) => i.code === "unrecognized_keys") ?? error.issues[0];
  if (issue === undefined) return { field: undefined, message: "invalid input" };
  let field = issue.path.length > 0 ? issue.path.map(String).join(".") : undefined;
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0] ?? "";
    field = field === undefined ? key : `${field}.${key}`;
    message = `unknown field '${key}'`;
  }
  return { field, message: field === undefined ? message : `${field}: ${message}` };
}

/** Validates at the edge; failures become VALIDATION_FAILED naming the field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const { field, message } = describeIssue(result.error);
  throw new FactoryError("VALIDATION_FAILED", `invalid ${what}: ${message}`, field === undefined ? {} : { field });
}
