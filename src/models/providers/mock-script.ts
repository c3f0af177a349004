import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { FactoryError } from "../../core/errors.ts";
import { parseWith } from "../../core/schemas/parse.ts";

/**
 * One scripted answer of the mock provider. Strings (text and tool inputs) may say
 * `{{input}}` (the last user message), `{{lastToolResult}}` (the last tool result, as JSON),
 * `{{model}}` and `{{step}}`.
 */
export const MockReplySchema = z.strictObject({
  text: z.string().max(1_000_000).optional(),
  toolCalls: z.array(z.strictObject({ name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be a tool name"), input: z.record(z.string(), z.unknown()).default({}) })).max(64).default([]),
  /** Token counts to report; default: characters ÷ 4, rounded up. */
  usage: z.strictObject({ inputTokens: z.number().int().min(0).optional(), outputTokens: z.number().int().min(0).optional() }).optional(),
  /** Waits this long before answering (aborts honour the call's signal). */
  latencyMs: z.number().int().min(0).max(600_000).optional(),
  /** Fails the call the way a provider does: an HTTP status (5xx and 429 are retryable) and a message. */
  error: z.strictObject({ status: z.number().int().min(400).max(599).default(500), message: z.string().max(2_000).default("scripted provider error") }).optional(),
});
export type MockReply = z.output<typeof MockReplySchema>;

/**
 * A rule: when it matches a call, it answers. `steps[i]` answers the conversation's step i (the
 * number of assistant turns already in it), so an agent's tool loop is scripted the same way
 * whatever else runs concurrently; `sequence` is consumed call by call (its last entry repeats),
 * for "fail twice, then answer"; `reply` answers every matching call.
 */
export const MockRuleSchema = z
  .strictObject({
    name: z.string().max(128).optional(),
    when: z
      .strictObject({
        /** The full model name (`provider:model`); `*` matches any run of characters. */
        model: z.string().max(200).optional(),
        /** A regular expression the last user message must match. */
        prompt: z.string().max(2_000).optional(),
        /** A regular expression the system prompt must match. */
        system: z.string().max(2_000).optional(),
      })
      .default({}),
    reply: MockReplySchema.optional(),
    steps: z.array(MockReplySchema).min(1).max(1_000).optional(),
    sequence: z.array(MockReplySchema).min(1).max(1_000).optional(),
  })
  .refine((r) => [r.reply, r.steps, r.sequence].filter((x) => x !== undefined).length === 1, "give exactly one of reply, steps, sequence");
export type MockRule = z.output<typeof MockRuleSchema>;

export const MockScriptSchema = z.strictObject({
  /** Applied to every reply that does not say otherwise. */
  defaults: z.strictObject({ latencyMs: z.number().int().min(0).max(600_000).default(0) }).default({ latencyMs: 0 }),
  /** First match answers; a call nothing matches gets the default answer. */
  rules: z.array(MockRuleSchema).max(10_000).default([]),
});
export type MockScript = z.output<typeof MockScriptSchema>;

/** Reads a mock script (YAML or JSON), naming the file and field at fault. */
export function loadMockScript(path: string): MockScript {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new FactoryError("VALIDATION_FAILED", `mock script ${path}: ${(error as Error).message}`, { field: "script" });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new FactoryError("VALIDATION_FAILED", `mock script ${path}: not YAML or JSON: ${(error as Error).message}`, { field: "script" });
  }
  const script = parseWith(MockScriptSchema, raw ?? {}, "script");
  for (const [i, rule] of script.rules.entries()) {
    for (const key of ["prompt", "system"] as const) {
      const pattern = rule.when[key];
      if (pattern === undefined) continue;
      try {
        new RegExp(pattern);
      } catch {
        throw new FactoryError("VALIDATION_FAILED", `mock script ${path}: rules.${i}.when.${key}: not a regular expression`, { field: `rules.${i}.when.${key}` });
      }
    }
  }
  return script;
}
