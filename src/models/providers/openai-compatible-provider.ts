import type { LanguageModelV3 } from "@ai-sdk/provider";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import type { ModelProvider } from "../../core/ports/model-provider.ts";

/**
 * Any OpenAI-compatible chat endpoint — OpenAI, OpenRouter, LocalAI, Ollama, vLLM, LM Studio —
 * by base URL, through the AI SDK's provider (requests, streaming, tool calls and usage are its
 * code, not ours).
 */
export class OpenAICompatibleProvider implements ModelProvider {
  readonly name: string;
  readonly kind = "openai-compatible" as const;
  readonly baseURL: string;
  readonly #provider: ReturnType<typeof createOpenAICompatible>;

  constructor(options: { name: string; baseURL: string; apiKey?: string; headers?: Record<string, string>; fetch?: typeof fetch }) {
    this.name = options.name;
    this.baseURL = options.baseURL;
    this.#provider = createOpenAICompatible({
      name: options.name,
      baseURL: options.baseURL,
      // Usage in streamed answers too: every call's tokens are charged.
      includeUsage: true,
      ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    });
  }

  languageModel(modelId: string): LanguageModelV3 {
    return this.#provider.chatModel(modelId);
  }
}
