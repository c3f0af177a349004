import type { LanguageModelV3 } from "@ai-sdk/provider";
import { createAnthropic } from "@ai-sdk/anthropic";
import type { ModelProvider } from "../../core/ports/model-provider.ts";

/** Anthropic's Messages API through the AI SDK's provider; `baseURL` for a proxy or a local stand-in. */
export class AnthropicProvider implements ModelProvider {
  readonly name: string;
  readonly kind = "anthropic" as const;
  readonly baseURL: string;
  readonly #provider: ReturnType<typeof createAnthropic>;

  constructor(options: { name: string; baseURL?: string; apiKey?: string; headers?: Record<string, string>; fetch?: typeof fetch }) {
    this.name = options.name;
    this.baseURL = options.baseURL ?? "https://api.anthropic.com/v1";
    this.#provider = createAnthropic({
      name: options.name,
      baseURL: this.baseURL,
      ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    });
  }

  languageModel(modelId: string): LanguageModelV3 {
    return this.#provider.languageModel(modelId);
  }
}
