/**
 * The typed HTTP client of Agent Factory (`agent-factory/client`): plain `fetch`, no server code.
 * Every type comes from the zod schemas that validate and document the API, imported as types
 * only, so loading this module loads nothing of the server (a test checks it).
 */
import { createParser } from "eventsource-parser";
import type { z } from "zod";
import type { PageOf } from "../api/cursor.ts";
import type { ChaosActionSchema } from "../api/routes/chaos.ts";
import type { AssembleSchema } from "../api/routes/crews.ts";
import type { BudgetPutSchema, BudgetSchema } from "../api/routes/budgets.ts";
import type { CreatedKeySchema, CreateKeySchema, OperatorKeySchema } from "../api/routes/keys.ts";
import type { LedgerEntrySchema, LedgerReportSchema } from "../api/routes/ledger.ts";
import type { ModelsInfoSchema, RouteDecisionSchema, RouteRequestSchema } from "../api/routes/models.ts";
import type { PoolSchema, WaitingSchema } from "../api/routes/pools.ts";
import type { ToolCallSchema, ToolResultSchema, ToolSchema } from "../api/routes/tools.ts";
import type { SpawnSchema } from "../api/routes/agents.ts";
import type { AgentSchema, CrewMessageSchema, CrewSchema, ModelResultSchema, NodeSchema, ProfileRecordSchema, TaskSchema, WalletSchema } from "../api/schemas.ts";
import type { HttpErrorCode } from "../api/http-error.ts";
import type { ErrorCode } from "../core/errors.ts";
import type { FactoryEvent } from "../core/events.ts";
import type { LedgerReportQuerySchema } from "../core/schemas/ledger-report.ts";
import type { ProfileSchema } from "../core/schemas/profile.ts";
import type { TaskSubmitSchema } from "../core/schemas/task.ts";
import type { FactoryStats } from "../core/stats.ts";

export type { FactoryEvent };
/** Every code a server's error answer can carry: the factory's own and those only its HTTP layer raises (auth, host guard, body limits). */
export type ServerErrorCode = ErrorCode | HttpErrorCode;
export type Agent = z.output<typeof AgentSchema>;
export type Crew = z.output<typeof CrewSchema>;
export type CrewMessage = z.output<typeof CrewMessageSchema>;
export type Task = z.output<typeof TaskSchema>;
export type ProfileRecord = z.output<typeof ProfileRecordSchema>;
export type ProfileInput = z.input<typeof ProfileSchema>;
export type SpawnRequest = z.input<typeof SpawnSchema>;
export type CrewManifest = z.input<typeof AssembleSchema>["manifest"];
export type TaskSubmit = z.input<typeof TaskSubmitSchema>;
export type Wallet = z.output<typeof WalletSchema>;
export type ModelCallResult = z.output<typeof ModelResultSchema>;
export type Pool = z.output<typeof PoolSchema>;
export type Tool = z.output<typeof ToolSchema>;
export type ToolCall = z.input<typeof ToolCallSchema>;
export type ToolResult = z.output<typeof ToolResultSchema>;
/** One node of the cluster, with its lease, agents and load. */
export type ClusterNode = z.output<typeof NodeSchema>;
/** Tasks waiting for an agent, counted by target. */
export type Waiting = z.output<typeof WaitingSchema>;
export type LedgerEntry = z.output<typeof LedgerEntrySchema>;
export type LedgerReport = z.output<typeof LedgerReportSchema>;
export type LedgerReportQuery = z.input<typeof LedgerReportQuerySchema>;
export type ModelsInfo = z.output<typeof ModelsInfoSchema>;
export type RouteRequest = z.input<typeof RouteRequestSchema>;
export type RouteDecision = z.output<typeof RouteDecisionSchema>;
export type Budget = z.output<typeof BudgetSchema>;
export type BudgetPut = z.input<typeof BudgetPutSchema>;
export type OperatorKey = z.output<typeof OperatorKeySchema>;
export type CreatedOperatorKey = z.output<typeof CreatedKeySchema>;
export type CreateOperatorKey = z.input<typeof CreateKeySchema>;
export type ChaosAction = z.output<typeof ChaosActionSchema>;
export type Ready = FactoryStats & { status: "ready" };
/** One page of a newest-first list; pass `nextCursor` as `cursor` for the next (null: the last page). */
export type Page<T> = PageOf<T>;

/** Filters and page of `listTasks` (newest first). */
export interface TaskListQuery { state?: Task["state"]; crewId?: string; limit?: number; cursor?: string }
/** Filters and page of `listAgents` (newest first; TERMINATED and HIBERNATING read the store). */
export interface AgentListQuery { state?: Agent["state"]; role?: string; crewId?: string; limit?: number; cursor?: string }
/** Filters and page of `listCrews` (newest first; not disbanded unless `state: "DISBANDED"`). */
export interface CrewListQuery { state?: Crew["state"]; limit?: number; cursor?: string }
/** Filters of `listLedger` (in `seq` order; `after` a seq for the next entries). */
export interface LedgerQuery { wallet?: string; crewId?: string; agentId?: string; kind?: LedgerEntry["kind"]; after?: number; limit?: number }
/** Filters of `events`; `types` as a list or comma-separated, `agent.*` matches a family. */
export interface EventQuery { types?: string | readonly string[]; crewId?: string; agentId?: string; taskId?: string; after?: number }

/** The server's error answer (`status`, `code`, `message`, `field`), or no answer (status 0, `UNREACHABLE`). */
export class FactoryClientError extends Error {
  /**
   * A ServerErrorCode, or the client's own: `UNREACHABLE`, `BAD_RESPONSE`, `HTTP_<status>` (an
   * answer without an error body). A string, so a newer server's code still reaches the caller.
   */
  readonly code: string;
  readonly status: number;
  readonly field: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, status: number, field?: string, details?: Record<string, unknown>) {
    super(message);
    this.name = "FactoryClientError";
    this.code = code;
    this.status = status;
    this.field = field;
    this.details = details;
  }
}

export interface FactoryClientOptions {
  /** The server, e.g. `http://127.0.0.1:7371`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>` (the server's AGENT_FACTORY_API_KEY). */
  apiKey?: string | undefined;
  /** The fetch to use; default the global one. */
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | readonly string[] | undefined>;
const enc = encodeURIComponent;
/** The server caps one long-poll at 60 s; longer waits are several polls. */
const POLL_MS = 60_000;
const FINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED", "DEAD"]);

/** A client of one factory server: one method per route. */
export class FactoryClient {
  readonly baseUrl: string;
  readonly #apiKey: string | undefined;
  readonly #fetch: typeof fetch;

  constructor(options: FactoryClientOptions | string) {
    const o = typeof options === "string" ? { baseUrl: options } : options;
    this.baseUrl = o.baseUrl.replace(/\/+$/, "");
    this.#apiKey = o.apiKey === undefined || o.apiKey === "" ? undefined : o.apiKey;
    this.#fetch = o.fetch ?? globalThis.fetch;
  }

  /** Any route: the status and parsed body; an error status throws FactoryClientError. */
  async call<T>(method: string, path: string, options: { body?: unknown; query?: Query; signal?: AbortSignal } = {}): Promise<{ status: number; body: T }> {
    const response = await this.#send(method, path, options);
    if (response.status === 204) return { status: 204, body: undefined as T };
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text.length === 0 ? undefined : JSON.parse(text);
    } catch {
      throw new FactoryClientError("BAD_RESPONSE", `the server answered ${response.status} with something that is not JSON`, response.status);
    }
    if (!response.ok) throw errorOf(response.status, parsed);
    return { status: response.status, body: parsed as T };
  }

  async #send(method: string, path: string, options: { body?: unknown; query?: Query; signal?: AbortSignal }): Promise<Response> {
    const url = `${this.baseUrl}${path}${queryString(options.query)}`;
    try {
      return await this.#fetch(url, {
        method,
        headers: {
          ...(options.body === undefined ? {} : { "content-type": "application/json" }),
          ...(this.#apiKey === undefined ? {} : { authorization: `Bearer ${this.#apiKey}` }),
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (error) {
      if (options.signal?.aborted === true) throw error;
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new FactoryClientError("UNREACHABLE", `cannot reach the factory at ${this.baseUrl} (${cause}); is 'agent-factory serve' running? (--url or AGENT_FACTORY_URL)`, 0);
    }
  }

  async #get<T>(path: string, query?: Query): Promise<T> {
    return (await this.call<T>("GET", path, query === undefined ? {} : { query })).body;
  }

  async #post<T>(path: string, body?: unknown, method = "POST"): Promise<T> {
    return (await this.call<T>(method, path, body === undefined ? {} : { body })).body;
  }

  /** Liveness. */
  health(): Promise<{ status: "ok" }> { return this.#get("/health"); }
  /** Readiness with counts; 503 (shutting down, store unavailable) throws. */
  ready(): Promise<Ready> { return this.#get("/ready"); }

  /** The latest version of every profile. */
  listProfiles(): Promise<ProfileRecord[]> { return this.#items(this.#get("/v1/profiles")); }
  getProfile(name: string, version?: number): Promise<ProfileRecord> { return this.#get(`/v1/profiles/${enc(name)}`, { version }); }
  profileVersions(name: string): Promise<ProfileRecord[]> { return this.#items(this.#get(`/v1/profiles/${enc(name)}/versions`)); }
  /** `created` is false when it was identical to the latest version. */
  async registerProfile(profile: ProfileInput): Promise<{ profile: ProfileRecord; created: boolean }> {
    const { status, body } = await this.call<ProfileRecord>("POST", "/v1/profiles", { body: profile });
    return { profile: body, created: status === 201 };
  }

  /** Answers when the agent is READY. */
  spawnAgent(request: SpawnRequest): Promise<Agent> { return this.#post("/v1/agents", request); }
  /** A page of agents, newest first. */
  listAgents(query: AgentListQuery = {}): Promise<Page<Agent>> { return this.#get("/v1/agents", { ...query }); }
  getAgent(id: string): Promise<Agent> { return this.#get(`/v1/agents/${enc(id)}`); }
  /** Drains, then terminates. */
  terminateAgent(id: string): Promise<Agent> { return this.#post(`/v1/agents/${enc(id)}`, undefined, "DELETE"); }
  cloneAgent(id: string): Promise<Agent> { return this.#post(`/v1/agents/${enc(id)}/clone`); }
  hibernateAgent(id: string): Promise<Agent> { return this.#post(`/v1/agents/${enc(id)}/hibernate`); }
  wakeAgent(id: string): Promise<Agent> { return this.#post(`/v1/agents/${enc(id)}/wake`); }
  /** A model call for one of the agent's attempts (`taskId`): its crew's wallet pays. With an agent's token, only as itself. */
  callAgentModel(id: string, request: { taskId: string; messages: unknown[]; system?: string; metadata?: Record<string, unknown>; model?: string; maxOutputTokens?: number }): Promise<ModelCallResult> { return this.#post(`/v1/agents/${enc(id)}/model-calls`, request); }
  getWallet(address: string): Promise<Wallet> { return this.#get(`/v1/wallets/${enc(address)}`); }

  /** Answers when every member is READY; `requestId` is echoed in the `crew.assembly.progress` events. */
  assembleCrew(manifest: CrewManifest, options: { requestId?: string } = {}): Promise<Crew> { return this.#post("/v1/crews/assemble", { manifest, ...options }); }
  /** A page of crews with their agents, newest first. */
  listCrews(query: CrewListQuery = {}): Promise<Page<Crew>> { return this.#get("/v1/crews", { ...query }); }
  getCrew(id: string): Promise<Crew> { return this.#get(`/v1/crews/${enc(id)}`); }
  /** Cancels its queued tasks, drains and terminates its members. */
  /** A new member of a live crew, READY. With an agent's token: an `admin` agent, its own crew. */
  spawnCrewMember(id: string, profile: string): Promise<Agent> { return this.#post(`/v1/crews/${enc(id)}/members`, { profile }); }
  disbandCrew(id: string): Promise<Crew> { return this.#post(`/v1/crews/${enc(id)}`, undefined, "DELETE"); }
  broadcast(id: string, signal: string, payload?: unknown): Promise<{ delivered: number; message: CrewMessage }> { return this.#post(`/v1/crews/${enc(id)}/broadcast`, { signal, payload }); }
  publish(id: string, topic: string, payload?: unknown): Promise<CrewMessage> { return this.#post(`/v1/crews/${enc(id)}/messages`, { topic, payload }); }
  listMessages(id: string, query: { topic?: string; after?: number; limit?: number } = {}): Promise<CrewMessage[]> { return this.#items(this.#get(`/v1/crews/${enc(id)}/messages`, query)); }
  async getContext(id: string): Promise<Record<string, unknown>> { return (await this.#get<{ context: Record<string, unknown> }>(`/v1/crews/${enc(id)}/context`)).context; }
  getContextKey(id: string, key: string): Promise<{ key: string; value: unknown }> { return this.#get(`/v1/crews/${enc(id)}/context/${enc(key)}`); }
  setContextKey(id: string, key: string, value: unknown): Promise<{ key: string; value: unknown }> { return this.#post(`/v1/crews/${enc(id)}/context/${enc(key)}`, { value }, "PUT"); }
  async deleteContextKey(id: string, key: string): Promise<void> { await this.call("DELETE", `/v1/crews/${enc(id)}/context/${enc(key)}`); }

  /** `created` is false when the idempotency key was used before: the first task comes back. */
  async submitTask(task: TaskSubmit): Promise<{ task: Task; created: boolean }> {
    const { status, body } = await this.call<Task>("POST", "/v1/tasks", { body: task });
    return { task: body, created: status === 202 };
  }
  /** With `waitMs` (at most 60,000) the answer waits until the task is final or the time is up. */
  getTask(id: string, options: { waitMs?: number } = {}): Promise<Task> { return this.#get(`/v1/tasks/${enc(id)}`, { waitMs: options.waitMs }); }
  /** Polls until the task is final or `timeoutMs` passed; the task as it then is. */
  async waitForTask(id: string, timeoutMs: number): Promise<Task> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const task = await this.getTask(id, { waitMs: Math.max(0, Math.min(POLL_MS, deadline - Date.now())) });
      if (FINAL.has(task.state) || Date.now() >= deadline) return task;
    }
  }
  /** A page of tasks, newest first. */
  listTasks(query: TaskListQuery = {}): Promise<Page<Task>> { return this.#get("/v1/tasks", { ...query }); }
  /** Re-drives a DEAD task with a fresh set of attempts. */
  retryTask(id: string): Promise<Task> { return this.#post(`/v1/tasks/${enc(id)}/retry`); }
  cancelTask(id: string): Promise<Task> { return this.#post(`/v1/tasks/${enc(id)}/cancel`); }

  /** Every pool (one per profile): size, queue, wait times, scaling decisions. */
  listPools(): Promise<Pool[]> { return this.#items(this.#get("/v1/pools")); }
  /** Every pool, and the tasks waiting for an agent by target (accepted work no agent runs yet). */
  pools(): Promise<{ items: Pool[]; waiting: Waiting[] }> { return this.#get("/v1/pools"); }
  getPool(profile: string): Promise<Pool> { return this.#get(`/v1/pools/${enc(profile)}`); }

  /** Agents' MCP tools (the registry), filtered by agent, crew or server. */
  listTools(query: { agentId?: string; crewId?: string; server?: string } = {}): Promise<Tool[]> { return this.#items(this.#get("/v1/tools", { ...query })); }
  /** Calls an agent's MCP tool with its rights; a failing tool answers `isError: true`. */
  callTool(call: ToolCall): Promise<ToolResult> { return this.#post("/v1/tools/call", call); }

  /** The nodes of the cluster, oldest join first (a single node lists itself). */
  listNodes(): Promise<ClusterNode[]> { return this.#items(this.#get("/v1/nodes")); }

  listLedger(query: LedgerQuery = {}): Promise<LedgerEntry[]> { return this.#items(this.#get("/v1/ledger", { ...query })); }
  ledgerReport(query: LedgerReportQuery): Promise<LedgerReport> { return this.#get("/v1/ledger/report", { ...query }); }
  /** Credits from outside into an agent's or crew's wallet. */
  grantCredits(wallet: string, amount: number, memo?: string): Promise<LedgerEntry> { return this.#post("/v1/ledger/grants", { wallet, amount, memo }); }
  transferCredits(from: string, to: string, amount: number, memo?: string): Promise<LedgerEntry> { return this.#post("/v1/ledger/transfers", { from, to, amount, memo }); }

  /** Providers, routing rules and prices. */
  models(): Promise<ModelsInfo> { return this.#get("/v1/models"); }
  /** Which model a call would go to, by which rule, and why. */
  routeModel(request: RouteRequest): Promise<RouteDecision> { return this.#post("/v1/models/route", request); }
  listBudgets(): Promise<Budget[]> { return this.#items(this.#get("/v1/budgets")); }
  /** `key`: global, crew:<id> or agent:<id>. */
  setBudget(key: string, budget: BudgetPut): Promise<Budget> { return this.#post(`/v1/budgets/${enc(key)}`, budget, "PUT"); }
  async removeBudget(key: string): Promise<void> { await this.call("DELETE", `/v1/budgets/${enc(key)}`); }

  /** Makes an operator key (admin only); the answer's `secret` is shown this once. */
  createKey(key: CreateOperatorKey): Promise<CreatedOperatorKey> { return this.#post("/v1/keys", key); }
  /** Every operator key, without secrets (admin only). */
  listKeys(): Promise<OperatorKey[]> { return this.#items(this.#get("/v1/keys")); }
  /** Revokes a key: refused at once (on a cluster's other nodes within a second). */
  async revokeKey(id: string): Promise<void> { await this.call("DELETE", `/v1/keys/${enc(id)}`); }

  /** Chaos actions: only on a server started with `--chaos`. */
  chaosKill(agentId: string): Promise<ChaosAction> { return this.#post("/v1/chaos/kill", { agentId }); }
  chaosFreeze(agentId: string, ms: number): Promise<ChaosAction> { return this.#post("/v1/chaos/freeze", { agentId, ms }); }
  chaosLatency(ms: number): Promise<{ latencyMs: number }> { return this.#post("/v1/chaos/latency", { ms }, "PUT"); }

  /** Follows `/v1/events` (`after` replays stored events first); resolves when the stream ends or `signal` aborts. */
  async events(query: EventQuery, onEvent: (event: FactoryEvent) => void, signal: AbortSignal, onReady?: () => void): Promise<void> {
    let response: Response;
    try {
      // queryString joins an array of types with commas.
      response = await this.#send("GET", "/v1/events", { query: { ...query }, signal });
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    }
    if (!response.ok || response.body === null) throw errorOf(response.status, await response.json().catch(() => undefined));
    const parser = createParser({
      onEvent: (message) => {
        if (message.event === "ready") onReady?.();
        else if (message.id !== undefined) onEvent(JSON.parse(message.data) as FactoryEvent);
      },
    });
    const decoder = new TextDecoder();
    try {
      // Response bodies are bytes; Node's global Response types them as ReadableStream<any>.
      for await (const chunk of response.body as ReadableStream<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch (error) {
      if (!signal.aborted) throw error;
    }
  }

  async #items<T>(answer: Promise<{ items: T[] }>): Promise<T[]> {
    return (await answer).items;
  }
}

/** Every item of a paged list, page after page: `for await (const task of allPages((cursor) => client.listTasks({ cursor })))`. */
export async function* allPages<T>(page: (cursor: string | undefined) => Promise<Page<T>>): AsyncGenerator<T> {
  let cursor: string | undefined;
  do {
    const next = await page(cursor);
    yield* next.items;
    cursor = next.nextCursor ?? undefined;
  } while (cursor !== undefined);
}

function errorOf(status: number, body: unknown): FactoryClientError {
  const error = (body as { error?: { code?: string; message?: string; field?: string; details?: Record<string, unknown> } } | undefined)?.error;
  return new FactoryClientError(error?.code ?? `HTTP_${status}`, error?.message ?? `HTTP ${status}`, status, error?.field, error?.details);
}

function queryString(query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined) params.set(key, Array.isArray(value) ? value.join(",") : String(value));
  }
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}
