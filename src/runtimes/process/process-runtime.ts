import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { Agent } from "../../core/agent.ts";
import { FactoryError, type ErrorCode } from "../../core/errors.ts";
import type { AgentHandle, AgentRuntime, AgentServices } from "../../core/ports/runtime.ts";
import type { Sandbox, SandboxLaunch } from "../../core/ports/sandbox.ts";
import { SandboxSchema, type ProfileRecord, type SandboxSpec } from "../../core/schemas/profile.ts";
import type { Samples } from "../../core/samples.ts";
import type { AgentFiles, OpenAgentFile } from "./agent-files.ts";
import { SkillPacks } from "./skill-packs.ts";
import { initializeParams, ProcessAgentHandle, track } from "./process-agent-handle.ts";
import { WarmPool, warmKey } from "./warm-pool.ts";

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
  readonly #warm: WarmPool;
  readonly #skills: SkillPacks;
  /** Lines agents sent that were not JSON-RPC (all agents). */
  malformedLines = 0;
  /** Milliseconds each warm lease took: take a ready sandbox, send it the code. */
  readonly leaseMs: Samples;
  /** Milliseconds from the lease's start until the sandbox accepted the code. */
  readonly specializeMs: Samples;

  constructor(options: ProcessRuntimeOptions) {
    this.#options = options;
    this.#sandboxes = new Map(options.sandboxes.map((s) => [s.kind, s]));
    this.#skills = new SkillPacks(options.agentFiles);
    this.#warm = new WarmPool({
      sandboxes: this.#sandboxes,
      workspaceRoot: options.workspaceRoot,
      hidden: options.hidden,
      warmPerKind: options.warmPerKind,
      launch: (launch, workspace, services) => this.#launch(launch, workspace, services),
    });
    this.leaseMs = this.#warm.leaseMs;
    this.specializeMs = this.#warm.specializeMs;
  }

  validate(profile: Pick<ProfileRecord, "runtime" | "sandbox" | "skills">): void {
    if (profile.runtime.kind !== "process") throw new FactoryError("VALIDATION_FAILED", "runtime.kind: not a process runtime", { field: "runtime.kind" });
    const spec = SandboxSchema.parse(profile.sandbox ?? {});
    this.#permit(spec, "VALIDATION_FAILED");
    this.#options.agentFiles.resolve(profile.runtime.files);
    this.#skills.check(profile.skills ?? [], spec);
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
    // The rest of validate() is done below once, as a start's checks (permit, then the files opened).
    if (profile.runtime.kind !== "process") throw new FactoryError("VALIDATION_FAILED", "runtime.kind: not a process runtime", { field: "runtime.kind" });
    const runtime = profile.runtime;
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
    // `reviewer` (without `coder`): the workspace is mounted read-only by the sandbox.
    // The agent's scopes (a crew manifest may have narrowed its profile's).
    const readOnly = agent.scopes.includes("reviewer") && !agent.scopes.includes("coder");
    if (readOnly && spec.kind === "none") {
      for (const { fd } of opened) closeSync(fd);
      throw new FactoryError("AGENT_START_FAILED", "scopes: a reviewer's workspace is read-only, which only a sandbox can enforce; this profile has sandbox.kind none", { field: "scopes" });
    }
    // A member of a `network: crew` crew joins its crew's namespace; one on the host's network (unsandboxed, or egress) would be outside it.
    const crewNetwork = agent.network === "crew" && agent.crewId !== null ? { crewId: agent.crewId } : undefined;
    if (crewNetwork !== undefined && (spec.kind === "none" || spec.allowEgress)) {
      for (const { fd } of opened) closeSync(fd);
      throw new FactoryError("AGENT_START_FAILED", `network: agent ${agent.id} is a member of crew ${crewNetwork.crewId}, whose members share a crew network; profile ${profile.name} ${spec.kind === "none" ? "is unsandboxed (sandbox.kind none)" : "allows egress (sandbox.allowEgress)"}, which would put it on the host's network instead`, { field: "network" });
    }
    const skills = profile.skills ?? [];
    let packs: OpenAgentFile[] = [];
    try {
      // Checked and opened at every start, as the files are: the open folders are mounted.
      packs = this.#skills.open(skills, spec, "AGENT_START_FAILED");
      // A warm sandbox was started with a writable workspace, a network of its own and no skill packs: a reviewer, a crew network's member, or an agent with packs starts cold.
      key = readOnly || crewNetwork !== undefined || packs.length > 0 ? undefined : warmKey(runtime, spec, files);
      if (key !== undefined && !existsSync(workspace)) {
        const leased = await this.#warm.lease(key, { sandbox, spec }, agent, profile, services, workspace, files, runtime);
        if (leased !== undefined) return leased;
      }
      mkdirSync(workspace, { recursive: true });
      const launch = sandbox.launch({
        agentId: agent.id,
        command: runtime.command,
        env: runtime.env,
        cwd: runtime.cwd,
        files: [
          ...files.map(({ fd, host, name }) => ({ fd, host, path: join("/agent", name) })),
          ...packs.map(({ fd, real }, i) => ({ fd, host: real, path: join("/skills", skills[i]?.name ?? String(i)) })),
        ],
        workspace,
        ...(readOnly ? { workspaceReadOnly: true } : {}),
        hidden: this.#options.hidden,
        spec,
        ...(crewNetwork === undefined ? {} : { network: crewNetwork }),
      });
      handle = this.#launch(launch, workspace, services);
    } finally {
      // The child has its own copies by now.
      for (const { fd } of [...opened, ...packs]) closeSync(fd);
    }
    try {
      await handle.initialize(initializeParams(agent, profile, sandbox.kind === "none" ? workspace : "/workspace"), runtime.initializeTimeoutMs);
    } catch (error) {
      handle.killNow();
      throw error;
    }
    if (key !== undefined) this.#warm.refill(key, sandbox, spec);
    return handle;
  }

  /** Starts a launched program and keeps track of it until it exits. */
  #launch(launch: SandboxLaunch, workspace: string, services: AgentServices): ProcessAgentHandle {
    let child;
    try {
      // Its own process group: a Ctrl-C at the factory's terminal reaches the factory, which
      // drains and shuts agents down in order, not every agent at once.
      child = spawn(launch.file, launch.args, { env: launch.env, cwd: launch.cwd, stdio: ["pipe", "pipe", "pipe", ...(launch.fds ?? [])], detached: true });
    } catch (error) {
      launch.release?.();
      throw error;
    }
    const handle: ProcessAgentHandle = new ProcessAgentHandle(child, workspace, services, {
      maxLineBytes: this.#options.maxLineBytes ?? 8 * 1024 * 1024,
      shutdownGraceMs: this.#options.shutdownGraceMs ?? 2_000,
      onMalformed: () => this.malformedLines++,
      onExit: () => {
        this.#live.delete(handle);
        // Its place in a crew network: the last member's exit ends the namespace.
        launch.release?.();
      },
    });
    this.#live.add(handle);
    track(handle);
    return handle;
  }

  /** A hibernated agent ended: its kept workspace goes. */
  forget(agentId: string): void {
    if (!/^[A-Za-z0-9_-]+$/.test(agentId)) return;
    rmSync(join(resolve(this.#options.workspaceRoot), agentId), { recursive: true, force: true });
  }

  /** Ends every agent process (shutdown, then kill), keeping workspaces for the next start; warm slots go. */
  async close(): Promise<void> {
    this.#warm.close();
    await Promise.all([...this.#live].map((handle) => handle.shutdown()));
    // Warm slots (ready or still starting) have no agent to come back to.
    this.#warm.removeSlots();
    for (const sandbox of this.#sandboxes.values()) sandbox.close?.();
  }

  /** Counters for /ready and the benchmarks. */
  stats(): Record<string, unknown> {
    return {
      processes: this.#live.size,
      warmReady: this.#warm.readyCount,
      warmLeases: this.leaseMs.count,
      leaseP50Ms: round3(this.leaseMs.quantile(0.5)),
      leaseP99Ms: round3(this.leaseMs.quantile(0.99)),
      specializedP50Ms: round3(this.specializeMs.quantile(0.5)),
      specializedP99Ms: round3(this.specializeMs.quantile(0.99)),
      malformedLines: this.malformedLines,
      // Who a sandboxed agent is on the host: 65534 when the factory is root, otherwise the factory's own uid.
      agentHostUid: this.#sandboxes.get("bubblewrap")?.agentHostUid ?? null,
      // Shared network namespaces of `network: crew` crews with members here.
      crewNetworks: this.#sandboxes.get("bubblewrap")?.crewNetworks ?? 0,
    };
  }
}

const round3 = (ms: number): number => Math.round(ms * 1000) / 1000;
