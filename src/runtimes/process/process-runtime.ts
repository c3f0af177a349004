import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { closeSync, existsSync, fstatSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { rename } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Agent } from "../../core/agent.ts";
import { FactoryError, type ErrorCode } from "../../core/errors.ts";
import type { AgentHandle, AgentRuntime, AgentServices, RunContext } from "../../core/ports/runtime.ts";
import type { Sandbox, SandboxLaunch } from "../../core/ports/sandbox.ts";
import { SandboxSchema, type ProfileRecord, type SandboxSpec } from "../../core/schemas/profile.ts";
import { Samples } from "../../core/samples.ts";
import type { AgentFiles } from "./agent-files.ts";
import { JsonRpcChannel } from "./json-rpc-channel.ts";

export interface ProcessRuntimeOptions {
  /** Sandboxes by kind (`bubblewrap`, `none`). */
  sandboxes: readonly Sandbox[];
  /** Where agents' workspaces live on the host: `<root>/<agent id>`. */
  workspaceRoot: string;
  /** Host folders no agent may see (the factory's data). */
  hidden: readonly string[];
  /** Which host paths profiles' `runtime.files` may name. */
  agentFiles: AgentFiles;
  /** Whether profiles may ask for `sandbox: { kind: none }` (a plain child process on the host); default false. */
  allowUnsandboxed?: boolean;
  /** Whether profiles may ask for `sandbox: { allowEgress: true }` (the host's network, loopback included); default false. */
  allowEgress?: boolean;
  /** Longest line an agent may send; longer ones are dropped as malformed. */
  maxLineBytes?: number;
  /** How long `shutdown` may take before the process is killed. */
  shutdownGraceMs?: number;
  /**
   * Warm sandboxes kept per interpreter and sandbox settings (default 2; 0 disables): started
   * generic, specialized at spawn by handing them the profile's code.
   */
  warmPerKind?: number;
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
  }

  validate(profile: Pick<ProfileRecord, "runtime" | "sandbox">): void {
    if (profile.runtime.kind !== "process") throw new FactoryError("VALIDATION_FAILED", "runtime.kind: not a process runtime", { field: "runtime.kind" });
    this.#permit(SandboxSchema.parse(profile.sandbox ?? {}), "VALIDATION_FAILED");
    this.#options.agentFiles.resolve(profile.runtime.files);
  }

  /** Unsandboxed agents run on the host as the factory's user, and egress shares the host's network: only when the operator said so. */
  #permit(spec: SandboxSpec, code: ErrorCode): void {
    // An agent on the host's network reaches its loopback too: the factory's own API among it.
    if (spec.allowEgress && this.#options.allowEgress !== true) {
      throw new FactoryError(
        code,
        "sandbox.allowEgress: the agent would share this host's network, loopback included (this factory's API, local databases); this server does not allow it (start it with --allow-egress and an AGENT_FACTORY_API_KEY, or createFactory({ allowEgress: true }))",
        { field: "sandbox.allowEgress" },
      );
    }
    if (spec.kind === "none" && this.#options.allowUnsandboxed !== true) {
      throw new FactoryError(
        code,
        "sandbox.kind: 'none' would run the program on the host, unsandboxed, as the factory's user; this server does not allow it (start it with --allow-unsandboxed, or createFactory({ allowUnsandboxed: true }))",
        { field: "sandbox.kind" },
      );
    }
  }

  async start(agent: Readonly<Agent>, profile: ProfileRecord, services: AgentServices): Promise<AgentHandle> {
    this.validate(profile);
    const runtime = profile.runtime as Extract<ProfileRecord["runtime"], { kind: "process" }>;
    const spec = SandboxSchema.parse(profile.sandbox ?? {});
    const sandbox = this.#sandboxes.get(spec.kind);
    if (sandbox === undefined) throw new FactoryError("SANDBOX_UNAVAILABLE", `sandbox.kind: no '${spec.kind}' sandbox in this factory`, { field: "sandbox.kind" });
    this.#permit(spec, "AGENT_START_FAILED");
    sandbox.check();
    // Checked again at every start (a file may have become a symlink out of bounds) and opened:
    // the open files are mounted or read, under their declared names, not whatever the names point to later.
    const opened = this.#options.agentFiles.open(runtime.files, "AGENT_START_FAILED");
    const files = opened.map(({ fd, real }, i) => ({ fd, host: real, name: basename(runtime.files[i] as string) }));
    const workspace = join(resolve(this.#options.workspaceRoot), agent.id);
    let handle: ProcessAgentHandle;
    let key: string | undefined;
    try {
      key = warmKey(runtime, spec, files);
      if (key !== undefined && !existsSync(workspace)) {
        const leased = await this.#leaseWarm(key, agent, profile, services, workspace, files, runtime);
        if (leased !== undefined) return leased;
      }
      mkdirSync(workspace, { recursive: true });
      const launch = sandbox.launch({
        agentId: agent.id,
        command: runtime.command,
        env: runtime.env,
        cwd: runtime.cwd,
        files: files.map(({ fd, host, name }) => ({ fd, host, path: join("/agent", name) })),
        workspace,
        hidden: this.#options.hidden,
        spec,
      });
      handle = this.#launch(launch, workspace, services);
    } finally {
      // The child has its own copies by now.
      for (const { fd } of opened) closeSync(fd);
    }
    try {
      await handle.initialize(initializeParams(agent, profile, sandbox.kind === "none" ? workspace : "/workspace"), runtime.initializeTimeoutMs);
    } catch (error) {
      handle.killNow();
      throw error;
    }
    if (key !== undefined) this.#refill(key, sandbox, spec);
    return handle;
  }

  /** Starts a launched program and keeps track of it until it exits. */
  #launch(launch: SandboxLaunch, workspace: string, services: AgentServices): ProcessAgentHandle {
    // Its own process group: a Ctrl-C at the factory's terminal reaches the factory, which
    // drains and shuts agents down in order, not every agent at once.
    const child = spawn(launch.file, launch.args, { env: launch.env, cwd: launch.cwd, stdio: ["pipe", "pipe", "pipe", ...(launch.fds ?? [])], detached: true });
    const handle: ProcessAgentHandle = new ProcessAgentHandle(child, workspace, services, {
      maxLineBytes: this.#options.maxLineBytes ?? 8 * 1024 * 1024,
      shutdownGraceMs: this.#options.shutdownGraceMs ?? 2_000,
      onMalformed: () => this.malformedLines++,
      onExit: () => this.#live.delete(handle),
    });
    this.#live.add(handle);
    track(handle);
    return handle;
  }

  // ---------------------------------------------------------------- warm sandboxes

  readonly #warm = new Map<string, { ready: ProcessAgentHandle[]; starting: number }>();
  /** Milliseconds each warm lease took: take a ready sandbox, send it the code. */
  readonly leaseMs = new Samples(4_096);
  /** Milliseconds from the lease's start until the sandbox accepted the code. */
  readonly specializeMs = new Samples(4_096);

  async #leaseWarm(
    key: string,
    agent: Readonly<Agent>,
    profile: ProfileRecord,
    services: AgentServices,
    workspace: string,
    files: readonly AgentFile[],
    runtime: Extract<ProfileRecord["runtime"], { kind: "process" }>,
  ): Promise<AgentHandle | undefined> {
    const pool = this.#warm.get(key);
    const handle = pool?.ready.shift();
    if (pool === undefined || handle === undefined) return undefined;
    const started = performance.now();
    const slot = handle.workspace;
    handle.adopt(services, workspace);
    try {
      const accepted = handle.specialize(
        {
          files: Object.fromEntries(files.map(({ fd, host, name }) => [name, this.#read(fd, host)])),
          env: { AGENT_ID: agent.id, ...runtime.env },
          cwd: runtime.cwd ?? "/workspace",
          argv: runtime.command.slice(1),
        },
        runtime.initializeTimeoutMs,
      );
      this.leaseMs.add(performance.now() - started);
      // The sandbox was started on a slot folder: renaming it (off the lease's path) keeps the
      // bind mount, and the folder gets the agent's name for restarts and wiping.
      await rename(slot, workspace);
      await accepted;
      this.specializeMs.add(performance.now() - started);
      await handle.initialize(initializeParams(agent, profile, "/workspace"), runtime.initializeTimeoutMs);
    } catch (error) {
      handle.killNow();
      throw error;
    } finally {
      const [sandbox, spec] = this.#warmSource(profile);
      if (sandbox !== undefined) this.#refill(key, sandbox, spec);
    }
    return handle;
  }

  readonly #code = new Map<string, { mtimeMs: number; size: number; text: string }>();

  /**
   * An agent file's text, read through its checked open descriptor (so a file swapped since the
   * check is not what is read), re-read only when it changed on disk (a lease stays cheap).
   */
  #read(fd: number, real: string): string {
    const stat = fstatSync(fd);
    const cached = this.#code.get(real);
    if (cached !== undefined && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached.text;
    // Opening /proc/self/fd/N opens the very file the O_PATH descriptor names.
    const text = readFileSync(`/proc/self/fd/${fd}`, "utf8");
    this.#code.set(real, { mtimeMs: stat.mtimeMs, size: stat.size, text });
    return text;
  }

  #warmSource(profile: ProfileRecord): [Sandbox | undefined, SandboxSpec] {
    const spec = SandboxSchema.parse(profile.sandbox ?? {});
    return [this.#sandboxes.get(spec.kind), spec];
  }

  /** Starts generic sandboxes for `key` until `warmPerKind` are ready or starting. */
  #refill(key: string, sandbox: Sandbox, spec: SandboxSpec): void {
    const target = this.#options.warmPerKind ?? 2;
    if (target <= 0 || this.#closing) return;
    let pool = this.#warm.get(key);
    if (pool === undefined) {
      pool = { ready: [], starting: 0 };
      this.#warm.set(key, pool);
    }
    const interpreter = key.split("|")[0] as "python3" | "node";
    while (pool.ready.length + pool.starting < target) {
      pool.starting++;
      const slot = join(resolve(this.#options.workspaceRoot), `.warm-${randomUUID()}`);
      mkdirSync(slot, { recursive: true });
      const bootstrap = BOOTSTRAP[interpreter];
      const launch = sandbox.launch({
        agentId: "warm",
        command: [interpreter, `/warm/${basename(bootstrap)}`],
        env: {},
        cwd: undefined,
        files: [],
        workspace: slot,
        hidden: this.#options.hidden,
        spec,
        warm: { readOnly: [{ host: bootstrap, path: `/warm/${basename(bootstrap)}` }] },
      });
      const current = pool;
      const handle: ProcessAgentHandle = this.#launch(
        launch,
        slot,
        warmServices(() => {
          current.ready = current.ready.filter((h) => h !== handle);
          rmSync(slot, { recursive: true, force: true });
        }),
      );
      handle.warmReady.then(
        () => {
          current.starting--;
          if (this.#closing) handle.killNow();
          else current.ready.push(handle);
        },
        () => {
          current.starting--;
        },
      );
    }
  }

  #closing = false;

  /** A hibernated agent ended: its kept workspace goes. */
  forget(agentId: string): void {
    if (!/^[A-Za-z0-9_-]+$/.test(agentId)) return;
    rmSync(join(resolve(this.#options.workspaceRoot), agentId), { recursive: true, force: true });
  }

  /** Ends every agent process (shutdown, then kill), keeping workspaces for the next start; warm slots go. */
  async close(): Promise<void> {
    this.#closing = true;
    const warm = [...this.#warm.values()].flatMap((pool) => pool.ready);
    this.#warm.clear();
    for (const handle of warm) handle.killNow();
    await Promise.all([...this.#live].map((handle) => handle.shutdown()));
    // Warm slots (ready or still starting) have no agent to come back to.
    const root = resolve(this.#options.workspaceRoot);
    for (const entry of existsSync(root) ? readdirSync(root) : []) if (entry.startsWith(".warm-")) rmSync(join(root, entry), { recursive: true, force: true });
    for (const sandbox of this.#sandboxes.values()) sandbox.close?.();
  }

  /** Counters for /ready and the benchmarks. */
  stats(): Record<string, unknown> {
    let warm = 0;
    for (const pool of this.#warm.values()) warm += pool.ready.length;
    return {
      processes: this.#live.size,
      warmReady: warm,
      warmLeases: this.leaseMs.count,
      leaseP50Ms: round3(this.leaseMs.quantile(0.5)),
      leaseP99Ms: round3(this.leaseMs.quantile(0.99)),
      specializedP50Ms: round3(this.specializeMs.quantile(0.5)),
      specializedP99Ms: round3(this.specializeMs.quantile(0.99)),
      malformedLines: this.malformedLines,
      // Who a sandboxed agent is on the host: 65534 when the factory is root, otherwise the factory's own uid.
      agentHostUid: this.#sandboxes.get("bubblewrap")?.agentHostUid ?? null,
    };
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
        return undefined;
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

function track(handle: ProcessAgentHandle): void {
  ALL.add(handle);
  void handle.exited.then(() => ALL.delete(handle));
  if (!exitHook) {
    exitHook = true;
    process.once("exit", () => {
      for (const h of ALL) h.killNow();
    });
  }
}

const round3 = (ms: number): number => Math.round(ms * 1000) / 1000;

const BOOTSTRAP = {
  python3: fileURLToPath(new URL("./bootstrap/warm.py", import.meta.url)),
  node: fileURLToPath(new URL("./bootstrap/warm.mjs", import.meta.url)),
} as const;

/** One checked, open `runtime.files` entry: its descriptor, its real host path, and the name it has under /agent. */
interface AgentFile {
  fd: number;
  host: string;
  name: string;
}

/** Largest agent file a warm sandbox is handed inline; bigger code starts cold. */
const WARM_FILE_LIMIT = 1024 * 1024;

/**
 * Which warm pool can run a profile: `python3` or `node` running one of its files under /agent,
 * in bubblewrap, with small files. Sandboxes are shared only between identical sandbox settings.
 */
function warmKey(runtime: Extract<ProfileRecord["runtime"], { kind: "process" }>, spec: SandboxSpec, files: readonly AgentFile[]): string | undefined {
  const [interpreter, main] = runtime.command;
  if ((interpreter !== "python3" && interpreter !== "node") || main === undefined || !main.startsWith("/agent/") || spec.kind !== "bubblewrap") return undefined;
  if (!files.some((f) => `/agent/${f.name}` === main)) return undefined;
  for (const { fd } of files) {
    const stat = fstatSync(fd);
    // The factory reads a warm agent's code for it: only what any user may read, or a file the
    // agent could not read when mounted cold (a root-only one) would reach it this way.
    if (!stat.isFile() || stat.size > WARM_FILE_LIMIT || (stat.mode & 0o004) === 0) return undefined;
  }
  return `${interpreter}|${JSON.stringify(spec)}`;
}

function initializeParams(agent: Readonly<Agent>, profile: ProfileRecord, workspace: string): unknown {
  return {
    agentId: agent.id,
    profile: { name: profile.name, version: profile.version, role: profile.role, capabilities: profile.capabilities },
    context: agent.context,
    workspace,
    // How often the agent must say it is alive (0: it is not watched).
    heartbeatIntervalMs: profile.health.heartbeatIntervalMs,
  };
}

/** What a warm sandbox reports to before it belongs to an agent: only that it is gone. */
function warmServices(gone: () => void): AgentServices {
  return { crew: null, saveContext: () => {}, lost: gone, heartbeat: () => {}, progress: () => {}, log: () => {} };
}
