import type { JSONSchema7 } from "@ai-sdk/provider";
import type { ModelMessage } from "ai";

/** A tool the model may call: its name, what it does and its input as JSON Schema. */
export interface ModelTool {
  description: string;
  inputSchema: JSONSchema7;
}

/** One model call as an agent asks for it; the router picks the model unless `model` pins one. */
export interface AgentModelRequest {
  system?: string;
  messages: ModelMessage[];
  tools?: Readonly<Record<string, ModelTool>>;
  /** Routing metadata (`confidential`, `quality` …), matched by the rules. */
  metadata?: Readonly<Record<string, unknown>>;
  /** Skips the rules: this model, no fallbacks. */
  model?: string;
  maxOutputTokens?: number;
  signal?: AbortSignal;
}

/** A call as the router takes it: who pays, under which budgets, for which task. */
export interface ModelCallRequest extends AgentModelRequest {
  /** The wallet that pays. */
  payer: string;
  scope: { crewId: string | null; agentId: string | null };
  taskId?: string | null;
  /** Remaining budget ÷ budget, for the rules (null: no budget applies). */
  budgetFraction?: number | null;
}

export interface ToolCall {
  toolCallId: string;
  toolName: string;
  input: unknown;
}

export interface ModelCallResult {
  /**
   * The model that answered, as served (`provider:model`; the mock's names as they are): a
   * catch-all provider's forced model, not the rule's name. And the rule that chose the chain.
   */
  model: string;
  rule: string;
  reason: string;
  text: string;
  toolCalls: ToolCall[];
  /** The assistant's turn, ready to append to the conversation. */
  responseMessages: ModelMessage[];
  finishReason: string;
  usage: { inputTokens: number; outputTokens: number };
  /** The output cap the provider was given: lower than asked when the budget could not hold more. */
  maxOutputTokens: number;
  /** Credits charged. */
  cost: number;
  /** Models tried before this one (as served), their provider (null: none serves the name) and why they failed. */
  failedAttempts: Array<{ model: string; provider: string | null; error: string }>;
}
