import type { LanguageModelV3 } from "@ai-sdk/provider";

/**
 * A source of language models (DESIGN.md `models/`): the mock, an OpenAI-compatible endpoint,
 * Anthropic. Models are the AI SDK's `LanguageModelV3`, the interface every AI SDK provider
 * implements, so the router calls them all the same way and a new provider is one adapter.
 */
export interface ModelProvider {
  /** The prefix of the model names it serves: `openrouter` serves `openrouter:qwen2-72b`. */
  readonly name: string;
  readonly kind: "mock" | "openai-compatible" | "anthropic";
  /** Where it sends calls (shown to operators; never a key). */
  readonly baseURL: string | null;
  /** The model `modelId` (the name without this provider's prefix). */
  languageModel(modelId: string): LanguageModelV3;
}
