import { z } from "zod";
import { McpServersSchema, ToolPolicySchema } from "./mcp-server.ts";

/** The scopes a profile may ask for (docs/process-agents.md says what each allows). */
export const SCOPES = ["coder", "reviewer", "admin"] as const;

/** Names of profiles, crews and topics: short, URL-safe, starting with a letter or digit. */
export const NameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit");

/** Roles are open (CEO, Coder, ChiefOfStaff …); they become a segment of wallet addresses. */
export const RoleSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, "must be 1-64 letters, digits or '_', starting with a letter");

const CapabilitySchema = z.string().min(1).max(128);

export const BALANCERS = ["round-robin", "least-loaded", "skill-aware", "affinity"] as const;
export type BalancerName = (typeof BALANCERS)[number];

/**
 * How a pool gets agents: `on-demand` spawns when a task finds no free agent; `warm-pool` keeps
 * `warmSize` READY ahead of work; `predictive` forecasts arrivals and sizes the warm pool to
 * them; `clone` grows the pool by cloning a live agent with its saved context; `manual` never
 * spawns by itself.
 */
export const SPAWN_STRATEGIES = ["on-demand", "warm-pool", "predictive", "clone", "manual"] as const;
export type SpawnStrategy = (typeof SPAWN_STRATEGIES)[number];

/**
 * Pool settings; defaults are seed 003's. They are validated and stored with the profile now;
 * the scheduler (queue depth, warm size, idle timeout, spawn rate) honours them as it grows.
 */
export const PoolSettingsSchema = z.strictObject({
  /** Most agents of this profile alive at once. */
  maxSize: z.number().int().min(1).max(10_000_000).default(16),
  /** Agents kept READY with no work. */
  warmSize: z.number().int().min(0).max(1_000_000).default(3),
  /** READY with no work this long → IDLE. */
  idleTimeoutMs: z.number().int().min(0).default(60_000),
  /** Token-bucket rate for on-demand spawns. */
  spawnRatePerSec: z.number().positive().max(1_000_000).default(10),
  /** How often agents that are probed rather than heard from (function agents with a `probe` hook) are probed. */
  healthIntervalMs: z.number().int().min(10).default(5_000),
  /** A task running this long without progress is stuck: cancelled, run elsewhere, its agent suspect. */
  stuckThresholdMs: z.number().int().min(10).default(30_000),
  /** IDLE this long → HIBERNATING (context saved, resources freed; a task addressed to it wakes it). Absent: never. */
  hibernateAfterMs: z.number().int().min(0).max(31_536_000_000).optional(),
  /** Most tasks waiting for this profile's agents (per crew); past it a submit gets 429. */
  queueDepth: z.number().int().min(1).max(10_000_000).default(100),
  /** How a task picks among free agents; a task may override it. */
  balancer: z.enum(BALANCERS).default("least-loaded"),
  spawnStrategy: z.enum(SPAWN_STRATEGIES).default("on-demand"),
}).refine((p) => p.warmSize <= p.maxSize, { message: "warmSize cannot exceed maxSize", path: ["warmSize"] });
export type PoolSettings = z.infer<typeof PoolSettingsSchema>;

/**
 * Liveness and quality. Process agents say they are alive (a `heartbeat`, or any other message)
 * at least every `heartbeatIntervalMs`; `missedHeartbeats` intervals of silence make the agent
 * UNHEALTHY, and it is replaced under the same id (a silent process is killed first). One missed
 * interval already takes it out of the balancer (not ready). An agent whose moving success rate
 * falls below `minSuccessRate` after `qualityWindow` outcomes is drained and replaced.
 */
export const HealthSettingsSchema = z.strictObject({
  /** 0 turns heartbeat watching off (a crashed process is still noticed at once). */
  heartbeatIntervalMs: z.number().int().min(0).max(3_600_000).default(1_000),
  missedHeartbeats: z.number().int().min(1).max(1_000).default(3),
  /** 0 turns quality replacement off. */
  minSuccessRate: z.number().min(0).max(1).default(0.5),
  /** Outcomes the moving averages span, and how many an agent needs before it is judged. */
  qualityWindow: z.number().int().min(1).max(100_000).default(20),
});
export type HealthSettings = z.output<typeof HealthSettingsSchema>;

export const FunctionRuntimeSchema = z.strictObject({
  kind: z.literal("function"),
  /** Name of a handler registered with the factory (built in: echo, sleep, fail). */
  handler: z.string().min(1).max(128),
});

export const ProcessRuntimeSchema = z.strictObject({
  kind: z.literal("process"),
  /** The program and its arguments; it speaks JSON-RPC 2.0, one message per line, on stdin/stdout. */
  command: z.array(z.string().min(1).max(4_096)).min(1).max(256),
  /** Environment of the agent (the factory's own environment is not passed on). */
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a variable name"), z.string().max(32_768)).default({}),
  /** Working directory inside the sandbox; default /workspace. */
  cwd: z.string().min(1).max(4_096).optional(),
  /**
   * Host files or folders (the agent's code, a skill pack) mounted read-only at /agent/<name>:
   * absolute paths under a folder the operator allows (relative ones are resolved by whoever
   * reads the profile file, against its folder); never the data folder, /proc, /sys or /dev.
   */
  files: z.array(z.string().min(1).max(4_096)).max(64).default([]),
  /** How long the agent has to answer `initialize`. */
  initializeTimeoutMs: z.number().int().min(10).max(600_000).default(10_000),
});

/** The built-in tools an llm agent may be given. */
export const LLM_TOOLS = ["context_read", "context_write", "submit_task"] as const;

/**
 * An agent whose body is a tool-calling loop over the model router: each step is one routed,
 * budgeted model call; tool calls run between steps; the loop ends with a text answer.
 */
export const LlmRuntimeSchema = z.strictObject({
  kind: z.literal("llm"),
  /** Pins every call to this model (no rules, no fallbacks); default: the routing rules decide. */
  model: z.string().min(1).max(200).optional(),
  systemPrompt: z.string().min(1).max(100_000),
  /** Model calls per task at most; a task that needs more fails with LLM_MAX_STEPS. */
  maxSteps: z.number().int().min(1).max(100).default(8),
  /** Built-in tools it may call; default all (context_read/context_write need a crew). */
  tools: z.array(z.enum(LLM_TOOLS)).max(LLM_TOOLS.length).optional(),
  /** Output tokens per call (what the budget guard reserves for); default the server's. */
  maxOutputTokens: z.number().int().min(1).max(1_000_000).optional(),
  /** Routing metadata for every call (e.g. `quality: high`); a task's input may add its own. */
  metadata: z.record(z.string().min(1).max(64), z.union([z.string().max(256), z.number(), z.boolean()])).default({}),
});

export const RuntimeSchema = z.discriminatedUnion("kind", [FunctionRuntimeSchema, ProcessRuntimeSchema, LlmRuntimeSchema]);
export type RuntimeSpec = z.infer<typeof RuntimeSchema>;

/**
 * How a process agent is isolated. `bubblewrap` (default): uid 65534 with no capabilities, only
 * the system folders, read-only; private /workspace and /tmp, its own PID namespace, no network
 * unless `allowEgress`. `none` runs the program as a plain child process on the host, only when
 * the server allows unsandboxed agents (`--allow-unsandboxed`).
 */
export const SandboxSchema = z.strictObject({
  kind: z.enum(["bubblewrap", "none"]).default("bubblewrap"),
  allowEgress: z.boolean().default(false),
  /** Address-space limit (RLIMIT_AS). */
  memoryMb: z.number().int().min(16).max(1_048_576).optional(),
  /** CPU time limit (RLIMIT_CPU). */
  cpuSeconds: z.number().int().min(1).max(31_536_000).optional(),
  /** Open files limit (RLIMIT_NOFILE). */
  openFiles: z.number().int().min(16).max(1_048_576).default(256),
  /** Processes limit (RLIMIT_NPROC: counts every process of the agent's host uid — all agents', for a root factory). */
  processes: z.number().int().min(1).max(1_048_576).optional(),
});
export type SandboxSpec = z.output<typeof SandboxSchema>;

/**
 * A skill pack: a host folder (scripts, binaries, data) mounted read-only into a process agent's
 * sandbox at `/skills/<name>`. The path follows `runtime.files`' rules (absolute, under a folder
 * the operator allows; relative ones are resolved against the profile file's folder by whoever
 * reads it) and must be a folder, not a system one.
 */
export const SkillPackSchema = z.strictObject({
  /** Its folder's name under /skills: one path segment, so it cannot climb out of /skills. */
  name: NameSchema,
  path: z.string().min(1).max(4_096),
});
export type SkillPack = z.output<typeof SkillPackSchema>;

export const ProfileSchema = z
  .strictObject({
    name: NameSchema,
    role: RoleSchema,
    description: z.string().max(4_000).optional(),
    capabilities: z.array(CapabilitySchema).max(256).default([]),
    /** Max concurrent tasks; an agent at this load is BUSY. */
    cognitiveLoadLimit: z.number().int().min(1).max(100_000).default(1),
    runtime: RuntimeSchema.default({ kind: "function", handler: "echo" }),
    /**
     * What the agent may do (issue 14): `coder` — its /workspace is writable; `reviewer` — mounted
     * read-only by the sandbox (without `coder`); `admin` — may spawn and terminate agents of its
     * crew. Unknown scopes are refused, so a typo never silently grants or withholds anything.
     */
    scopes: z.array(z.enum(SCOPES, { error: (issue) => `unknown scope ${JSON.stringify(issue.input)} (known: ${SCOPES.join(", ")})` })).max(64).default([]),
    pool: PoolSettingsSchema.default(PoolSettingsSchema.parse({})),
    health: HealthSettingsSchema.default(HealthSettingsSchema.parse({})),
    /** For process agents: how they are isolated (bubblewrap, no egress, when absent). */
    sandbox: SandboxSchema.optional(),
    /** Skill packs mounted read-only at `/skills/<name>` (process agents in a sandbox only); absent: none. */
    skills: z
      .array(SkillPackSchema)
      .max(64)
      .superRefine((skills, ctx) => {
        // Two packs of one name would be mounted one over the other.
        const seen = new Set<string>();
        for (const [i, skill] of skills.entries()) {
          if (seen.has(skill.name)) ctx.addIssue({ code: "custom", message: `skill name '${skill.name}' is given twice: each pack needs a name of its own under /skills`, path: [i, "name"] });
          seen.add(skill.name);
        }
      })
      .optional(),
    /** MCP servers its agents use (docs/mcp.md): stdio servers start in each agent's sandbox, with it. */
    mcpServers: McpServersSchema.optional(),
    /** Which of those servers' tools may be called, and how long a call may take. */
    tools: ToolPolicySchema.optional(),
  })
  .meta({ id: "Profile" });

/** A profile as written by a user (defaults not yet applied). */
export type ProfileInput = z.input<typeof ProfileSchema>;
/** A validated profile with every default applied. */
export type Profile = z.output<typeof ProfileSchema>;

/** A registered profile: one immutable version of a name. */
export interface ProfileRecord extends Profile {
  version: number;
  createdAt: string;
}
