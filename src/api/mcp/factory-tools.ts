import { z } from "zod";
import { AGENT_STATES } from "../../core/lifecycle.ts";
import { JsonValueSchema } from "../../core/schemas/json-value.ts";
import { LedgerReportQuerySchema } from "../../core/schemas/ledger-report.ts";
import { NameSchema, RoleSchema } from "../../core/schemas/profile.ts";
import { TaskSubmitSchema } from "../../core/schemas/task.ts";
import { FINAL_TASK_STATES, TASK_STATES, type TaskState } from "../../core/task-states.ts";
import { CursorQuery } from "../cursor.ts";
import { AssembleSchema } from "../routes/crews.ts";
import { MAX_WAIT_MS } from "../routes/tasks.ts";
import { SpawnSchema } from "../routes/agents.ts";
import { CrewStateSchema, LimitQuery } from "../schemas.ts";

/** One call of the factory's own HTTP API, as the MCP caller (its key, its crews): the status and the parsed JSON body (null when there is none). */
export type ApiCall = (method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown) => Promise<{ status: number; body: unknown }>;

/** What a tool may do besides calling the API: notice cancellation, report progress while it waits. */
export interface ToolRun {
  signal: AbortSignal;
  /** Tells the client the call is alive (a progress notification, when the client asked for them). */
  progress(done: number, total: number | undefined, message: string): Promise<void>;
}

/** The MCP result of a call: the API's JSON as text and as `structuredContent`; an HTTP error is a tool error. */
export interface ToolResult {
  [key: string]: unknown;
  content: Array<{ type: "text"; text: string }>;
  structuredContent: Record<string, unknown>;
  isError?: boolean;
}

/** A factory operation offered as an MCP tool. */
export interface FactoryTool {
  name: string;
  title: string;
  description: string;
  /** Checked by the SDK before `run`; listed in `tools/list` as JSON Schema. */
  inputSchema: z.ZodObject;
  /** Whether it changes nothing (MCP's `readOnlyHint`). */
  readOnly: boolean;
  /** Whether it ends something (an agent, a crew, a task): MCP's `destructiveHint`, which clients may confirm with the user. */
  destructive?: boolean;
  /** The HTTP operations it calls (their operationIds): a caller needs the roles ACCESS gives each of them. */
  operations(args: Record<string, unknown>): readonly string[];
  run(args: Record<string, unknown>, api: ApiCall, run: ToolRun): Promise<ToolResult>;
}

/** Longest `waitMs` a tool accepts: waits longer than one long-poll (MAX_WAIT_MS) are several, with progress between them. */
export const MAX_TOOL_WAIT_MS = 600_000;
/** The longest long-poll while a tool waits: short enough that progress reaches the client before its request timeout (60 s by default). */
const WAIT_SLICE_MS = Math.min(15_000, MAX_WAIT_MS);
/** The first long-poll: a client hears within a second that its task is still running; later ones double up to WAIT_SLICE_MS. */
const FIRST_WAIT_SLICE_MS = 1_000;

const WaitMs = z
  .number()
  .int()
  .min(0)
  .max(MAX_TOOL_WAIT_MS)
  .optional()
  .meta({ description: `Wait up to this long (ms, at most ${MAX_TOOL_WAIT_MS}) for the task to be final; the task is returned as it is then` });
const Id = z.string().min(1).max(128);
const CrewId = z.string().min(1).max(128).meta({ description: "The crew's id" });

/** A path segment: ids come from the caller, so `/` or `?` in one must not reach another route. */
const seg = encodeURIComponent;

function query(args: Record<string, unknown>, names: readonly string[]): string {
  const params = new URLSearchParams();
  for (const name of names) {
    const value = args[name];
    if (value !== undefined) params.set(name, String(value));
  }
  const text = params.toString();
  return text.length === 0 ? "" : `?${text}`;
}

/** The answer as MCP wants it; an HTTP error keeps its `{ error: { code, message, field? } }` body so the caller sees what the API would say. */
export function toToolResult(status: number, body: unknown): ToolResult {
  const structured = body !== null && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : body === null ? {} : { value: body };
  if (status < 400) return { content: [{ type: "text", text: JSON.stringify(structured) }], structuredContent: structured };
  const error = (structured.error ?? {}) as { code?: unknown; message?: unknown };
  const text = `${String(error.code ?? `HTTP_${status}`)} (HTTP ${status}): ${String(error.message ?? "the request failed")}`;
  return { content: [{ type: "text", text }], structuredContent: structured, isError: true };
}

async function forward(api: ApiCall, method: Parameters<ApiCall>[0], path: string, body?: unknown): Promise<ToolResult> {
  const answer = await api(method, path, body);
  return toToolResult(answer.status, answer.body);
}

/**
 * Waits for a task to be final, one long-poll (GET /v1/tasks/{id}?waitMs) at a time, reporting
 * progress between them; answers with the task as it is when final, when the time is up, or when
 * the client cancels.
 */
async function waitForTask(api: ApiCall, id: string, waitMs: number, run: ToolRun): Promise<ToolResult> {
  const deadline = Date.now() + waitMs;
  for (let longest = FIRST_WAIT_SLICE_MS; ; longest = Math.min(longest * 2, WAIT_SLICE_MS)) {
    const slice = Math.max(0, Math.min(longest, deadline - Date.now()));
    const answer = await api("GET", `/v1/tasks/${seg(id)}?waitMs=${slice}`);
    if (answer.status >= 400) return toToolResult(answer.status, answer.body);
    const state = (answer.body as { state?: TaskState }).state;
    if (state === undefined || FINAL_TASK_STATES.has(state) || Date.now() >= deadline || run.signal.aborted) return toToolResult(answer.status, answer.body);
    await run.progress(waitMs - (deadline - Date.now()), waitMs, `task ${id} is ${state}`);
  }
}

/** Submits a task (POST /v1/tasks) and, with `waitMs`, waits for it. */
async function submitAndWait(api: ApiCall, task: Record<string, unknown>, waitMs: number | undefined, run: ToolRun): Promise<ToolResult> {
  const answer = await api("POST", "/v1/tasks", task);
  if (answer.status >= 400 || waitMs === undefined || waitMs === 0) return toToolResult(answer.status, answer.body);
  const submitted = answer.body as { id: string; state: TaskState };
  if (FINAL_TASK_STATES.has(submitted.state)) return toToolResult(answer.status, answer.body);
  return waitForTask(api, submitted.id, waitMs, run);
}

// Tool schemas are the routes' fields in a fresh object: the routes' own schemas carry an OpenAPI
// id, which would make a tool's whole inputSchema a `$ref` (MCP clients expect `type: object` at the
// top). Cross-field rules (refinements) stay with the routes, whose 400 names the field.

/** The POST /v1/tasks body as a plain object (its cross-field rules are checked by the route, which names the field) plus `waitMs`. */
const SubmitTaskInput = z.strictObject({ ...TaskSubmitSchema.shape, waitMs: WaitMs });

/**
 * The factory's operations as MCP tools, each one or two calls of the HTTP API (see mcp-endpoint.ts
 * for why). Names are snake_case verbs, as MCP clients show them to models.
 */
export const FACTORY_TOOLS: readonly FactoryTool[] = [
  {
    name: "list_agents",
    title: "List agents",
    description: "Agents, newest first, a page at a time (GET /v1/agents): filter by state, role or crewId; `nextCursor` as `cursor` gives the next page.",
    inputSchema: z.strictObject({ state: z.enum(AGENT_STATES).optional(), role: RoleSchema.optional(), crewId: z.string().max(128).optional(), limit: LimitQuery, cursor: CursorQuery }),
    readOnly: true,
    operations: () => ["listAgents"],
    run: (args, api) => forward(api, "GET", `/v1/agents${query(args, ["state", "role", "crewId", "limit", "cursor"])}`),
  },
  {
    name: "get_agent",
    title: "Get an agent",
    description: "One agent by id (GET /v1/agents/{id}): state, profile, crew, load, wallet.",
    inputSchema: z.strictObject({ id: Id }),
    readOnly: true,
    operations: () => ["getAgent"],
    run: (args, api) => forward(api, "GET", `/v1/agents/${seg(String(args.id))}`),
  },
  {
    name: "spawn_agent",
    title: "Spawn an agent",
    description: "Spawn an agent from a registered profile (`profile`) or an inline one (`config`) (POST /v1/agents); answers when it is READY.",
    inputSchema: z.strictObject(SpawnSchema.shape),
    readOnly: false,
    operations: () => ["spawnAgent"],
    run: (args, api) => forward(api, "POST", "/v1/agents", args),
  },
  {
    name: "terminate_agent",
    title: "Terminate an agent",
    description: "Drain and terminate an agent (DELETE /v1/agents/{id}).",
    inputSchema: z.strictObject({ id: Id }),
    readOnly: false,
    destructive: true,
    operations: () => ["terminateAgent"],
    run: (args, api) => forward(api, "DELETE", `/v1/agents/${seg(String(args.id))}`),
  },
  {
    name: "assemble_crew",
    title: "Assemble a crew",
    description: "Assemble a crew from a manifest (POST /v1/crews/assemble); answers with the ACTIVE crew and its agents once every member is READY, or nothing remains.",
    inputSchema: z.strictObject(AssembleSchema.shape),
    readOnly: false,
    operations: () => ["assembleCrew"],
    run: (args, api) => forward(api, "POST", "/v1/crews/assemble", args),
  },
  {
    name: "list_crews",
    title: "List crews",
    description: "Crews, newest first (GET /v1/crews); DISBANDED ones only with `state: DISBANDED`.",
    inputSchema: z.strictObject({ state: CrewStateSchema.optional(), limit: LimitQuery, cursor: CursorQuery }),
    readOnly: true,
    operations: () => ["listCrews"],
    run: (args, api) => forward(api, "GET", `/v1/crews${query(args, ["state", "limit", "cursor"])}`),
  },
  {
    name: "get_crew",
    title: "Get a crew",
    description: "One crew and its agents (GET /v1/crews/{id}).",
    inputSchema: z.strictObject({ id: CrewId }),
    readOnly: true,
    operations: () => ["getCrew"],
    run: (args, api) => forward(api, "GET", `/v1/crews/${seg(String(args.id))}`),
  },
  {
    name: "disband_crew",
    title: "Disband a crew",
    description: "Terminate every member of a crew and mark it DISBANDED (DELETE /v1/crews/{id}).",
    inputSchema: z.strictObject({ id: CrewId }),
    readOnly: false,
    destructive: true,
    operations: () => ["disbandCrew"],
    run: (args, api) => forward(api, "DELETE", `/v1/crews/${seg(String(args.id))}`),
  },
  {
    name: "broadcast",
    title: "Broadcast to a crew",
    description: "Send a signal (and an optional JSON payload) to every member of a crew (POST /v1/crews/{id}/broadcast).",
    inputSchema: z.strictObject({ crewId: CrewId, signal: z.string().min(1).max(64), payload: JsonValueSchema.optional() }),
    readOnly: false,
    operations: () => ["broadcastToCrew"],
    run: ({ crewId, ...body }, api) => forward(api, "POST", `/v1/crews/${seg(String(crewId))}/broadcast`, body),
  },
  {
    name: "get_crew_context",
    title: "Read a crew's context",
    description: "A crew's shared key/value context (GET /v1/crews/{id}/context), or one key of it with `key`.",
    inputSchema: z.strictObject({ crewId: CrewId, key: z.string().min(1).max(256).optional() }),
    readOnly: true,
    operations: (args) => [args.key === undefined ? "getCrewContext" : "getCrewContextKey"],
    run: ({ crewId, key }, api) => forward(api, "GET", `/v1/crews/${seg(String(crewId))}/context${key === undefined ? "" : `/${seg(String(key))}`}`),
  },
  {
    name: "set_crew_context",
    title: "Write a crew's context",
    description: "Set one key of a crew's shared context to a JSON value (PUT /v1/crews/{id}/context/{key}).",
    inputSchema: z.strictObject({ crewId: CrewId, key: z.string().min(1).max(256), value: JsonValueSchema }),
    readOnly: false,
    operations: () => ["setCrewContextKey"],
    run: ({ crewId, key, value }, api) => forward(api, "PUT", `/v1/crews/${seg(String(crewId))}/context/${seg(String(key))}`, { value }),
  },
  {
    name: "submit_task",
    title: "Submit a task",
    description:
      "Submit a task (the POST /v1/tasks body: input, and who may run it — role, profile, capabilities or agentId; crewId for a crew's members). With `waitMs`, waits for it to be final and returns it as it is then.",
    inputSchema: SubmitTaskInput,
    readOnly: false,
    operations: (args) => (args.waitMs === undefined ? ["submitTask"] : ["submitTask", "getTask"]),
    run: ({ waitMs, ...task }, api, run) => submitAndWait(api, task, waitMs as number | undefined, run),
  },
  {
    name: "ask_role",
    title: "Ask a crew's role",
    description: "Give `input` to the member of crew `crewId` playing `role` (e.g. the reviewer) as a task, wait for it (`waitMs`, 60 s by default) and return the task with its output.",
    inputSchema: z.strictObject({ crewId: CrewId, role: RoleSchema, input: JsonValueSchema, waitMs: WaitMs }),
    readOnly: false,
    operations: () => ["submitTask", "getTask"],
    run: ({ waitMs, ...task }, api, run) => submitAndWait(api, task, (waitMs as number | undefined) ?? MAX_WAIT_MS, run),
  },
  {
    name: "get_task",
    title: "Get a task",
    description: "One task by id (GET /v1/tasks/{id}): state, output or error; with `waitMs`, waits for it to be final first.",
    inputSchema: z.strictObject({ id: Id, waitMs: WaitMs }),
    readOnly: true,
    operations: () => ["getTask"],
    run: ({ id, waitMs }, api, run) => (waitMs === undefined || waitMs === 0 ? forward(api, "GET", `/v1/tasks/${seg(String(id))}`) : waitForTask(api, String(id), waitMs as number, run)),
  },
  {
    name: "list_tasks",
    title: "List tasks",
    description: "Tasks, newest first (GET /v1/tasks): filter by state or crewId; `state: DEAD` lists the dead letters.",
    inputSchema: z.strictObject({ state: z.enum(TASK_STATES).optional(), crewId: z.string().max(128).optional(), limit: LimitQuery, cursor: CursorQuery }),
    readOnly: true,
    operations: () => ["listTasks"],
    run: (args, api) => forward(api, "GET", `/v1/tasks${query(args, ["state", "crewId", "limit", "cursor"])}`),
  },
  {
    name: "cancel_task",
    title: "Cancel a task",
    description: "Cancel a queued or running task (POST /v1/tasks/{id}/cancel).",
    inputSchema: z.strictObject({ id: Id }),
    readOnly: false,
    destructive: true,
    operations: () => ["cancelTask"],
    run: ({ id }, api) => forward(api, "POST", `/v1/tasks/${seg(String(id))}/cancel`),
  },
  {
    name: "get_wallet",
    title: "Get a wallet's balance",
    description: "A wallet (an agent's or a crew's, `0x371_…`) and its balance, the sum of its ledger entries (GET /v1/wallets/{address}).",
    inputSchema: z.strictObject({ address: z.string().min(1).max(128) }),
    readOnly: true,
    operations: () => ["getWallet"],
    run: ({ address }, api) => forward(api, "GET", `/v1/wallets/${seg(String(address))}`),
  },
  {
    name: "get_ledger_report",
    title: "Ledger report",
    description:
      "Sums of one kind of ledger entry (usage by default: credits and tokens of model calls) per agent, crew, model or UTC hour/day/month, with the total (GET /v1/ledger/report). A crew-limited key must give its crewId.",
    inputSchema: LedgerReportQuerySchema,
    readOnly: true,
    operations: () => ["getLedgerReport"],
    run: (args, api) => forward(api, "GET", `/v1/ledger/report${query(args, ["by", "kind", "crewId", "agentId", "model", "from", "to"])}`),
  },
  {
    name: "list_pools",
    title: "List pools",
    description: "Every pool (the agents of one profile): size, warm and busy counts, settings (GET /v1/pools).",
    inputSchema: z.strictObject({}),
    readOnly: true,
    operations: () => ["listPools"],
    run: (_args, api) => forward(api, "GET", "/v1/pools"),
  },
  {
    name: "get_pool",
    title: "Get a pool",
    description: "The pool of one profile (GET /v1/pools/{profile}).",
    inputSchema: z.strictObject({ profile: NameSchema }),
    readOnly: true,
    operations: () => ["getPool"],
    run: ({ profile }, api) => forward(api, "GET", `/v1/pools/${seg(String(profile))}`),
  },
];
