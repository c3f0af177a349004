import type { ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { FactoryError } from "../../core/errors.ts";
import type { AgentHandle, AgentServices, RunContext } from "../../core/ports/runtime.ts";
import type { Agent } from "../../core/agent.ts";
import type { ProfileRecord } from "../../core/schemas/profile.ts";
import { JsonRpcChannel } from "./json-rpc-channel.ts";

export interface HandleOptions {
  maxLineBytes: number;
  shutdownGraceMs: number;
  onMalformed(): void;
  onExit(): void;
}

/** One running agent process and its JSON-RPC channel. */
export class ProcessAgentHandle implements AgentHandle {
  /** It must say something (a `heartbeat`, or any message) every heartbeat interval. */
  readonly liveness = "heartbeat";
  readonly #child: ChildProcess;
  readonly #channel: JsonRpcChannel;
  #workspace: string;
  #services: AgentServices;
  /** Resolves when a warm bootstrap says it is ready (never, for an agent started cold). */
  readonly warmReady: Promise<void>;
  #onWarmReady: () => void = () => {};
  readonly #options: HandleOptions;
  readonly #exited: Promise<void>;
  #stopping = false;
  #gone = false;
  /** The agent's last line of stderr: says why a process that never started exited. */
  #lastStderr: string | undefined;

  constructor(child: ChildProcess, workspace: string, services: AgentServices, options: HandleOptions) {
    this.#child = child;
    this.#workspace = workspace;
    this.#services = services;
    this.#options = options;
    this.warmReady = new Promise<void>((resolveReady) => (this.#onWarmReady = resolveReady));
    this.#channel = new JsonRpcChannel(child.stdout!, child.stdin!, {
      request: (method, params) => {
        if (method === "context/save") {
          const context = (params as { context?: unknown } | null)?.context;
          if (typeof context !== "object" || context === null || Array.isArray(context)) return Promise.reject(new Error("params.context must be an object"));
          this.#services.saveContext(context as Record<string, unknown>);
          return Promise.resolve(null);
        }
        return agentRequest(this.#services, method, params);
      },
      notification: (method, params) => {
        const p = (params ?? {}) as Record<string, unknown>;
        if (method === "heartbeat") this.#services.heartbeat();
        else if (method === "progress" && typeof p.taskId === "string") {
          this.#services.progress(p.taskId, typeof p.message === "string" ? p.message : undefined, typeof p.fraction === "number" ? p.fraction : undefined);
        } else if (method === "log") this.#services.log(LEVELS.has(p.level as string) ? (p.level as "info") : "info", String(p.message ?? ""));
        else if (method === "warm/ready") this.#onWarmReady();
        else {
          options.onMalformed();
          this.#services.log("warn", `unknown notification '${method}' ignored`);
        }
      },
      malformed: (reason, line) => {
        options.onMalformed();
        this.#services.log("warn", `malformed line from the agent (${reason}): ${line}`);
      },
    }, { maxLineBytes: options.maxLineBytes });
    // Any line from the agent shows it is alive, not only `heartbeat`.
    child.stdout!.on("data", () => this.#services.heartbeat());
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (text: string) => {
      for (const line of text.split("\n")) {
        if (line.trim().length === 0) continue;
        this.#lastStderr = line.slice(0, 300);
        this.#services.log("info", line.slice(0, 4_000));
      }
    });
    this.#exited = new Promise<void>((resolveExit) => {
      child.once("error", (error) => {
        this.#onGone(`could not start: ${error.message}`);
        resolveExit();
      });
      // "close", not "exit": by then stderr is read, so the reason can quote its last line.
      child.once("close", (code, signal) => {
        const said = this.#lastStderr === undefined ? "" : ` (its last words: ${this.#lastStderr})`;
        this.#onGone(`${signal !== null ? `killed by ${signal}` : `exited with code ${code}`}${said}`);
        resolveExit();
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Resolves when the process has exited. */
  get exited(): Promise<void> {
    return this.#exited;
  }

  get workspace(): string {
    return this.#workspace;
  }

  /** A warm sandbox becomes an agent's: its services and (renamed) workspace. */
  adopt(services: AgentServices, workspace: string): void {
    this.#services = services;
    this.#workspace = workspace;
  }

  /** Hands a warm bootstrap the agent's code and settings; it runs them in place. */
  async specialize(params: unknown, timeoutMs: number): Promise<void> {
    await this.#channel.request("warm/specialize", params, timeoutMs);
  }

  async initialize(params: unknown, timeoutMs: number): Promise<void> {
    // Its identity for whoever it calls: a signed token now, a fresh one before each expires.
    const token = await this.#services.token?.();
    const withToken = token === undefined ? params : { ...(params as Record<string, unknown>), token: token.token, tokenExpiresAt: token.expiresAt };
    try {
      await Promise.race([
        this.#channel.request("initialize", withToken, timeoutMs),
        this.#exited.then(() => {
          throw new FactoryError("AGENT_START_FAILED", "the agent process exited before answering initialize");
        }),
      ]);
    } catch (error) {
      throw error instanceof FactoryError ? error : new FactoryError("AGENT_START_FAILED", `initialize failed: ${(error as Error).message}`);
    }
    if (token !== undefined) this.#refreshAt(token.expiresAt);
  }

  #refreshTimer: NodeJS.Timeout | undefined;

  /** Sends `token/refresh` with a new token when two thirds of this one's life have passed. */
  #refreshAt(expiresAt: string): void {
    const wait = Math.max(1_000, ((Date.parse(expiresAt) - Date.now()) * 2) / 3);
    this.#refreshTimer = setTimeout(() => {
      if (this.#gone || this.#stopping) return;
      this.#services
        .token?.()
        .then((next) => {
          if (next === undefined || this.#gone || this.#stopping) return;
          this.#channel.notify("token/refresh", { token: next.token, expiresAt: next.expiresAt });
          this.#refreshAt(next.expiresAt);
        })
        .catch((error: unknown) => {
          this.#services.log("warn", `its token could not be refreshed: ${error instanceof Error ? error.message : String(error)}; retrying`);
          this.#refreshAt(new Date(Date.now() + 3_000).toISOString());
        });
    }, wait);
    this.#refreshTimer.unref();
  }

  async run(input: unknown, { task, signal }: RunContext): Promise<unknown> {
    const onAbort = (): void => this.#channel.notify("task/cancel", { taskId: task.id });
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await this.#channel.request("task/run", { taskId: task.id, input });
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  async signal(name: string, payload: unknown): Promise<void> {
    this.#channel.notify("signal", { signal: name, payload });
  }

  /** The agent terminates: shutdown, kill if it lingers, wipe its workspace. */
  async stop(): Promise<void> {
    await this.shutdown();
    rmSync(this.#workspace, { recursive: true, force: true });
  }

  /** Asks the agent to exit, then kills it after the grace period. Keeps the workspace. */
  async shutdown(): Promise<void> {
    this.#stopping = true;
    if (!this.#gone) {
      void this.#channel.request("shutdown", null, this.#options.shutdownGraceMs).catch(() => {});
      const timer = setTimeout(() => this.killNow(), this.#options.shutdownGraceMs);
      await this.#exited;
      clearTimeout(timer);
    }
  }

  killNow(): void {
    if (!this.#gone) this.#child.kill("SIGKILL");
  }

  /** kill -9, resolved once the process is gone (the workspace stays: a replacement gets it). */
  async kill(): Promise<void> {
    this.#stopping = true;
    this.killNow();
    // The process is gone at its "exit"; "close" also waits for its pipes, which a grandchild
    // it left behind (no sandbox) could hold open forever.
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    await Promise.race([this.#exited, new Promise<void>((resolve) => this.#child.once("exit", () => resolve()))]);
  }

  /** Hibernation: the agent is asked to exit (it may save its context first); the workspace stays. */
  async suspend(): Promise<void> {
    await this.shutdown();
  }

  /** SIGSTOP to the sandbox and everything in it, SIGCONT after `ms`: a frozen agent, for chaos runs. */
  freeze(ms: number): void {
    const pid = this.#child.pid;
    if (pid === undefined || this.#gone) return;
    const tree = processTree(pid);
    for (const p of tree) signalQuietly(p, "SIGSTOP");
    setTimeout(() => {
      for (const p of tree) signalQuietly(p, "SIGCONT");
    }, ms).unref();
  }

  #onGone(reason: string): void {
    if (this.#gone) return;
    this.#gone = true;
    clearTimeout(this.#refreshTimer);
    this.#options.onExit();
    this.#channel.close(new FactoryError("AGENT_LOST", `the agent process ${reason}`));
    if (!this.#stopping) this.#services.lost(`process ${reason}`);
  }
}

const LEVELS = new Set(["debug", "info", "warn", "error"]);

/** A process and its descendants (Linux /proc), parents first. */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i] as number;
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      try {
        for (const child of readFileSync(`/proc/${p}/task/${task}/children`, "utf8").split(" ")) if (child.trim() !== "") out.push(Number(child));
      } catch {
        // the task ended meanwhile
      }
    }
  }
  return out;
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Every agent process of every factory in this Node process, so that nothing outlives it:
 * bubblewrap dies with its parent anyway, a plain (`kind: none`) child is killed here. One
 * exit hook for all factories.
 */
const ALL = new Set<ProcessAgentHandle>();
let exitHook = false;

export function track(handle: ProcessAgentHandle): void {
  ALL.add(handle);
  void handle.exited.then(() => ALL.delete(handle));
  if (!exitHook) {
    exitHook = true;
    process.once("exit", () => {
      for (const h of ALL) h.killNow();
    });
  }
}

/** What the `initialize` request tells an agent: who it is, its profile, its context and where its workspace is. */
export function initializeParams(agent: Readonly<Agent>, profile: ProfileRecord, workspace: string): unknown {
  return {
    agentId: agent.id,
    profile: { name: profile.name, version: profile.version, role: profile.role, capabilities: profile.capabilities },
    context: agent.context,
    workspace,
    // How often the agent must say it is alive (0: it is not watched).
    heartbeatIntervalMs: profile.health.heartbeatIntervalMs,
  };
}

/**
 * What an agent may ask of the factory on its own stdio channel (the channel is its identity):
 * its crew's context and bus, sub-tasks of its attempts, tasks it submitted, model calls for its
 * attempts. `crewId`, when given, must be the agent's own: another is `CROSS_CREW`. Undefined for
 * a method the factory does not know (the channel answers "method not found").
 */
export function agentRequest(services: AgentServices, method: string, params: unknown): Promise<unknown> | undefined {
  const p = (typeof params === "object" && params !== null ? params : {}) as Record<string, unknown>;
  const refuse = (code: "CROSS_CREW" | "FORBIDDEN", reason: string, field?: string): never => {
    services.denied?.(method, code, reason);
    throw new FactoryError(code, reason, field === undefined ? {} : { field });
  };
  const crewOf = (): NonNullable<AgentServices["crew"]> => {
    const crew = services.crew;
    if (typeof p.crewId === "string" && p.crewId !== crew?.crewId) {
      refuse("CROSS_CREW", `crewId: the agent is ${crew === null ? "in no crew" : `in crew ${crew.crewId}`}, not in ${p.crewId}`, "crewId");
    }
    if (crew === null) return refuse("CROSS_CREW", "the agent is in no crew: it has no crew context or bus", "crewId");
    return crew;
  };
  const text = (field: string): string => {
    const value = p[field];
    if (typeof value !== "string" || value.length === 0) throw new FactoryError("VALIDATION_FAILED", `params.${field}: a non-empty string is required`, { field });
    return value;
  };
  const run = (fn: () => Promise<unknown>): Promise<unknown> => Promise.resolve().then(fn);
  switch (method) {
    case "crew/context/get":
      return run(async () => ({ value: (await crewOf().get(text("key"))) ?? null }));
    case "crew/context/set":
      return run(async () => {
        await crewOf().set(text("key"), p.value);
        return null;
      });
    case "crew/publish":
      return run(async () => {
        await crewOf().publish(text("topic"), p.payload ?? null);
        return null;
      });
    case "task/submit":
      return run(async () => {
        if (services.tasks === undefined) throw new FactoryError("VALIDATION_FAILED", "this agent cannot submit tasks");
        if (typeof p.crewId === "string") crewOf(); // its own crew, or CROSS_CREW
        const { parentTaskId, ...request } = p;
        if (typeof parentTaskId !== "string") throw new FactoryError("VALIDATION_FAILED", "params.parentTaskId: the attempt it runs that the sub-task belongs to", { field: "parentTaskId" });
        return services.tasks.submit(parentTaskId, request as never);
      });
    case "task/get":
      return run(async () => {
        if (services.tasks === undefined) throw new FactoryError("VALIDATION_FAILED", "this agent cannot read tasks");
        return services.tasks.wait(text("id"), typeof p.waitMs === "number" ? Math.max(0, Math.min(p.waitMs, 60_000)) : 0);
      });
    case "model/call":
      return run(async () => {
        if (services.models === undefined) throw new FactoryError("VALIDATION_FAILED", "this agent has no model access");
        const { taskId, ...request } = p;
        if (typeof taskId !== "string") throw new FactoryError("VALIDATION_FAILED", "params.taskId: the attempt it runs that the call is for", { field: "taskId" });
        if (!Array.isArray(request.messages)) throw new FactoryError("VALIDATION_FAILED", "params.messages: an array of messages is required", { field: "messages" });
        return services.models.call(taskId, request as never);
      });
    case "agent/spawn":
      return run(async () => {
        if (services.agents === undefined) return refuse("FORBIDDEN", "this agent may not spawn agents");
        if (typeof p.crewId === "string") crewOf();
        return services.agents.spawn(text("profile"));
      });
    case "agent/terminate":
      return run(async () => {
        if (services.agents === undefined) return refuse("FORBIDDEN", "this agent may not terminate agents");
        if (typeof p.crewId === "string") crewOf();
        return services.agents.terminate(text("id"));
      });
    case "tools/list":
      return run(async () => ({ tools: services.tools?.list() ?? [] }));
    case "tools/call":
      return run(async () => {
        if (services.tools === undefined) throw new FactoryError("TOOL_NOT_FOUND", "this agent has no MCP servers (its profile declares no mcpServers)", { field: "server" });
        if (p.arguments !== undefined && (typeof p.arguments !== "object" || p.arguments === null || Array.isArray(p.arguments))) {
          throw new FactoryError("VALIDATION_FAILED", "params.arguments: must be an object of the tool's arguments", { field: "arguments" });
        }
        return services.tools.call(text("server"), text("tool"), p.arguments ?? {});
      });
    default:
      return undefined;
  }
}
