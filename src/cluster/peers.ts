import { FactoryError, isErrorCode } from "../core/errors.ts";
import type { NodeInfo } from "../core/ports/membership.ts";

/** Header on a request one node makes of another: the receiver answers it itself. */
export const FORWARDED_BY = "x-agent-factory-forwarded-by";

export interface PeersOptions {
  /** This node's id (sent as FORWARDED_BY). */
  self: string;
  /** What this node shows the others: the cluster's API key if it has one, else a credential signed with the store's shared key. */
  credential: () => Promise<string | undefined>;
  /** The cluster's nodes, with their URLs and whether they are alive. */
  nodes: () => Promise<NodeInfo[]>;
}

/** How long one call to another node may take before it counts as unanswered. */
const CALL_TIMEOUT_MS = 60_000;

/**
 * Calls another node's API (a crew member spawned there, a signal delivered there, a model
 * call made at the crew's node). An error the other node answers with comes back as the same
 * FactoryError code, its message prefixed with the node; a node that cannot be reached is
 * NODE_UNAVAILABLE.
 */
export class Peers {
  readonly #options: PeersOptions;

  constructor(options: PeersOptions) {
    this.#options = options;
  }

  get self(): string {
    return this.#options.self;
  }

  /** Live nodes other than this one that say where they answer, by id. */
  async others(): Promise<NodeInfo[]> {
    return (await this.#options.nodes()).filter((n) => n.alive && n.url !== null && n.id !== this.#options.self).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  post<T>(node: string, path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    return this.call<T>(node, "POST", path, body, signal);
  }

  async call<T>(node: string, method: "POST" | "DELETE", path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const info = (await this.#options.nodes()).find((n) => n.id === node);
    if (info?.url == null || !info.alive) throw new FactoryError("NODE_UNAVAILABLE", `node ${node} is not answering (not alive, or no URL to reach it)`, { details: { node, retryAfterSec: 2 } });
    const headers: Record<string, string> = { [FORWARDED_BY]: this.#options.self, ...(body === undefined ? {} : { "content-type": "application/json" }) };
    const credential = await this.#options.credential();
    if (credential !== undefined) headers.authorization = `Bearer ${credential}`;
    let answer: Response;
    try {
      const timeout = AbortSignal.timeout(CALL_TIMEOUT_MS);
      answer = await fetch(new URL(path, info.url), {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      });
    } catch (error) {
      if (signal?.aborted === true) throw error;
      throw new FactoryError("NODE_UNAVAILABLE", `node ${node} is not answering at ${info.url}: ${error instanceof Error ? error.message : String(error)}`, { cause: error, details: { node, retryAfterSec: 2 } });
    }
    const text = await answer.text();
    let parsed: unknown;
    try {
      parsed = text.length === 0 ? null : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (answer.ok) return parsed as T;
    const error = (parsed as { error?: { code?: unknown; message?: unknown; field?: unknown; details?: unknown } } | undefined)?.error;
    const code = typeof error?.code === "string" && isErrorCode(error.code) ? error.code : "NODE_UNAVAILABLE";
    throw new FactoryError(code, `node ${node}: ${typeof error?.message === "string" ? error.message : `HTTP ${answer.status}`}`, {
      ...(typeof error?.field === "string" ? { field: error.field } : {}),
      details: { node, status: answer.status, ...(typeof error?.details === "object" && error.details !== null ? (error.details as Record<string, unknown>) : {}) },
    });
  }
}
