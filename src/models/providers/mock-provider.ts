import { setTimeout as sleep } from "node:timers/promises";
import { APICallError, type LanguageModelV3, type LanguageModelV3CallOptions, type LanguageModelV3Content, type LanguageModelV3GenerateResult, type LanguageModelV3Prompt, type LanguageModelV3StreamPart } from "@ai-sdk/provider";
import { globToRegExp } from "../../core/glob.ts";
import type { ModelProvider } from "../../core/ports/model-provider.ts";
import { MockScriptSchema, type MockReply, type MockRule, type MockScript } from "./mock-script.ts";

/** What the default answer and the token counts are made of. */
interface Conversation {
  input: string;
  system: string;
  lastToolResult: string;
  step: number;
  promptChars: number;
}

/** Tokens the mock reports for a text: characters ÷ 4, rounded up (about right for English). */
export const mockTokens = (chars: number): number => Math.ceil(chars / 4);

/**
 * The offline provider, and the default one: it answers any model name, deterministically, from
 * a script (see `MockScriptSchema`): text, tool calls, token counts, latency and provider errors.
 * Without a script every call gets `Mock answer from <model> to: <input>`. It is a shipped
 * feature — the demo, the tests and the agent gym run on it — not a test double.
 */
export class MockProvider implements ModelProvider {
  readonly name: string;
  readonly kind = "mock" as const;
  readonly baseURL = null;
  readonly #script: MockScript;
  readonly #compiled: Array<{ rule: MockRule; model: RegExp | null; prompt: RegExp | null; system: RegExp | null; calls: number }>;
  /** Calls answered, by model name. */
  readonly calls = new Map<string, number>();

  constructor(options: { name?: string; script?: MockScript } = {}) {
    this.name = options.name ?? "mock";
    this.#script = options.script ?? MockScriptSchema.parse({});
    this.#compiled = this.#script.rules.map((rule) => ({
      rule,
      model: rule.when.model === undefined ? null : globToRegExp(rule.when.model),
      prompt: rule.when.prompt === undefined ? null : new RegExp(rule.when.prompt),
      system: rule.when.system === undefined ? null : new RegExp(rule.when.system),
      calls: 0,
    }));
  }

  languageModel(modelId: string): LanguageModelV3 {
    return {
      specificationVersion: "v3",
      provider: this.name,
      modelId,
      supportedUrls: {},
      doGenerate: (options) => this.#generate(modelId, options),
      doStream: async (options) => {
        const result = await this.#generate(modelId, options);
        return { stream: streamOf(result) };
      },
    };
  }

  async #generate(modelId: string, options: LanguageModelV3CallOptions): Promise<LanguageModelV3GenerateResult> {
    const conversation = read(options.prompt);
    const reply = this.#replyFor(modelId, conversation);
    const latencyMs = reply?.latencyMs ?? this.#script.defaults.latencyMs;
    if (latencyMs > 0) await sleep(latencyMs, undefined, options.abortSignal === undefined ? {} : { signal: options.abortSignal });
    options.abortSignal?.throwIfAborted();
    this.calls.set(modelId, (this.calls.get(modelId) ?? 0) + 1);
    if (reply?.error !== undefined) {
      throw new APICallError({
        message: reply.error.message,
        url: `mock://${this.name}/${modelId}`,
        requestBodyValues: {},
        statusCode: reply.error.status,
        isRetryable: reply.error.status === 429 || reply.error.status >= 500,
      });
    }
    const fill = (text: string): string =>
      text.replaceAll("{{input}}", conversation.input).replaceAll("{{lastToolResult}}", conversation.lastToolResult).replaceAll("{{model}}", modelId).replaceAll("{{step}}", String(conversation.step));
    const content: LanguageModelV3Content[] = [];
    const text = reply === undefined ? `Mock answer from ${modelId} to: ${conversation.input}` : reply.text === undefined ? undefined : fill(reply.text);
    if (text !== undefined) content.push({ type: "text", text });
    for (const [i, call] of (reply?.toolCalls ?? []).entries()) {
      content.push({ type: "tool-call", toolCallId: `call_${conversation.step}_${i}`, toolName: call.name, input: JSON.stringify(fillDeep(call.input, fill)) });
    }
    const outputChars = content.reduce((n, part) => n + (part.type === "text" ? part.text.length : part.type === "tool-call" ? part.toolName.length + part.input.length : 0), 0);
    const inputTokens = reply?.usage?.inputTokens ?? mockTokens(conversation.promptChars);
    const outputTokens = Math.min(reply?.usage?.outputTokens ?? mockTokens(outputChars), options.maxOutputTokens ?? Number.POSITIVE_INFINITY);
    const toolCalls = content.some((part) => part.type === "tool-call");
    return {
      content,
      finishReason: { unified: toolCalls ? "tool-calls" : "stop", raw: toolCalls ? "tool_calls" : "stop" },
      usage: {
        inputTokens: { total: inputTokens, noCache: inputTokens, cacheRead: undefined, cacheWrite: undefined },
        outputTokens: { total: outputTokens, text: outputTokens, reasoning: undefined },
      },
      response: { modelId, timestamp: new Date(0) },
      warnings: [],
    };
  }

  /** The first matching rule's reply for this call; undefined: the default answer. */
  #replyFor(modelId: string, conversation: Conversation): MockReply | undefined {
    for (const compiled of this.#compiled) {
      if (compiled.model !== null && !compiled.model.test(modelId)) continue;
      if (compiled.prompt !== null && !compiled.prompt.test(conversation.input)) continue;
      if (compiled.system !== null && !compiled.system.test(conversation.system)) continue;
      const { rule } = compiled;
      if (rule.reply !== undefined) return rule.reply;
      if (rule.steps !== undefined) return rule.steps[Math.min(conversation.step, rule.steps.length - 1)];
      const sequence = rule.sequence as MockReply[];
      return sequence[Math.min(compiled.calls++, sequence.length - 1)];
    }
    return undefined;
  }
}

function read(prompt: LanguageModelV3Prompt): Conversation {
  let input = "";
  let system = "";
  let lastToolResult = "null";
  let step = 0;
  let promptChars = 0;
  for (const message of prompt) {
    if (message.role === "system") {
      system += message.content;
      promptChars += message.content.length;
      continue;
    }
    if (message.role === "assistant") step++;
    for (const part of message.content) {
      if (part.type === "text") {
        promptChars += part.text.length;
        if (message.role === "user") input = part.text;
      } else if (part.type === "tool-call") {
        promptChars += part.toolName.length + JSON.stringify(part.input ?? null).length;
      } else if (part.type === "tool-result") {
        const output = part.output;
        lastToolResult = output.type === "text" || output.type === "error-text" ? output.value : JSON.stringify("value" in output ? output.value : null);
        promptChars += lastToolResult.length;
      }
    }
  }
  return { input, system, lastToolResult, step, promptChars };
}

function fillDeep(value: unknown, fill: (text: string) => string): unknown {
  if (typeof value === "string") return fill(value);
  if (Array.isArray(value)) return value.map((v) => fillDeep(v, fill));
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillDeep(v, fill)]));
  return value;
}

function streamOf(result: LanguageModelV3GenerateResult): ReadableStream<LanguageModelV3StreamPart> {
  const parts: LanguageModelV3StreamPart[] = [{ type: "stream-start", warnings: [] }];
  for (const [i, part] of result.content.entries()) {
    if (part.type === "text") parts.push({ type: "text-start", id: `t${i}` }, { type: "text-delta", id: `t${i}`, delta: part.text }, { type: "text-end", id: `t${i}` });
    else if (part.type === "tool-call") parts.push(part);
  }
  parts.push({ type: "finish", usage: result.usage, finishReason: result.finishReason });
  return new ReadableStream({
    start(controller) {
      for (const part of parts) controller.enqueue(part);
      controller.close();
    },
  });
}
