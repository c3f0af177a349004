import type { Readable, Writable } from "node:stream";
import { FactoryError } from "../../core/errors.ts";

/** JSON-RPC 2.0 error codes used on the wire. */
export const RPC = { PARSE_ERROR: -32700, INVALID_REQUEST: -32600, METHOD_NOT_FOUND: -32601, INTERNAL: -32603 } as const;

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout | undefined;
}

export interface ChannelHandlers {
  /** A request from the agent; the result (or a thrown error) is sent back. Undefined: method not found. */
  request(method: string, params: unknown): Promise<unknown> | undefined;
  notification(method: string, params: unknown): void;
  /** A line that is not a JSON-RPC message (logged and counted, never fatal). */
  malformed(reason: string, line: string): void;
}

/**
 * JSON-RPC 2.0 over newline-delimited JSON on a pair of streams (the agent's stdout and stdin).
 * Lines longer than `maxLineBytes` are dropped as malformed rather than buffered without end.
 */
export class JsonRpcChannel {
  readonly #out: Writable;
  readonly #handlers: ChannelHandlers;
  readonly #maxLine: number;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #buffer = "";
  #skipping = false;
  #closed: Error | undefined;

  constructor(input: Readable, output: Writable, handlers: ChannelHandlers, options: { maxLineBytes?: number } = {}) {
    this.#out = output;
    this.#handlers = handlers;
    this.#maxLine = options.maxLineBytes ?? 8 * 1024 * 1024;
    input.setEncoding("utf8");
    input.on("data", (chunk: string) => this.#receive(chunk));
    output.on("error", () => {}); // a closed stdin shows as the process exit
  }

  /** Sends a request; resolves with its result, rejects with its error (as a FactoryError). */
  request(method: string, params: unknown, timeoutMs?: number): Promise<unknown> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.#pending.delete(id);
              reject(new FactoryError("PROTOCOL_ERROR", `the agent did not answer '${method}' within ${timeoutMs} ms`));
            }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.#write({ jsonrpc: "2.0", id, method, params });
    });
  }

  notify(method: string, params: unknown): void {
    if (this.#closed === undefined) this.#write({ jsonrpc: "2.0", method, params });
  }

  /** Fails every request still waiting (the process is gone). */
  close(error: Error): void {
    if (this.#closed !== undefined) return;
    this.#closed = error;
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.#pending.clear();
  }

  #write(message: unknown): void {
    this.#out.write(`${JSON.stringify(message)}\n`);
  }

  #receive(chunk: string): void {
    let start = 0;
    for (let newline = chunk.indexOf("\n"); newline !== -1; newline = chunk.indexOf("\n", start)) {
      const piece = chunk.slice(start, newline);
      start = newline + 1;
      if (this.#skipping) {
        this.#skipping = false;
        this.#buffer = "";
        continue;
      }
      const line = this.#buffer + piece;
      this.#buffer = "";
      if (line.trim().length > 0) this.#line(line);
    }
    const rest = chunk.slice(start);
    if (this.#skipping) return;
    if (this.#buffer.length + rest.length > this.#maxLine) {
      this.#handlers.malformed(`a line longer than ${this.#maxLine} bytes`, (this.#buffer + rest).slice(0, 200));
      this.#buffer = "";
      this.#skipping = true;
      return;
    }
    this.#buffer += rest;
  }

  #line(line: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.#handlers.malformed("not JSON", line.slice(0, 200));
      return;
    }
    if (typeof message !== "object" || message === null || message.jsonrpc !== "2.0") {
      this.#handlers.malformed("not a JSON-RPC 2.0 message", line.slice(0, 200));
      return;
    }
    if (typeof message.method === "string") {
      if (message.id === undefined) {
        this.#handlers.notification(message.method, message.params);
        return;
      }
      void this.#answer(message.id, message.method, message.params);
      return;
    }
    if (typeof message.id === "number" && ("result" in message || "error" in message)) {
      const pending = this.#pending.get(message.id);
      if (pending === undefined) {
        this.#handlers.malformed(`a response to unknown request ${message.id}`, line.slice(0, 200));
        return;
      }
      this.#pending.delete(message.id);
      clearTimeout(pending.timer);
      if ("error" in message) pending.reject(toFactoryError(message.error));
      else pending.resolve(message.result);
      return;
    }
    this.#handlers.malformed("neither a request, a notification nor a response", line.slice(0, 200));
  }

  async #answer(id: unknown, method: string, params: unknown): Promise<void> {
    const handled = this.#handlers.request(method, params);
    if (handled === undefined) {
      this.#write({ jsonrpc: "2.0", id, error: { code: RPC.METHOD_NOT_FOUND, message: `method not found: ${method}` } });
      return;
    }
    try {
      this.#write({ jsonrpc: "2.0", id, result: (await handled) ?? null });
    } catch (error) {
      // A refusal keeps its string code (`data.code`: CROSS_CREW, NOT_YOUR_TASK, VALIDATION_FAILED …) for the agent to switch on.
      const code = (error as { code?: unknown }).code;
      this.#write({ jsonrpc: "2.0", id, error: { code: RPC.INTERNAL, message: error instanceof Error ? error.message : String(error), ...(typeof code === "string" ? { data: { code } } : {}) } });
    }
  }
}

/** An agent's JSON-RPC error as a FactoryError; `data.retryable: false` makes it final, `data.code` keeps its code. */
function toFactoryError(error: unknown): FactoryError {
  const e = (typeof error === "object" && error !== null ? error : {}) as { code?: unknown; message?: unknown; data?: { retryable?: unknown; code?: unknown } };
  const message = typeof e.message === "string" ? e.message : "the agent answered with an error";
  const nonRetryable = e.data?.retryable === false || e.code === RPC.METHOD_NOT_FOUND;
  return new FactoryError("TASK_FAILED", message, { nonRetryable, details: { rpcCode: e.code ?? null, ...(typeof e.data?.code === "string" ? { agentCode: e.data.code } : {}) } });
}
