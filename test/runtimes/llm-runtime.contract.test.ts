// Runs the AgentRuntime contract against the llm runtime: the contract agent as a script of the shipped mock
// provider, its calls through a real ModelRouter paying from a real ledger (on the in-memory store).
import { resolve } from "node:path";
import { createMemoryStore } from "../../src/adapters/store/memory/memory-store.ts";
import { FactoryError } from "../../src/core/errors.ts";
import type { ModelProvider } from "../../src/core/ports/model-provider.ts";
import { Ledger } from "../../src/economics/ledger.ts";
import { PricingTable } from "../../src/economics/pricing.ts";
import { BudgetGuard } from "../../src/models/budget-guard.ts";
import { ModelsConfigSchema } from "../../src/models/models-config.ts";
import { DEFAULT_RULES } from "../../src/models/policy.ts";
import { MockProvider } from "../../src/models/providers/mock-provider.ts";
import { loadMockScript } from "../../src/models/providers/mock-script.ts";
import { ModelRouter } from "../../src/models/router.ts";
import { LlmRuntime } from "../../src/runtimes/llm/llm-runtime.ts";
import { Journal } from "../../src/state/journal.ts";
import { profileRecord, runtimeContract } from "../conformance/runtime.conformance.ts";

const script = loadMockScript(resolve(import.meta.dirname, "../fixtures/contract-mock-script.yaml"));
const MODEL = "mock:contract";
/** Who pays the contract agent's calls (the factory's payer is the crew's or the agent's wallet). */
const PAYER = "0x371_CONTRACT_00000000000000000000000000000000";
/** The loop's result for one answer of the script's echo rule: 10 tokens in, 5 out, at the default price (1 and 2 credits per 1,000). */
const answered = (output: string) => ({ output, steps: 1, models: [MODEL], usage: { calls: 1, inputTokens: 10, outputTokens: 5 }, cost: 0.02 });
/** An llm agent's body is the model's tool loop in the factory's process: no code of its own, no process, nothing kept. */
const loop = "an llm agent is the model's tool loop in the factory's process";

runtimeContract({
  kind: "llm",
  async create() {
    const store = createMemoryStore();
    await store.migrate();
    const journal = new Journal(store, (error) => {
      throw error;
    });
    const ledger = new Ledger(journal);
    ledger.grant(PAYER, 1_000);
    const models = ModelsConfigSchema.parse({});
    // The mock as it is, watched: the prompts it is answering now (a hang op is inside its call once it is here).
    const mock = new MockProvider({ script });
    const answering = new Set<string>();
    const watched: ModelProvider = {
      name: mock.name,
      kind: mock.kind,
      baseURL: mock.baseURL,
      languageModel(modelId) {
        const model = mock.languageModel(modelId);
        return {
          ...model,
          async doGenerate(options) {
            const prompt = JSON.stringify(options.prompt);
            answering.add(prompt);
            try {
              return await model.doGenerate(options);
            } finally {
              answering.delete(prompt);
            }
          },
        };
      },
    };
    const router = new ModelRouter({
      providers: [watched],
      pricing: new PricingTable(models.pricing, models.defaultPrice),
      rules: DEFAULT_RULES,
      guard: new BudgetGuard(ledger),
      callTimeoutMs: models.callTimeoutMs,
      cooldown: models.cooldown,
      maxOutputTokens: models.maxOutputTokens,
    });
    return {
      runtime: new LlmRuntime(),
      profile: profileRecord({
        name: "contract",
        role: "Contract",
        cognitiveLoadLimit: 4,
        runtime: { kind: "llm", model: MODEL, systemPrompt: "You keep the runtime contract.", maxSteps: 3, tools: [] },
      }),
      lend: {
        models: { call: (taskId, request) => router.call({ ...request, payer: PAYER, scope: { crewId: null, agentId: null }, taskId }) },
        // The contract agent is given no tools, so it never submits sub-tasks; start still requires the factory to lend them.
        tasks: {
          submit: () => Promise.reject(new FactoryError("VALIDATION_FAILED", "the runtime contract lends no sub-tasks")),
          wait: () => Promise.reject(new FactoryError("VALIDATION_FAILED", "the runtime contract lends no sub-tasks")),
        },
      },
      hanging: () => [...answering].some((prompt) => prompt.includes("hang")),
      async cleanup() {
        journal.close();
        await store.close();
      },
    };
  },
  expect: {
    echo: (text) => answered(JSON.stringify({ op: "echo", text })),
    // The agent's failures are the loop's: a provider error is MODEL_UNAVAILABLE (retryable); a loop that never answers, LLM_MAX_STEPS (final).
    failure: (_message, retryable) =>
      retryable
        ? { code: "MODEL_UNAVAILABLE", message: `every model of rule 'pinned' failed: ${MODEL} (provider mock): HTTP 503: the provider is down`, nonRetryable: false }
        : { code: "LLM_MAX_STEPS", message: "no answer after 3 model calls (runtime.maxSteps)", nonRetryable: true },
    aborted: (reason) => ({ code: reason.code, message: reason.message, nonRetryable: false }),
    // The loop reports each step itself (fraction: step ÷ maxSteps); the agent has no other way to.
    progress: (message, fraction, text) => ({ calls: [[`step 1: ${MODEL} answered`, 1 / 3]], result: answered(JSON.stringify({ op: "progress", message, fraction, text })) }),
    liveness: undefined,
    pid: false,
    optional: { kill: false, suspend: false, freeze: false, close: false, forget: false, stats: false },
  },
  can: {
    signals: { lacks: `${loop}: it has no code to receive a signal (the model sees tasks only)` },
    context: { lacks: `${loop}: its memory is one task's conversation; it neither starts from nor saves an agent context (crew context goes through its tools)` },
    logs: { lacks: `${loop}: it has no log stream; each step is a progress report` },
    die: { lacks: `${loop}: it cannot die without the factory, so there is no loss to report` },
    keeps: { lacks: `${loop}: it holds nothing between tasks` },
    stats: { lacks: `${loop}: the model router counts its calls (modelsInfo), not the runtime` },
  },
});
