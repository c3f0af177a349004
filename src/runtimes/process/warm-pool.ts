import { randomUUID } from "node:crypto";
import { fstatSync, mkdirSync, readdirSync, readFileSync, rmSync, existsSync } from "node:fs";
import { rename } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Agent } from "../../core/agent.ts";
import type { AgentHandle, AgentServices } from "../../core/ports/runtime.ts";
import type { Sandbox, SandboxLaunch } from "../../core/ports/sandbox.ts";
import type { ProfileRecord, SandboxSpec } from "../../core/schemas/profile.ts";
import { Samples } from "../../core/samples.ts";
import { initializeParams, type ProcessAgentHandle } from "./process-agent-handle.ts";

export interface WarmPoolOptions {
  /** Sandboxes by kind, as the runtime has them. */
  sandboxes: ReadonlyMap<string, Sandbox>;
  /** Where warm slots are made: `<root>/.warm-<uuid>`, renamed to the agent's folder at a lease. */
  workspaceRoot: string;
  /** Host folders no agent may see (the factory's data). */
  hidden: readonly string[];
  /** Warm sandboxes kept per interpreter and sandbox settings (default 2; 0 disables). */
  warmPerKind?: number;
  /** Starts a launched program as a tracked agent process (the runtime's own launch). */
  launch(launch: SandboxLaunch, workspace: string, services: AgentServices): ProcessAgentHandle;
}

/**
 * Sandboxes started generic before any agent asks (a `python3` or `node` bootstrap), kept per
 * interpreter and sandbox settings, and specialized at spawn by handing them the profile's code:
 * a spawn then skips the sandbox's start-up.
 */
export class WarmPool {
  readonly #options: WarmPoolOptions;
  readonly #warm = new Map<string, { ready: ProcessAgentHandle[]; starting: number }>();
  #closing = false;
  /** Milliseconds each warm lease took: take a ready sandbox, send it the code. */
  readonly leaseMs = new Samples(4_096);
  /** Milliseconds from the lease's start until the sandbox accepted the code. */
  readonly specializeMs = new Samples(4_096);

  constructor(options: WarmPoolOptions) {
    this.#options = options;
  }

  /** Makes a ready warm sandbox of pool `key` the agent's (undefined when none is ready), then refills the pool. */
  async lease(
    key: string,
    source: { sandbox: Sandbox; spec: SandboxSpec },
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
      this.refill(key, source.sandbox, source.spec);
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

  /** Starts generic sandboxes for `key` until `warmPerKind` are ready or starting. */
  refill(key: string, sandbox: Sandbox, spec: SandboxSpec): void {
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
      const handle: ProcessAgentHandle = this.#options.launch(
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

  /** How many warm sandboxes are ready to lease. */
  get readyCount(): number {
    let warm = 0;
    for (const pool of this.#warm.values()) warm += pool.ready.length;
    return warm;
  }

  /** No more refills; the ready sandboxes are killed. */
  close(): void {
    this.#closing = true;
    const warm = [...this.#warm.values()].flatMap((pool) => pool.ready);
    this.#warm.clear();
    for (const handle of warm) handle.killNow();
  }

  /** Removes every warm slot's folder (ready or still starting): they have no agent to come back to. */
  removeSlots(): void {
    const root = resolve(this.#options.workspaceRoot);
    for (const entry of existsSync(root) ? readdirSync(root) : []) if (entry.startsWith(".warm-")) rmSync(join(root, entry), { recursive: true, force: true });
  }
}

const BOOTSTRAP = {
  python3: fileURLToPath(new URL("./bootstrap/warm.py", import.meta.url)),
  node: fileURLToPath(new URL("./bootstrap/warm.mjs", import.meta.url)),
} as const;

/** One checked, open `runtime.files` entry: its descriptor, its real host path, and the name it has under /agent. */
export interface AgentFile {
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
export function warmKey(runtime: Extract<ProfileRecord["runtime"], { kind: "process" }>, spec: SandboxSpec, files: readonly AgentFile[]): string | undefined {
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

/** What a warm sandbox reports to before it belongs to an agent: only that it is gone. */
function warmServices(gone: () => void): AgentServices {
  return { crew: null, saveContext: () => {}, lost: gone, heartbeat: () => {}, progress: () => {}, log: () => {} };
}
