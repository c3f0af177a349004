import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Agent } from "../../core/agent.ts";
import { FactoryError } from "../../core/errors.ts";
import type { AgentHandle, AgentRuntime, AgentServices, RunContext } from "../../core/ports/runtime.ts";
import type { Sandbox } from "../../core/ports/sandbox.ts";
import { SandboxSchema, type ProfileRecord } from "../../core/schemas/profile.ts";
import { JsonRpcChannel } from "./json-rpc-channel.ts";

export interface ProcessRuntimeOptions {
  /** Sandboxes by kind (`bubblewrap`, `none`). */
  sandboxes: readonly Sandbox[];
  /** Where agents' workspaces live on the host: `<root>/<agent id>`. */
  workspaceRoot: string;
  /** Host folders no agent may see (the factory's data). */
  hidden: readonly string[];
  /** Longest line an agent may send; longer ones are dropped as malformed. */
  maxLineBytes?: number;
  /** How long `shutdown` may take before the process is killed. */
  shutdownGraceMs?: number;
}

/**
 * Agents that are programs in any language, speaking JSON-RPC 2.0 over stdio
 * (docs/process-agents.md), each in its sandbox. A process that exits or crashes is reported to
 * the factory (`services.lost`), which re-queues its tasks and replaces it under the same id.
 */
export class ProcessRuntime implements AgentRuntime {
  readonly kind = "process";
  readonly #options: ProcessRuntimeOptions;
  readonly #sandboxes: ReadonlyMap<string, Sandbox>;
  readonly #live = new Set<ProcessAgentHandle>();
  /** Lines agents sent that were not JSON-RPC (all agents). */
  malformedLines = 0;

  constructor(options: ProcessRuntimeOptions) {
    this.#options = options;
    this.#sandboxes = new Map(options.sandboxes.map((s) => [s.kind, s]));
    // Nothing may outlive the factory: bubblewrap dies with it, a plain child is killed here.
    process.once("exit", () => {
      for (const handle of this.#live) handle.kill();
    });
  }

  validate(profile: Pick<ProfileRecord, "runtime" | "sandbox">): void {
    if (profile.runtime.kind !== "process") throw new FactoryError("VALIDATION_FAILED", "runtime.kind: not a process runtime", { field: "runtime.kind" });
  }

  async start(agent: Readonly<Agent>, profile: ProfileRecord, services: AgentServices): Promise<AgentHandle> {
    this.validate(profile);
    const runtime = profile.runtime as Extract<ProfileRecord["runtime"], { kind: "process" }>;
    const spec = SandboxSchema.parse(profile.sandbox ?? {});
    const sandbox = this.#sandboxes.get(spec.kind);
    if (sandbox === undefined) throw new FactoryError("SANDBOX_UNAVAILABLE", `sandbox.kind: no '${spec.kind}' sandbox in this factory`, { field: "sandbox.kind" });
    sandbox.check();
    // Relative paths are the factory's working directory's (the repository, for `npm start`).
    const files = runtime.files.map((file) => resolve(file));
    for (const [i, file] of files.entries()) {
      if (!existsSync(file)) throw new FactoryError("AGENT_START_FAILED", `runtime.files.${i}: ${file} does not exist`, { field: `runtime.files.${i}` });
    }
    const workspace = join(resolve(this.#options.workspaceRoot), agent.id);
    mkdirSync(workspace, { recursive: true });
    const launch = sandbox.launch({
      agentId: agent.id,
      command: runtime.command,
      env: runtime.env,
      cwd: runtime.cwd,
      files,
      workspace,
      hidden: this.#options.hidden,
      spec,
    });
    const child = spawn(launch.file, launch.args, { env: launch.env, cwd: launch.cwd, stdio: ["pipe", "pipe", "pipe"], detached: false });
    const handle = new ProcessAgentHandle(child, workspace, services, {
      maxLineBytes: this.#options.maxLineBytes ?? 8 * 1024 * 1024,
      shutdownGraceMs: this.#options.shutdownGraceMs ?? 2_000,
      onMalformed: () => this.malformedLines++,
      onExit: () => this.#live.delete(handle),
    });
    this.#live.add(handle);
    try {
      await handle.initialize(
        { agentId: agent.id, profile: { name: profile.name, version: profile.version, role: profile.role, capabilities: profile.capabilities }, context: agent.context, workspace: sandbox.kind === "none" ? workspace : "/workspace" },
        runtime.initializeTimeoutMs,
      );
    } catch (error) {
      handle.kill();
      throw error;
    }
    return handle;
  }

  /** Ends every agent process (shutdown, then kill), keeping workspaces for the next start. */
  async close(): Promise<void> {
    await Promise.all([...this.#live].map((handle) => handle.shutdown()));
  }
}

interface HandleOptions {
  maxLineBytes: number;
  shutdownGraceMs: number;
  onMalformed(): void;
  onExit(): void;
}

/** One running agent process and its JSON-RPC channel. */
class ProcessAgentHandle implements AgentHandle {
  readonly #child: ChildProcess;
  readonly #channel: JsonRpcChannel;
  readonly #workspace: string;
  readonly #services: AgentServices;
  readonly #options: HandleOptions;
  readonly #exited: Promise<void>;
  #stopping = false;
  #gone = false;

  constructor(child: ChildProcess, workspace: string, services: AgentServices, options: HandleOptions) {
    this.#child = child;
    this.#workspace = workspace;
    this.#services = services;
    this.#options = options;
    this.#channel = new JsonRpcChannel(child.stdout!, child.stdin!, {
      request: (method, params) => {
        if (method === "context/save") {
          const context = (params as { context?: unknown } | null)?.context;
          if (typeof context !== "object" || context === null || Array.isArray(context)) return Promise.reject(new Error("params.context must be an object"));
          services.saveContext(context as Record<string, unknown>);
          return Promise.resolve(null);
        }
        return undefined;
      },
      notification: (method, params) => {
        const p = (params ?? {}) as Record<string, unknown>;
        if (method === "heartbeat") services.heartbeat();
        else if (method === "progress" && typeof p.taskId === "string") {
          services.progress(p.taskId, typeof p.message === "string" ? p.message : undefined, typeof p.fraction === "number" ? p.fraction : undefined);
        } else if (method === "log") services.log(LEVELS.has(p.level as string) ? (p.level as "info") : "info", String(p.message ?? ""));
        else {
          options.onMalformed();
          services.log("warn", `unknown notification '${method}' ignored`);
        }
      },
      malformed: (reason, line) => {
        options.onMalformed();
        services.log("warn", `malformed line from the agent (${reason}): ${line}`);
      },
    }, { maxLineBytes: options.maxLineBytes });
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (text: string) => {
      for (const line of text.split("\n")) if (line.trim().length > 0) services.log("info", line.slice(0, 4_000));
    });
    this.#exited = new Promise<void>((resolveExit) => {
      child.once("error", (error) => {
        this.#onGone(`could not start: ${error.message}`);
        resolveExit();
      });
      child.once("exit", (code, signal) => {
        this.#onGone(signal !== null ? `killed by ${signal}` : `exited with code ${code}`);
        resolveExit();
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  async initialize(params: unknown, timeoutMs: number): Promise<void> {
    try {
      await Promise.race([
        this.#channel.request("initialize", params, timeoutMs),
        this.#exited.then(() => {
          throw new FactoryError("AGENT_START_FAILED", "the agent process exited before answering initialize");
        }),
      ]);
    } catch (error) {
      throw error instanceof FactoryError ? error : new FactoryError("AGENT_START_FAILED", `initialize failed: ${(error as Error).message}`);
    }
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
      const timer = setTimeout(() => this.kill(), this.#options.shutdownGraceMs);
      await this.#exited;
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (!this.#gone) this.#child.kill("SIGKILL");
  }

  #onGone(reason: string): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#options.onExit();
    this.#channel.close(new FactoryError("AGENT_LOST", `the agent process ${reason}`));
    if (!this.#stopping) this.#services.lost(`process ${reason}`);
  }
}

const LEVELS = new Set(["debug", "info", "warn", "error"]);
