import { createParser } from "eventsource-parser";
import type { FactoryEvent } from "../core/events.ts";

/** An error answer from the server, or no answer at all. */
export class ClientError extends Error {
  readonly code: string;
  readonly status: number;
  readonly field: string | undefined;

  constructor(code: string, message: string, status: number, field?: string) {
    super(message);
    this.name = "ClientError";
    this.code = code;
    this.status = status;
    this.field = field;
  }
}

/** A small typed-enough client of the HTTP API, used by the CLI. */
export class FactoryClient {
  readonly baseUrl: string;
  readonly #apiKey: string | undefined;

  constructor(baseUrl: string, apiKey?: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.#apiKey = apiKey === undefined || apiKey === "" ? undefined : apiKey;
  }

  #headers(json: boolean): Record<string, string> {
    return {
      ...(json ? { "content-type": "application/json" } : {}),
      ...(this.#apiKey === undefined ? {} : { authorization: `Bearer ${this.#apiKey}` }),
    };
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return (await this.send<T>(method, path, body, signal)).body;
  }

  /** Like `request`, with the status (e.g. 201 created vs 200 unchanged). */
  async send<T = unknown>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<{ status: number; body: T }> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: this.#headers(body !== undefined),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new ClientError("UNREACHABLE", `cannot reach the factory at ${this.baseUrl} (${cause}); is 'agent-factory serve' running? (--url or AGENT_FACTORY_URL)`, 0);
    }
    if (response.status === 204) return { status: 204, body: undefined as T };
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text.length === 0 ? undefined : JSON.parse(text);
    } catch {
      throw new ClientError("BAD_RESPONSE", `the server answered ${response.status} with something that is not JSON`, response.status);
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string; field?: string } } | undefined)?.error;
      throw new ClientError(error?.code ?? `HTTP_${response.status}`, error?.message ?? `HTTP ${response.status}`, response.status, error?.field);
    }
    return { status: response.status, body: parsed as T };
  }

  /** Follows `/v1/events`; resolves when the stream ends or `signal` aborts. */
  async events(query: string, onEvent: (event: FactoryEvent) => void, signal: AbortSignal, onReady?: () => void): Promise<void> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}/v1/events${query}`, { headers: this.#headers(false), signal });
    } catch (error) {
      if (signal.aborted) return;
      throw new ClientError("UNREACHABLE", `cannot reach the factory at ${this.baseUrl}: ${(error as Error).message}`, 0);
    }
    if (!response.ok || response.body === null) {
      const body = (await response.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
      throw new ClientError(body.error?.code ?? `HTTP_${response.status}`, body.error?.message ?? "event stream refused", response.status);
    }
    const parser = createParser({
      onEvent: (message) => {
        if (message.event === "ready") onReady?.();
        else if (message.id !== undefined) onEvent(JSON.parse(message.data) as FactoryEvent);
      },
    });
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
    } catch (error) {
      if (!signal.aborted) throw error;
    }
  }
}
