import type { SandboxSpec } from "../schemas/profile.ts";

/** What to run, and where, for one process agent. */
export interface SandboxRequest {
  agentId: string;
  /** Program and arguments, as the agent sees its filesystem. */
  command: readonly string[];
  env: Readonly<Record<string, string>>;
  /** Working directory inside the sandbox; default the workspace. */
  cwd: string | undefined;
  /**
   * Host files or folders (checked, real paths) mounted read-only where the agent sees them
   * (`/agent/<name>`, a skill pack's `/skills/<name>`); `fd`, when given, is an open descriptor of `host` to mount instead of the
   * name, so that what was checked is what is mounted.
   */
  files: ReadonlyArray<{ host: string; path: string; fd?: number }>;
  /** The agent's private folder on the host (seen as /workspace). */
  workspace: string;
  /** Mounted read-only (a `reviewer`): the sandbox enforces it; one that cannot refuses to launch. */
  workspaceReadOnly?: boolean;
  /** Host folders the agent must not see at all (the factory's data). */
  hidden: readonly string[];
  spec: SandboxSpec;
  /**
   * The crew whose network the agent joins (one loopback-only namespace per crew on this node,
   * shared by its members); absent: a network of its own (nothing in it unless `spec.allowEgress`).
   * A sandbox that cannot share one refuses to launch (SANDBOX_UNAVAILABLE, field `network`).
   */
  network?: { crewId: string };
  /** A warm sandbox: /agent is a private writable tmpfs (the code arrives later), and these host files are mounted read-only. */
  warm?: { readOnly: ReadonlyArray<{ host: string; path: string }> };
}

/** The host command that starts the agent inside its sandbox. */
export interface SandboxLaunch {
  file: string;
  args: string[];
  env: Record<string, string>;
  /** Host working directory for the launcher itself. */
  cwd: string;
  /** Host descriptors the launcher inherits, as its descriptors 3, 4, … in order. */
  fds?: number[];
  /** Gives back what this launch holds (its place in a crew network); called once, when the launched process has exited or could not start. */
  release?(): void;
}

/** Isolation for process agents: turns a request into the host command that runs it isolated. */
export interface Sandbox {
  readonly kind: string;
  /** Throws (SANDBOX_UNAVAILABLE, saying how to fix it) when this sandbox cannot run here. */
  check(): void;
  launch(request: SandboxRequest): SandboxLaunch;
  /** The uid the agent's processes have on the host, once known (for /ready). */
  readonly agentHostUid?: number | undefined;
  /** Crew networks (`SandboxRequest.network`) it holds now, for /ready; absent where it makes none. */
  readonly crewNetworks?: number;
  /** Releases what the sandbox holds between launches; called once no agent runs. */
  close?(): void;
}
