import { FactoryError, isFactoryError } from "../core/errors.ts";
import type { ModelCallRequest, ModelCallResult } from "../core/model-call.ts";
import type { ModelProvider } from "../core/ports/model-provider.ts";
import type { PricingTable } from "../economics/pricing.ts";
import type { BudgetGuard, SizedHold } from "./budget-guard.ts";
import { OutputEstimate } from "./output-estimate.ts";
import { route, type RouteDecision, type RouteRule } from "./policy.ts";
import { MockProvider } from "./providers/mock-provider.ts";
import { Hook } from "../core/hook.ts";
// Types only: the SDK itself is loaded on the first call (import("ai") below), not at start.
import type * as Ai from "ai";

type GenerateTextOptions = Parameters<typeof Ai.generateText>[0];

/** A provider's recent record: failures in a row decide its cooldown. */
interface ProviderHealth {
  calls: number;
  failures: number;
  consecutiveFailures: number;
  coolingDownUntil: number;
}

export interface ProviderStatus {
  name: string;
  kind: ModelProvider["kind"];
  baseURL: string | null;
  servesAll: boolean;
  calls: number;
  failures: number;
  consecutiveFailures: number;
  coolingDownUntil: string | null;
}

export interface ModelRouterOptions {
  /** Empty: a mock provider serves every model name. */
  providers: readonly ModelProvider[];
  /** Per provider name: serves every unclaimed name (`*`), and the one model it sends calls to. */
  providerSettings?: ReadonlyMap<string, { serves?: "*"; model?: string }>;
  pricing: PricingTable;
  rules: readonly RouteRule[];
  guard: BudgetGuard;
  callTimeoutMs: number;
  cooldown: { failures: number; ms: number };
  maxOutputTokens: number;
  /** How long a call may wait for other calls' holds to settle before its budget refuses it (0: never waits). */
  budgetWaitMs?: number;
  now?: () => number;
  /** A fallback or a cooldown happened (for the event stream and the log); `model` is the model as served. */
  onNotice?: (notice: { type: "model.fallback" | "model.cooldown"; data: Record<string, unknown> }) => void;
}

/**
 * The model router (DESIGN.md `models/`). Per call: the rules pick a chain (model, then
 * fallbacks); models of providers cooling down are skipped; for each model tried, the call's
 * cost is estimated from its price and reserved through the budget guard **before** the call,
 * the call is made with a timeout, and the real cost (tokens × price) is settled after. The
 * reservation is sized to the budget: when the whole `maxOutputTokens` does not fit, the call's
 * output cap is lowered (to the model's usual answer length, or to what is left), and the
 * provider is told that cap, so the settled cost can never exceed the hold. A
 * failure releases the reservation and moves to the next model; a provider that fails
 * `cooldown.failures` times in a row is skipped for `cooldown.ms` (LiteLLM's "cooldown after
 * 3 fails"). Calls go through the AI SDK's `generateText`, one step at a time: the agent's tool
 * loop is the caller's, so every step is routed, reserved and settled on its own.
 */
export class ModelRouter {
  readonly #options: ModelRouterOptions;
  readonly #providers: ReadonlyMap<string, ModelProvider>;
  readonly #catchAll: ModelProvider | undefined;
  readonly #health = new Map<string, ProviderHealth>();
  readonly #now: () => number;
  #sdk: Promise<typeof Ai> | undefined;
  /** Credits calls cost beyond what was reserved (an estimate that fell short), never charged. */
  #uncoveredMicro = 0;
  /** How long each model's answers usually are, for sizing holds under a tight budget. */
  readonly #outputs = new OutputEstimate();
  /** Each call's outcome, once it is decided. */
  readonly called = new Hook<
    [call: { model: string; outcome: string; inputTokens: number; outputTokens: number; cost: number; ms: number; taskId: string | null; agentId: string | null; crewId: string | null }]
  >();

  constructor(options: ModelRouterOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const providers = options.providers.length > 0 ? options.providers : [new MockProvider()];
    this.#providers = new Map(providers.map((p) => [p.name, p]));
    // One configured provider serves every name (the rules' default names included): a user who
    // configured one endpoint means every call to go there, not MODEL_UNKNOWN for `openrouter:…`.
    this.#catchAll = providers.length === 1 ? providers[0] : providers.find((p) => options.providerSettings?.get(p.name)?.serves === "*");
    for (const p of providers) this.#health.set(p.name, { calls: 0, failures: 0, consecutiveFailures: 0, coolingDownUntil: 0 });
  }

  get rules(): readonly RouteRule[] {
    return this.#options.rules;
  }

  get pricing(): PricingTable {
    return this.#options.pricing;
  }

  /** `baseURL` as shown to operators: without credentials a URL may carry. */
  static shown(url: string | null): string | null {
    if (url === null) return null;
    try {
      const parsed = new URL(url);
      parsed.username = "";
      parsed.password = "";
      return parsed.toString().replace(/\/$/, "");
    } catch {
      return url;
    }
  }

  /** Which chain a call would get, by which rule and why (the explain route). */
  explain(request: { metadata?: Readonly<Record<string, unknown>>; estimatedInputTokens: number; budgetFraction: number | null }): RouteDecision {
    return route(this.#options.rules, { metadata: request.metadata ?? {}, estimatedInputTokens: request.estimatedInputTokens, budgetFraction: request.budgetFraction });
  }

  /** The provider for a model name and the model id it is sent as; throws MODEL_UNKNOWN. */
  resolve(model: string): { provider: ModelProvider; modelId: string } {
    const colon = model.indexOf(":");
    const prefixed = colon > 0 ? this.#providers.get(model.slice(0, colon)) : undefined;
    const provider = prefixed ?? this.#catchAll;
    if (provider === undefined) {
      throw new FactoryError("MODEL_UNKNOWN", `no provider serves '${model}': name a configured provider as its prefix (${[...this.#providers.keys()].join(", ")}) or give one provider serves: "*"`, {
        nonRetryable: true,
        field: "model",
      });
    }
    const forced = this.#options.providerSettings?.get(provider.name)?.model;
    // The mock sees whole names, so scripts can match `openrouter:*`.
    const modelId = forced ?? (provider.kind === "mock" ? model : prefixed !== undefined || colon > 0 ? model.slice(colon + 1) : model);
    return { provider, modelId };
  }

  providers(): ProviderStatus[] {
    const now = this.#now();
    return [...this.#providers.values()].map((p) => {
      const h = this.#health.get(p.name) as ProviderHealth;
      return {
        name: p.name,
        kind: p.kind,
        baseURL: ModelRouter.shown(p.baseURL),
        servesAll: p === this.#catchAll,
        calls: h.calls,
        failures: h.failures,
        consecutiveFailures: h.consecutiveFailures,
        coolingDownUntil: h.coolingDownUntil > now ? new Date(h.coolingDownUntil).toISOString() : null,
      };
    });
  }

  stats(): { calls: number; uncoveredCredits: number } {
    let calls = 0;
    for (const h of this.#health.values()) calls += h.calls;
    return { calls, uncoveredCredits: this.#uncoveredMicro / 1_000_000 };
  }

  /** A rough upper estimate of a call's input tokens: characters ÷ 3 (tokens average ~4). */
  estimateInputTokens(request: Pick<ModelCallRequest, "system" | "messages" | "tools">): number {
    const chars = (request.system?.length ?? 0) + JSON.stringify(request.messages).length + (request.tools === undefined ? 0 : JSON.stringify(request.tools).length);
    return Math.ceil(chars / 3) + 8 * request.messages.length;
  }

  /**
   * One model call: routed by the rules (or pinned), budget held, fallbacks tried in order, the
   * payer charged. Each call's outcome goes to `called` (metrics): the model that answered (the
   * first asked, when none did), `ok` or the error code, tokens, credits and how long it took.
   */
  async call(request: ModelCallRequest): Promise<ModelCallResult> {
    const started = this.#now();
    const who = { taskId: request.taskId ?? null, agentId: request.scope.agentId, crewId: request.scope.crewId };
    try {
      const result = await this.#call(request);
      this.called.emit({ model: result.model, outcome: "ok", inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens, cost: result.cost, ms: this.#now() - started, ...who });
      return result;
    } catch (error) {
      const model = request.model ?? (error instanceof FactoryError && typeof error.details?.attempts === "object" ? String((error.details.attempts as Array<{ model: string }>)[0]?.model ?? "none") : "none");
      this.called.emit({ model, outcome: isFactoryError(error) ? error.code : "ERROR", inputTokens: 0, outputTokens: 0, cost: 0, ms: this.#now() - started, ...who });
      throw error;
    }
  }

  async #call(request: ModelCallRequest): Promise<ModelCallResult> {
    const estimatedInputTokens = this.estimateInputTokens(request);
    const decision: RouteDecision =
      request.model !== undefined
        ? { model: request.model, fallbacks: [], rule: "pinned", reason: "the agent's profile names its model" }
        : this.explain({ ...(request.metadata === undefined ? {} : { metadata: request.metadata }), estimatedInputTokens, budgetFraction: request.budgetFraction ?? null });
    const chain = [decision.model, ...decision.fallbacks];
    const now = this.#now();
    const coolingDown = (name: string): boolean => (this.#health.get(name) as ProviderHealth).coolingDownUntil > now;
    const failedAttempts: ModelCallResult["failedAttempts"] = [];
    const candidates: Array<{ model: string; provider: ModelProvider; modelId: string; served: string }> = [];
    for (const model of chain) {
      let resolved;
      try {
        resolved = this.resolve(model);
      } catch {
        // An unknown fallback is skipped (and said so); it does not sink the call.
        failedAttempts.push({ model, provider: null, error: "no provider serves it" });
        continue;
      }
      // Priced, recorded and reported as served: a catch-all provider's forced model is what is
      // called and paid for. Two names served as the same model are one attempt, not a fallback.
      const served = resolved.provider.kind === "mock" ? resolved.modelId : `${resolved.provider.name}:${resolved.modelId}`;
      if (!candidates.some((c) => c.served === served)) candidates.push({ model, ...resolved, served });
    }
    if (candidates.length === 0) this.resolve(decision.model); // throws MODEL_UNKNOWN, naming the providers
    const usable = candidates.filter((c) => !coolingDown(c.provider.name));
    if (usable.length === 0) {
      const until = Math.min(...candidates.map((c) => (this.#health.get(c.provider.name) as ProviderHealth).coolingDownUntil));
      const tried = candidates.map((c) => c.served);
      throw new FactoryError("MODEL_UNAVAILABLE", `every model of rule '${decision.rule}' (${tried.join(", ")}) is on a provider cooling down until ${new Date(until).toISOString()}`, {
        details: { rule: decision.rule, models: tried, retryAt: new Date(until).toISOString() },
      });
    }
    const { generateText, jsonSchema } = await (this.#sdk ??= import("ai"));
    const tools =
      request.tools === undefined ? undefined : Object.fromEntries(Object.entries(request.tools).map(([name, t]) => [name, { description: t.description, inputSchema: jsonSchema(t.inputSchema) }]));
    const askedOutputTokens = request.maxOutputTokens ?? this.#options.maxOutputTokens;
    let refused: FactoryError | undefined;
    let providerFailed = false;
    // Two passes over the chain under a tight budget: first each model only as long as its answers
    // usually are (a cheaper fallback that fits beats a cut-short answer of the first choice);
    // then the models the budget refused, with the output cap lowered to whatever fits.
    const deadline = this.#now() + (this.#options.budgetWaitMs ?? 0);
    let pass: Array<(typeof usable)[number]> = usable;
    for (const truncate of ["usual", "any"] as const) {
      const overBudget: typeof pass = [];
      let passRefused: FactoryError | undefined;
      for (const { provider, modelId, served, model } of pass) {
        request.signal?.throwIfAborted();
        const health = this.#health.get(provider.name) as ProviderHealth;
        if (health.coolingDownUntil > this.#now()) {
          failedAttempts.push({ model: served, provider: provider.name, error: "provider cooling down" });
          continue;
        }
        let sized: SizedHold;
        try {
          sized = await this.#options.guard.reserveCall(
            request.payer,
            request.scope,
            {
              maxOutputTokens: askedOutputTokens,
              usualOutputTokens: () => this.#outputs.expected(served),
              truncate,
              costMicro: (outputTokens) => Math.round(this.#options.pricing.cost(served, estimatedInputTokens, outputTokens) * 1_000_000),
            },
            { waitMs: Math.max(0, deadline - this.#now()), ...(request.signal === undefined ? {} : { signal: request.signal }), details: { model: served, taskId: request.taskId ?? null } },
          );
        } catch (error) {
          // This model does not fit the budget; a cheaper one further down the chain may.
          if (!isFactoryError(error) || error.code !== "BUDGET_EXCEEDED") throw error;
          passRefused ??= error;
          overBudget.push({ provider, modelId, served, model });
          // The second pass's refusal is the final word on a model: one entry per model.
          const earlier = failedAttempts.findIndex((a) => a.model === served && a.provider === provider.name);
          if (earlier >= 0) failedAttempts.splice(earlier, 1);
          failedAttempts.push({ model: served, provider: provider.name, error: error.message });
          continue;
        }
        // A model held on the second pass was not refused after all: what happens now is its entry.
        const earlier = failedAttempts.findIndex((a) => a.model === served && a.provider === provider.name);
        if (truncate === "any" && earlier >= 0) failedAttempts.splice(earlier, 1);
        const answer = await this.#attempt(request, decision, { provider, modelId, served }, sized, askedOutputTokens, tools, generateText, failedAttempts);
        if (answer !== undefined) return answer;
        providerFailed = true;
      }
      refused = passRefused ?? refused;
      if (overBudget.length === 0) break;
      pass = overBudget;
    }
    // Nothing failed but the budget: the call cannot be paid for, and retrying will not help.
    if (refused !== undefined && !providerFailed) throw refused;
    throw new FactoryError("MODEL_UNAVAILABLE", `every model of rule '${decision.rule}' failed: ${failedAttempts.map((a) => `${a.model}${a.provider === null ? "" : ` (provider ${a.provider})`}: ${a.error}`).join("; ")}`, {
      details: { rule: decision.rule, attempts: failedAttempts },
    });
  }

  /**
   * One model's call under a hold already taken: settled with the real cost on an answer;
   * released on a failure, which is recorded (attempts, health, cooldown, a notice) and answers
   * undefined so the caller moves on. A cancelled caller's abort is thrown, not recorded.
   */
  async #attempt(
    request: ModelCallRequest,
    decision: RouteDecision,
    { provider, modelId, served }: { provider: ModelProvider; modelId: string; served: string },
    { hold, maxOutputTokens }: SizedHold,
    askedOutputTokens: number,
    tools: GenerateTextOptions["tools"],
    generateText: typeof Ai.generateText,
    failedAttempts: ModelCallResult["failedAttempts"],
  ): Promise<ModelCallResult | undefined> {
    const health = this.#health.get(provider.name) as ProviderHealth;
    const timeout = AbortSignal.timeout(this.#options.callTimeoutMs);
    const signal = request.signal === undefined ? timeout : AbortSignal.any([request.signal, timeout]);
    health.calls++;
    try {
      const result = await generateText({
        model: provider.languageModel(modelId),
        ...(request.system === undefined ? {} : { system: request.system }),
        messages: request.messages,
        ...(tools === undefined ? {} : { tools }),
        // What the hold pays for: lower than asked when the budget is tight.
        maxOutputTokens,
        // Fallbacks are ours: one attempt per model, then the next in the chain.
        maxRetries: 0,
        abortSignal: signal,
      });
      const usage = { inputTokens: result.usage.inputTokens ?? 0, outputTokens: result.usage.outputTokens ?? 0 };
      const cost = this.#options.pricing.cost(served, usage.inputTokens, usage.outputTokens);
      // Learnt before settling: the calls this settlement lets through are sized with it.
      this.#outputs.record(served, usage.outputTokens, maxOutputTokens, askedOutputTokens);
      const charged = this.#options.guard.settle(hold, cost, { model: served, tokensIn: usage.inputTokens, tokensOut: usage.outputTokens, taskId: request.taskId ?? null });
      if (cost > charged) this.#uncoveredMicro += Math.round((cost - charged) * 1_000_000);
      health.consecutiveFailures = 0;
      return {
        model: served,
        rule: decision.rule,
        reason: decision.reason,
        text: result.text,
        toolCalls: result.toolCalls.map((c) => ({ toolCallId: c.toolCallId, toolName: c.toolName, input: c.input as unknown })),
        // The SDK answers a tool call it could not parse with a tool message of its own; the
        // caller answers every tool call itself, and a second answer is an error to providers.
        responseMessages: result.response.messages.filter((m) => m.role !== "tool"),
        finishReason: result.finishReason,
        usage,
        maxOutputTokens,
        cost: charged,
        failedAttempts,
      };
    } catch (error) {
      this.#options.guard.release(hold);
      // The caller gave up (cancel, task timeout): not the provider's fault, no fallback.
      if (request.signal?.aborted === true) throw error;
      if (isFactoryError(error)) throw error;
      const message = timeout.aborted ? `no answer within ${this.#options.callTimeoutMs} ms` : errorText(error);
      failedAttempts.push({ model: served, provider: provider.name, error: message });
      health.failures++;
      health.consecutiveFailures++;
      if (health.consecutiveFailures >= this.#options.cooldown.failures && this.#options.cooldown.ms > 0) {
        health.coolingDownUntil = this.#now() + this.#options.cooldown.ms;
        health.consecutiveFailures = 0;
        this.#options.onNotice?.({ type: "model.cooldown", data: { provider: provider.name, until: new Date(health.coolingDownUntil).toISOString(), lastError: message } });
      }
      this.#options.onNotice?.({ type: "model.fallback", data: { model: served, provider: provider.name, baseURL: ModelRouter.shown(provider.baseURL), error: message, taskId: request.taskId ?? null } });
      return undefined;
    }
  }
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const status = (error as { statusCode?: unknown }).statusCode;
    return `${typeof status === "number" ? `HTTP ${status}: ` : ""}${error.message}`.slice(0, 500);
  }
  return String(error).slice(0, 500);
}
