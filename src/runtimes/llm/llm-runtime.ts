import type { ModelMessage } from "ai";
import { z } from "zod";
import type { Agent } from "../../core/agent.ts";
import { FactoryError, isFactoryError } from "../../core/errors.ts";
import type { ModelTool, ToolCall } from "../../core/model-call.ts";
import type { AgentHandle, AgentRuntime, AgentServices, RunContext } from "../../core/ports/runtime.ts";
import { LLM_TOOLS, type LlmRuntimeSchema, type ProfileRecord } from "../../core/schemas/profile.ts";

type LlmSpec = z.output<typeof LlmRuntimeSchema>;
type LlmToolName = (typeof LLM_TOOLS)[number];

/** What an llm agent's task result holds. */
export interface LlmResult {
  output: string;
  steps: number;
  /** Models that answered, in order of first use. */
  models: string[];
  usage: { calls: number; inputTokens: number; outputTokens: number };
  /** Credits this attempt's calls cost. */
  cost: number;
}

/** The built-in tools, as the model sees them. */
const TOOL_DEFINITIONS: Record<LlmToolName, ModelTool> = {
  context_read: {
    description: "Read the crew's shared context: the value under `key`, or the list of keys when no key is given.",
    inputSchema: { type: "object", properties: { key: { type: "string", description: "the context key" } }, additionalProperties: false },
  },
  context_write: {
    description: "Write a value (any JSON) under `key` in the crew's shared context, for the other members to read.",
    inputSchema: { type: "object", properties: { key: { type: "string" }, value: { description: "any JSON value" } }, required: ["key", "value"], additionalProperties: false },
  },
  submit_task: {
    description:
      "Give a sub-task to another role of the crew. With wait (default true) the tool returns the sub-task's result when it is done; otherwise its id at once.",
    inputSchema: {
      type: "object",
      properties: {
        role: { type: "string", description: "the role that should do it" },
        input: { description: "what the sub-task gets (text or JSON)" },
        wait: { type: "boolean", description: "wait for the result (default true)" },
        timeoutMs: { type: "integer", minimum: 1, description: "how long the sub-task may run" },
      },
      required: ["role", "input"],
      additionalProperties: false,
    },
  },
};

const ContextReadInput = z.strictObject({ key: z.string().min(1).max(256).optional() });
const ContextWriteInput = z.strictObject({ key: z.string().min(1).max(256), value: z.unknown() });
const SubmitTaskInput = z.strictObject({
  role: z.string().min(1).max(64),
  input: z.unknown(),
  wait: z.boolean().default(true),
  timeoutMs: z.number().int().min(1).max(3_600_000).optional(),
});

/** How long `submit_task` waits for a sub-task without its own timeout. */
const DEFAULT_SUBTASK_WAIT_MS = 60_000;
/**
 * While a model call or a sub-task is awaited, progress is reported this often: waiting on a
 * provider or a sub-task is progress, not a stuck agent (the default stuck threshold is 30 s).
 */
const WAITING_PULSE_MS = 10_000;

/**
 * Agents whose body is a tool-calling loop over the model router (DESIGN.md `runtimes/llm`).
 * Each step is one model call — routed by policy, reserved and settled against the budgets —
 * then the tools it asked for run and their results go back to the model, until it answers
 * with text or `maxSteps` calls have been made. Every step is a `task.progress` event.
 */
export class LlmRuntime implements AgentRuntime {
  readonly kind = "llm";

  validate(profile: Pick<ProfileRecord, "runtime">): void {
    if (profile.runtime.kind !== "llm") throw new FactoryError("VALIDATION_FAILED", "runtime.kind: not an llm runtime", { field: "runtime.kind" });
  }

  async start(_agent: Readonly<Agent>, profile: ProfileRecord, services: AgentServices): Promise<AgentHandle> {
    this.validate(profile);
    if (services.models === undefined || services.tasks === undefined) throw new FactoryError("AGENT_START_FAILED", "this factory lends llm agents no model router");
    return new LlmAgentHandle(profile.runtime as LlmSpec, services);
  }
}

class LlmAgentHandle implements AgentHandle {
  readonly #spec: LlmSpec;
  readonly #services: AgentServices;
  readonly #tools: Record<string, ModelTool>;

  constructor(spec: LlmSpec, services: AgentServices) {
    this.#spec = spec;
    this.#services = services;
    const names = (spec.tools ?? [...LLM_TOOLS]).filter((name) => services.crew !== null || (name !== "context_read" && name !== "context_write"));
    this.#tools = Object.fromEntries(names.map((name) => [name, TOOL_DEFINITIONS[name]]));
  }

  async run(input: unknown, context: RunContext): Promise<LlmResult> {
    try {
      return await this.#loop(input, context);
    } catch (error) {
      // Aborted between calls, the loop throws the signal's reason; aborted during a model call, the
      // SDK's bare AbortError. The dispatcher tells the echo of its own abort (cancel, timeout, stuck,
      // shutdown) from an agent's late answer by that reason's code: give it the reason either way.
      if (context.signal.aborted) throw context.signal.reason;
      throw error;
    }
  }

  /**
   * The built-in tools and the agent's MCP tools (its profile's `mcpServers`, as far as its
   * allow-list goes), read at each task: servers start after the handle and re-list their tools.
   * An MCP tool is offered as `server__tool` (providers allow no dots in tool names; server names
   * hold no `_`, so the split is unambiguous); two that would share a name are an error naming both.
   */
  #toolsNow(): { definitions: Record<string, ModelTool>; mcp: Map<string, { server: string; tool: string }> } {
    const definitions: Record<string, ModelTool> = { ...this.#tools };
    const mcp = new Map<string, { server: string; tool: string }>();
    for (const info of this.#services.tools?.list() ?? []) {
      const name = `${info.server}__${info.tool.replace(/[^A-Za-z0-9_-]/g, "_")}`.slice(0, 64);
      const first = mcp.get(name);
      if (first !== undefined || name in this.#tools) {
        throw new FactoryError("VALIDATION_FAILED", `tool name collision: '${name}' would be both ${first === undefined ? `the built-in ${name}` : `${first.server}.${first.tool}`} and ${info.name}`, { nonRetryable: true });
      }
      mcp.set(name, { server: info.server, tool: info.tool });
      definitions[name] = { description: info.description, inputSchema: info.inputSchema };
    }
    return { definitions, mcp };
  }

  async #loop(input: unknown, { task, signal }: RunContext): Promise<LlmResult> {
    const models = this.#services.models;
    if (models === undefined) throw new FactoryError("AGENT_START_FAILED", "no model router");
    const tools = this.#toolsNow();
    const { prompt, metadata } = readInput(input);
    const messages: ModelMessage[] = [{ role: "user", content: prompt }];
    const usage = { calls: 0, inputTokens: 0, outputTokens: 0 };
    let cost = 0;
    const used: string[] = [];
    for (let step = 1; step <= this.#spec.maxSteps; step++) {
      signal.throwIfAborted();
      const answer = await this.#pulse(
        task.id,
        `step ${step}: waiting for the model`,
        models.call(task.id, {
          system: this.#spec.systemPrompt,
          messages,
          ...(Object.keys(tools.definitions).length === 0 ? {} : { tools: tools.definitions }),
          // The profile's metadata wins: a task cannot lift its agent's `confidential: true`.
          metadata: { ...metadata, ...this.#spec.metadata },
          ...(this.#spec.model === undefined ? {} : { model: this.#spec.model }),
          ...(this.#spec.maxOutputTokens === undefined ? {} : { maxOutputTokens: this.#spec.maxOutputTokens }),
          signal,
        }),
      );
      usage.calls++;
      usage.inputTokens += answer.usage.inputTokens;
      usage.outputTokens += answer.usage.outputTokens;
      cost = Math.round((cost + answer.cost) * 1_000_000) / 1_000_000;
      if (!used.includes(answer.model)) used.push(answer.model);
      messages.push(...answer.responseMessages);
      const fraction = Math.min(0.99, step / this.#spec.maxSteps);
      if (answer.toolCalls.length === 0) {
        this.#services.progress(task.id, `step ${step}: ${answer.model} answered`, fraction);
        return { output: answer.text, steps: step, models: used, usage, cost };
      }
      this.#services.progress(task.id, `step ${step}: ${answer.model} called ${answer.toolCalls.map((c) => c.toolName).join(", ")}`, fraction);
      const results = [];
      for (const call of answer.toolCalls) results.push(await this.#runTool(call, task.id, signal, tools.mcp));
      messages.push({ role: "tool", content: results });
    }
    throw new FactoryError("LLM_MAX_STEPS", `no answer after ${this.#spec.maxSteps} model calls (runtime.maxSteps)`, { nonRetryable: true, details: { usage, cost } });
  }

  /** Runs one tool call; a failure goes back to the model as an error result, it does not end the task. */
  async #runTool(call: ToolCall, taskId: string, signal: AbortSignal, mcp: ReadonlyMap<string, { server: string; tool: string }>): Promise<{ type: "tool-result"; toolCallId: string; toolName: string; output: { type: "json"; value: never } | { type: "error-text"; value: string } }> {
    const result = (output: { type: "json"; value: never } | { type: "error-text"; value: string }) => ({ type: "tool-result" as const, toolCallId: call.toolCallId, toolName: call.toolName, output });
    try {
      const target = mcp.get(call.toolName);
      if (target !== undefined) return result(await this.#mcpTool(target, call, signal));
      if (!(call.toolName in this.#tools)) throw new FactoryError("VALIDATION_FAILED", `no tool named '${call.toolName}' (tools: ${[...Object.keys(this.#tools), ...mcp.keys()].join(", ") || "none"})`);
      const value = await this.#tool(call, taskId, signal);
      return result({ type: "json", value: (value === undefined ? null : JSON.parse(JSON.stringify(value))) as never });
    } catch (error) {
      if (signal.aborted) throw error;
      return result({ type: "error-text", value: isFactoryError(error) ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error) });
    }
  }

  /** An MCP tool through the factory's executor: its structured output (or its content) as JSON; a tool error as an error text the model reads. */
  async #mcpTool(target: { server: string; tool: string }, call: ToolCall, signal: AbortSignal): Promise<{ type: "json"; value: never } | { type: "error-text"; value: string }> {
    const tools = this.#services.tools;
    if (tools === undefined) throw new FactoryError("TOOL_NOT_FOUND", "this agent has no MCP servers");
    const args = call.input === undefined || call.input === null ? {} : call.input;
    const answer = await tools.call(target.server, target.tool, args, signal);
    const text = answer.content.map((c) => (c.type === "text" && typeof c.text === "string" ? c.text : JSON.stringify(c))).join("\n");
    if (answer.isError) return { type: "error-text", value: text };
    return { type: "json", value: JSON.parse(JSON.stringify(answer.structuredContent ?? { content: text })) as never };
  }

  async #tool(call: ToolCall, taskId: string, signal: AbortSignal): Promise<unknown> {
    if (!(call.toolName in this.#tools)) throw new FactoryError("VALIDATION_FAILED", `no tool named '${call.toolName}' (tools: ${Object.keys(this.#tools).join(", ") || "none"})`);
    const crew = this.#services.crew;
    switch (call.toolName as LlmToolName) {
      case "context_read": {
        const { key } = parseTool(ContextReadInput, call);
        if (crew === null) throw new FactoryError("VALIDATION_FAILED", "this agent is in no crew");
        if (key === undefined) return { keys: await crew.keys() };
        return { key, value: (await crew.get(key)) ?? null };
      }
      case "context_write": {
        const { key, value } = parseTool(ContextWriteInput, call);
        if (crew === null) throw new FactoryError("VALIDATION_FAILED", "this agent is in no crew");
        await crew.set(key, value ?? null);
        return { ok: true, key };
      }
      case "submit_task": {
        const request = parseTool(SubmitTaskInput, call);
        const tasks = this.#services.tasks;
        if (tasks === undefined) throw new FactoryError("VALIDATION_FAILED", "sub-tasks are not available here");
        const sub = await tasks.submit(taskId, { role: request.role, input: request.input ?? null, ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }) });
        if (!request.wait) return { taskId: sub.id, state: sub.state };
        const done = await this.#pulse(taskId, `waiting for sub-task ${sub.id} (${request.role})`, abortable(tasks.wait(sub.id, request.timeoutMs ?? DEFAULT_SUBTASK_WAIT_MS), signal));
        return { taskId: done.id, state: done.state, ...(done.result === undefined ? {} : { result: done.result }), ...(done.error === undefined ? {} : { error: done.error }) };
      }
    }
  }

  /** Reports progress every WAITING_PULSE_MS until `promise` settles. */
  async #pulse<T>(taskId: string, message: string, promise: Promise<T>): Promise<T> {
    const timer = setInterval(() => this.#services.progress(taskId, message, undefined), WAITING_PULSE_MS);
    try {
      return await promise;
    } finally {
      clearInterval(timer);
    }
  }

  async signal(): Promise<void> {}

  async stop(): Promise<void> {}
}

/** Text → the prompt; `{ prompt, metadata }` → both; anything else → its JSON as the prompt. */
function readInput(input: unknown): { prompt: string; metadata: Record<string, unknown> } {
  if (typeof input === "string") return { prompt: input, metadata: {} };
  if (typeof input === "object" && input !== null && !Array.isArray(input) && typeof (input as { prompt?: unknown }).prompt === "string") {
    const { prompt, metadata } = input as { prompt: string; metadata?: unknown };
    return { prompt, metadata: typeof metadata === "object" && metadata !== null && !Array.isArray(metadata) ? (metadata as Record<string, unknown>) : {} };
  }
  return { prompt: JSON.stringify(input ?? null), metadata: {} };
}

function parseTool<S extends z.ZodType>(schema: S, call: ToolCall): z.output<S> {
  const parsed = schema.safeParse(call.input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new FactoryError("VALIDATION_FAILED", `${call.toolName}: ${issue === undefined ? "invalid input" : `${issue.path.join(".") || "input"}: ${issue.message}`}`);
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
