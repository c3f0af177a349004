import { FactoryError } from "../../core/errors.ts";
import type { ModelProvider } from "../../core/ports/model-provider.ts";
import type { ProviderConfig } from "../models-config.ts";
import { MockProvider } from "./mock-provider.ts";
import { loadMockScript } from "./mock-script.ts";

/**
 * Builds the configured providers. Adapters for remote providers are imported only when one is
 * configured (the AI SDK packages cost ~100 ms to load); a missing key is an error at start,
 * naming the variable, rather than a failure on the first call.
 */
export async function createProviders(configs: readonly ProviderConfig[], env: NodeJS.ProcessEnv = process.env): Promise<ModelProvider[]> {
  const providers: ModelProvider[] = [];
  const names = new Set<string>();
  for (const [i, config] of configs.entries()) {
    if (names.has(config.name)) throw new FactoryError("VALIDATION_FAILED", `providers.${i}.name: '${config.name}' is named twice`, { field: `providers.${i}.name` });
    names.add(config.name);
    let apiKey = config.apiKey;
    if (config.apiKeyEnv !== undefined) {
      apiKey = env[config.apiKeyEnv];
      if (apiKey === undefined || apiKey === "") {
        throw new FactoryError("VALIDATION_FAILED", `providers.${i}.apiKeyEnv: the environment variable ${config.apiKeyEnv} is not set`, { field: `providers.${i}.apiKeyEnv` });
      }
    }
    const common = { name: config.name, ...(apiKey === undefined ? {} : { apiKey }), ...(config.headers === undefined ? {} : { headers: config.headers }) };
    switch (config.kind) {
      case "mock":
        providers.push(new MockProvider({ name: config.name, ...(config.script === undefined ? {} : { script: loadMockScript(config.script) }) }));
        break;
      case "openai-compatible": {
        const { OpenAICompatibleProvider } = await import("./openai-compatible-provider.ts");
        providers.push(new OpenAICompatibleProvider({ ...common, baseURL: config.baseURL as string }));
        break;
      }
      case "anthropic": {
        if (apiKey === undefined && (env.ANTHROPIC_API_KEY ?? "") === "") {
          throw new FactoryError("VALIDATION_FAILED", `providers.${i}: an anthropic provider needs a key: apiKeyEnv, apiKey, or ANTHROPIC_API_KEY in the environment`, { field: `providers.${i}.apiKeyEnv` });
        }
        const { AnthropicProvider } = await import("./anthropic-provider.ts");
        providers.push(new AnthropicProvider({ ...common, ...(config.baseURL === undefined ? {} : { baseURL: config.baseURL }) }));
        break;
      }
    }
  }
  return providers;
}
