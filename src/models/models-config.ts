import { z } from "zod";
import { RouteRulesSchema } from "./policy.ts";
import type { Price } from "../economics/pricing.ts";

/**
 * A model provider in the server config. Model names are `provider:model`; a name whose prefix
 * is a provider's `name` goes to that provider. `serves: "*"` also takes every name no provider
 * claims by prefix (so one OpenAI-compatible endpoint can serve the default rules); `model`
 * then sends every call to that one model. Keys come from `apiKeyEnv` (an environment variable,
 * read at start) or `apiKey`; neither is ever logged or returned.
 */
export const ProviderConfigSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "must be lowercase letters, digits, '.', '_' or '-'"),
    kind: z.enum(["mock", "openai-compatible", "anthropic"]),
    /** openai-compatible: required (e.g. http://127.0.0.1:11434/v1 for Ollama); anthropic: optional. */
    baseURL: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
    apiKeyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name").optional(),
    apiKey: z.string().min(1).max(4_096).optional(),
    headers: z.record(z.string(), z.string().max(4_096)).optional(),
    serves: z.literal("*").optional(),
    model: z.string().min(1).max(200).optional(),
    /** mock: a script file (YAML/JSON) of scripted answers. */
    script: z.string().min(1).max(4_096).optional(),
  })
  .refine((p) => p.kind !== "openai-compatible" || p.baseURL !== undefined, { message: "an openai-compatible provider needs baseURL", path: ["baseURL"] })
  .refine((p) => p.kind === "mock" || p.script === undefined, { message: "only a mock provider takes a script", path: ["script"] });
export type ProviderConfig = z.output<typeof ProviderConfigSchema>;

/** Credits per 1,000 tokens in and out. */
export const PriceSchema = z.strictObject({
  input: z.number().min(0).max(1_000_000),
  output: z.number().min(0).max(1_000_000),
}) satisfies z.ZodType<Price>;
export type { Price };

/** Budget limits set at start (they can be changed later through /v1/budgets). */
export const BudgetConfigSchema = z.strictObject({
  key: z.string().regex(/^(global|crew:[A-Za-z0-9_-]{1,64}|agent:[A-Za-z0-9_-]{1,64})$/, "must be global, crew:<id> or agent:<id>"),
  credits: z.number().min(0).max(1_000_000_000),
  periodMs: z.number().int().min(1_000).max(31_622_400_000).nullable().default(null),
});
export type BudgetConfig = z.output<typeof BudgetConfigSchema>;

/**
 * The server's model settings (`serve --config FILE`). Everything is optional: with no
 * providers the mock serves every model name and the server works offline.
 */
export const ModelsConfigSchema = z.strictObject({
  providers: z.array(ProviderConfigSchema).max(64).default([]),
  /**
   * Prices by model name; `*` in a name matches any run of characters, the most specific
   * (longest) pattern wins. Models priced nowhere cost `defaultPrice`.
   */
  pricing: z.record(z.string().min(1).max(200), PriceSchema).default({}),
  defaultPrice: PriceSchema.default({ input: 1, output: 2 }),
  rules: RouteRulesSchema.optional(),
  budgets: z.array(BudgetConfigSchema).max(10_000).default([]),
  /** A call that has not answered after this long fails over to the next model. */
  callTimeoutMs: z.number().int().min(100).max(600_000).default(60_000),
  /** Failures in a row after which a provider cools down, and for how long. */
  cooldown: z.strictObject({ failures: z.number().int().min(1).max(1_000).default(3), ms: z.number().int().min(0).max(3_600_000).default(30_000) }).default({ failures: 3, ms: 30_000 }),
  /** Output tokens per call unless a profile says otherwise (what the budget guard reserves for when the budget holds it). */
  maxOutputTokens: z.number().int().min(1).max(1_000_000).default(1_024),
  /** How long a call may wait for other calls' holds to settle before its budget refuses it (0: never waits). */
  budgetWaitMs: z.number().int().min(0).max(600_000).default(5_000),
});
export type ModelsConfig = z.output<typeof ModelsConfigSchema>;
export type ModelsConfigInput = z.input<typeof ModelsConfigSchema>;
