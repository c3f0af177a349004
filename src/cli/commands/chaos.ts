import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import type { FactoryEvent } from "../../core/events.ts";
import { isWorkingState } from "../../core/lifecycle.ts";
import type { ProfileInput, ProfileRecord } from "../../core/schemas/profile.ts";
import { FINAL_TASK_STATES } from "../../core/task-states.ts";
import type { Agent, EventQuery, FactoryClient, Task } from "../../client/index.ts";
import { ClientError } from "../client.ts";
import { cliContext, UsageError } from "../context.ts";
import { printJson, table } from "../output.ts";
import { intOption, parseDuration, parseRate, parseRatio } from "../flags.ts";

/** The Node echo agent shipped with the project, as an absolute host path (mounted at /agent/echo-agent.mjs). */
export const ECHO_AGENT_PATH = fileURLToPath(new URL("../../../examples/agents/echo-agent.mjs", import.meta.url));
export const DEFAULT_CHAOS_PROFILE = "chaos-worker";

const FINAL: ReadonlySet<string> = FINAL_TASK_STATES;
/** The server caps one long-poll at 60 s. */
const POLL_MS = 60_000;
/** The server gives up on an agent that dies within 3 s of being READY 5 times in a row; chaos prefers agents older than this. */
const YOUNG_MS = 3_000;
/** After an action, how long (beyond a freeze's own length) to wait for its detection and recovery. */
const ACTION_SETTLE_MS = 15_000;
const MAX_SUBMITS_IN_FLIGHT = 256;
const MAX_WAITS_IN_FLIGHT = 32;
/** How many task ids of each kind of trouble the report lists. */
const MAX_LISTED = 20;

/** A wait that does not keep the process alive once the command is done; ends early when `signal` aborts. */
const delay = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = setTimeout(done, Math.max(0, ms));
    timer.unref();
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

// ------------------------------------------------------------------ option parsing

interface ChaosOptions {
  durationMs: number;
  killRate: number;
  freezeRatio: number;
  freezeForMs: number;
  latencyMs: number;
  rate: number;
  agents: number;
  workMs: number;
  profile: string;
  graceMs: number;
  keep: boolean;
}

interface RawOptions {
  duration: string;
  killRate: string;
  freezeRatio: string;
  freezeFor: string;
  latency: string;
  rate: string;
  agents: string;
  work: string;
  profile: string;
  grace: string;
  keep?: boolean;
}

function parseOptions(raw: RawOptions): ChaosOptions {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(raw.profile)) throw new UsageError(`--profile must be a profile name (letters, digits, '.', '_', '-'), got '${raw.profile}'`);
  return {
    durationMs: parseDuration("--duration", raw.duration, 1, 86_400_000),
    killRate: parseRate("--kill-rate", raw.killRate, 0, 100),
    freezeRatio: parseRatio("--freeze-ratio", raw.freezeRatio),
    freezeForMs: parseDuration("--freeze-for", raw.freezeFor, 1, 600_000),
    latencyMs: parseDuration("--latency", raw.latency, 0, 60_000),
    rate: parseRate("--rate", raw.rate, Number.MIN_VALUE, 10_000),
    agents: intOption("--agents", 1, 64)(raw.agents),
    workMs: parseDuration("--work", raw.work, 0, 600_000),
    profile: raw.profile,
    graceMs: parseDuration("--grace", raw.grace, 0, 86_400_000),
    keep: raw.keep === true,
  };
}

// ------------------------------------------------------------------ statistics

export interface Summary {
  samples: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

/** Nearest-rank percentiles. */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { samples: 0, p50: null, p99: null, max: null };
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
  return { samples: sorted.length, p50: rank(0.5), p99: rank(0.99), max: sorted[sorted.length - 1]! };
}

// ------------------------------------------------------------------ the run

type ActionKind = "kill" | "freeze";

interface ChaosAction {
  action: ActionKind;
  agentId: string;
  pid: number | null;
  /** Server time of the action (ISO). */
  at: string;
}

export interface ActionOutcome extends ChaosAction {
  /** From `at` to the agent's next UNHEALTHY event; null if none came. */
  detectionMs: number | null;
  /** From that UNHEALTHY event to the agent's next READY event; null if it did not come back. */
  recoveryMs: number | null;
  /** The agent was terminated (given up) instead of coming back. */
  givenUp: boolean;
}

export interface ChaosReport {
  ok: boolean;
  runId: string;
  url: string;
  profile: string;
  settings: {
    durationMs: number;
    rate: number;
    killRate: number;
    freezeRatio: number;
    freezeForMs: number;
    latencyMs: number;
    workMs: number;
    agents: number;
    graceMs: number;
  };
  elapsedMs: number;
  loadMs: number;
  latencyMs: number;
  tasks: {
    submitted: number;
    completed: number;
    failed: number;
    dead: number;
    cancelled: number;
    lost: number;
    completedTwice: number;
    wrongResults: number;
    notAccepted: number;
    retried: number;
    attempts: Record<string, number>;
    submitRetries: number;
  };
  chaos: {
    kills: number;
    freezes: number;
    skipped: number;
    failed: number;
    undetected: number;
    unrecovered: number;
    givenUp: number;
  };
  detection: { all: Summary; kill: Summary; freeze: Summary };
  recovery: { all: Summary; kill: Summary; freeze: Summary };
  actions: ActionOutcome[];
  problems: {
    lostTaskIds: string[];
    completedTwiceTaskIds: string[];
    wrongResultTaskIds: string[];
    notAcceptedErrors: string[];
    chaosErrors: string[];
  };
  events: { taskState: number; agentState: number; reconnects: number };
  health: unknown;
}

interface Submission {
  n: number;
  key: string;
  text: string;
  taskId?: string;
  /** Set when it was never accepted. */
  error?: string;
}

const reverse = (text: string): string => text.split("").reverse().join("");
const isRetryableSubmit = (error: unknown): boolean =>
  error instanceof ClientError && (error.status === 0 || error.status === 429 || error.status === 503 || error.status >= 500 || error.code === "BAD_RESPONSE");

/** Runs `work` over `items`, at most `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** The chaos profile: the Node echo agent as a process agent, a manual pool with room for a long queue. */
export function chaosProfile(name: string): ProfileInput {
  return {
    name,
    role: "ChaosWorker",
    description: "Registered by `agent-factory chaos`: the Node echo agent, killed and frozen on purpose.",
    runtime: { kind: "process", command: ["node", "/agent/echo-agent.mjs"], files: [ECHO_AGENT_PATH] },
    pool: { spawnStrategy: "manual", maxSize: 64, queueDepth: 100_000 },
  };
}

/** Records the factory's `task.state` and `agent.state` events, resuming after a cut, without duplicates. */
class EventRecorder {
  readonly events: FactoryEvent[] = [];
  reconnects = 0;
  #lastSeq: number;
  readonly #client: FactoryClient;
  readonly #stop = new AbortController();
  readonly #onEvent: (event: FactoryEvent) => void;
  #following: Promise<void> | undefined;

  constructor(client: FactoryClient, afterSeq: number, onEvent: (event: FactoryEvent) => void) {
    this.#client = client;
    this.#lastSeq = afterSeq;
    this.#onEvent = onEvent;
  }

  #query(): EventQuery {
    return { types: ["task.state", "agent.state"], after: this.#lastSeq };
  }

  #take = (event: FactoryEvent): void => {
    if (event.seq <= this.#lastSeq) return;
    this.#lastSeq = event.seq;
    this.events.push(event);
    this.#onEvent(event);
  };

  /** Resolves once the stream is open (or failed to open: the error rejects). */
  async start(): Promise<void> {
    let opened!: () => void;
    let failed!: (error: unknown) => void;
    const ready = new Promise<void>((resolve, reject) => {
      opened = resolve;
      failed = reject;
    });
    let first = true;
    this.#following = (async () => {
      while (!this.#stop.signal.aborted) {
        try {
          await this.#client.events(this.#query(), this.#take, this.#stop.signal, () => {
            if (first) opened();
            first = false;
          });
        } catch (error) {
          if (first) {
            failed(error);
            return;
          }
        }
        if (this.#stop.signal.aborted) return;
        if (first) {
          failed(new ClientError("BAD_RESPONSE", "the event stream /v1/events closed before it was ready", 0));
          return;
        }
        // The stream ended (overflow, a cut): resume after the last event seen.
        this.reconnects++;
        await delay(200, this.#stop.signal);
      }
    })();
    await ready;
  }

  /** Replays what the store holds after the last event seen (catching up), then stops following. */
  async stop(): Promise<void> {
    const catchUp = new AbortController();
    const timeout = setTimeout(() => catchUp.abort(), 10_000);
    try {
      await this.#client.events(this.#query(), this.#take, catchUp.signal, () => {
        // Let anything emitted while the replay ran come in over the live streams, then stop.
        setTimeout(() => catchUp.abort(), 300).unref();
      });
    } catch {
      // The live stream may still have everything; the report says how many events it saw.
    } finally {
      clearTimeout(timeout);
      this.#stop.abort();
      await this.#following;
    }
  }
}

export function chaosCommand(program: Command): void {
  program
    .command("chaos")
    .description("drive tasks at a running factory (`serve --chaos`) while killing and freezing its agents and injecting latency; reports lost, twice-completed and wrong tasks and how fast agents were detected and replaced")
    .option("--duration <time>", "how long to drive load (30s, 5m, 1500ms)", "30s")
    .option("--kill-rate <rate>", "chaos actions per second, across agents (0.2/s, 3/m)", "0.2/s")
    .option("--freeze-ratio <fraction>", "fraction of the chaos actions that are freezes instead of kills", "0.3")
    .option("--freeze-for <time>", "how long a freeze lasts (must be past the heartbeat budget)", "5s")
    .option("--latency <time>", "latency injected before every task's handler starts", "0ms")
    .option("--rate <rate>", "tasks submitted per second", "40/s")
    .option("--agents <n>", "agents to spawn for the run", "4")
    .option("--work <time>", "how long each task works inside the agent", "50ms")
    .option(
      "--profile <name>",
      `profile of the agents (${DEFAULT_CHAOS_PROFILE}, the Node echo agent, is registered by the command; another must exist and answer {text, ms} with {reversed} as that agent does)`,
      DEFAULT_CHAOS_PROFILE,
    )
    .option("--grace <time>", "after the load, how long to wait for accepted tasks to finish", "60s")
    .option("--keep", "keep the spawned agents (default: terminate them at the end)")
    .action(async (raw: RawOptions, command: Command) => {
      const { client, json } = cliContext(command);
      const options = parseOptions(raw);
      const report = await runChaos(client, options, json);
      if (json) printJson(report);
      else printReport(report);
      process.exitCode = report.ok ? 0 : 1;
    });
}

async function runChaos(client: FactoryClient, options: ChaosOptions, json: boolean): Promise<ChaosReport> {
  const runId = `chaos-${randomBytes(4).toString("hex")}`;
  const startedAt = Date.now();

  // 1. The chaos routes: a server without --chaos has none (404 NOT_FOUND).
  try {
    await client.chaosKill(`${runId}-probe`);
    throw new ClientError("BAD_RESPONSE", "POST /v1/chaos/kill of an agent that does not exist succeeded", 200);
  } catch (error) {
    if (!(error instanceof ClientError)) throw error;
    if (error.status === 404 && error.code !== "AGENT_NOT_FOUND") {
      throw new UsageError(`the factory at ${client.baseUrl} has no chaos actions (${error.code}: ${error.message}); start the server with 'agent-factory serve --chaos'`);
    }
    if (error.status !== 404 && error.status !== 400) throw error;
  }

  // 2. The profile: the built-in one is registered by us; another must exist already (a typo
  // must not quietly register a new one), and must answer like the Node echo agent.
  const existing = options.profile === DEFAULT_CHAOS_PROFILE ? undefined : await client.getProfile(options.profile).catch((error: unknown) => {
    if (error instanceof ClientError && error.status === 404) {
      throw new UsageError(`--profile: no profile named '${options.profile}' on the server; leave --profile out to use the built-in ${DEFAULT_CHAOS_PROFILE} (the Node echo agent)`);
    }
    throw error;
  });
  const profile = existing ?? (await client.registerProfile(chaosProfile(options.profile))).profile;
  const budgetMs = profile.health.heartbeatIntervalMs * profile.health.missedHeartbeats;
  if (options.killRate > 0 && options.freezeRatio > 0) {
    if (profile.runtime.kind !== "process") throw new UsageError(`--freeze-ratio: profile ${profile.name} runs ${profile.runtime.kind} agents; only process agents can be frozen (use --freeze-ratio 0)`);
    if (budgetMs === 0) throw new UsageError(`--freeze-ratio: profile ${profile.name} has heartbeat watching off, so a freeze would never be detected (use --freeze-ratio 0)`);
    if (options.freezeForMs <= budgetMs) {
      throw new UsageError(`--freeze-for must be longer than the heartbeat budget of profile ${profile.name} (${budgetMs} ms = ${profile.health.heartbeatIntervalMs} ms × ${profile.health.missedHeartbeats}), got ${options.freezeForMs} ms`);
    }
  }

  // Progress output: a spinner on a terminal, a plain line a second otherwise, nothing with --json.
  const spinner = !json && process.stderr.isTTY === true ? (await import("ora")).default({ text: `${runId}: starting`, stream: process.stderr }).start() : undefined;
  const say = (text: string): void => {
    if (json) return;
    if (spinner !== undefined) spinner.text = text;
    else process.stderr.write(`${text}\n`);
  };

  // What the event stream tells us, as it comes.
  const agentState = new Map<string, string>();
  const cameUpAt = new Map<string, number>();
  const succeededIds = new Set<string>();
  const pending = new Map<string, { action: ChaosAction; until: number; sawUnhealthy: boolean }>();
  const onEvent = (event: FactoryEvent): void => {
    if (event.type === "agent.state" && event.agentId !== undefined && event.to !== undefined) {
      agentState.set(event.agentId, event.to);
      if (event.to === "READY" && event.from === "WARMING") cameUpAt.set(event.agentId, Date.now());
      const open = pending.get(event.agentId);
      if (open !== undefined) {
        if (event.to === "UNHEALTHY") open.sawUnhealthy = true;
        else if ((event.to === "READY" && open.sawUnhealthy) || event.to === "TERMINATED") pending.delete(event.agentId);
      }
    } else if (event.type === "task.state" && event.to === "SUCCEEDED" && event.taskId !== undefined) succeededIds.add(event.taskId);
  };

  const ready0 = await client.ready();
  const recorder = new EventRecorder(client, ready0.lastEventSeq, onEvent);
  const spawned: string[] = [];
  const submissions: Submission[] = [];
  const actions: ChaosAction[] = [];
  const chaosErrors: string[] = [];
  let skipped = 0;
  let chaosFailed = 0;
  let submitRetries = 0;
  let latencySet = false;
  let loadMs = 0;
  const stopLoad = new AbortController();
  // Ctrl-C (or SIGTERM) ends the load early; the run still waits, reports and cleans up. A second one quits at once.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopLoad.signal.aborted) process.exit(128 + (signal === "SIGINT" ? 2 : 15));
    say(`${runId}: ${signal}: ending the load (send it again to quit at once)`);
    stopLoad.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const finals = new Map<string, Task | null>();
  let health: unknown = null;
  try {
    await recorder.start();

    // 3. The agents.
    say(`${runId}: spawning ${options.agents} agent(s) of ${profile.name}`);
    const spawns = await Promise.allSettled(
      Array.from({ length: options.agents }, async (_, i) => {
        const agent = await client.spawnAgent({ profile: profile.name, name: `${runId}-${i + 1}` });
        spawned.push(agent.id);
      }),
    );
    const spawnFailure = spawns.find((s) => s.status === "rejected");
    if (spawnFailure !== undefined) throw spawnFailure.reason;

    // 4. Latency, then load and chaos side by side.
    if (options.latencyMs > 0) {
      await client.chaosLatency(options.latencyMs);
      latencySet = true;
    }
    const loadStart = Date.now();
    const loadEnd = loadStart + options.durationMs;
    const graceEnd = (): number => Math.max(Date.now(), loadEnd) + options.graceMs;
    let inFlight = 0;
    let slotFreed: (() => void) | undefined;

    const submit = async (s: Submission): Promise<void> => {
      const body = { profile: profile.name, input: { text: s.text, ms: options.workMs }, maxAttempts: 6, idempotencyKey: s.key };
      let wait = 100;
      for (;;) {
        try {
          const { task } = await client.submitTask(body);
          s.taskId = task.id;
          return;
        } catch (error) {
          if (!isRetryableSubmit(error) || Date.now() >= loadEnd + options.graceMs) {
            s.error = error instanceof Error ? error.message : String(error);
            return;
          }
          // Same key: if the first try did get in, the retry returns that task.
          submitRetries++;
          await delay(wait);
          wait = Math.min(wait * 2, 2_000);
        }
      }
    };

    const submitting: Promise<void>[] = [];
    const load = (async () => {
      const total = Math.max(1, Math.floor((options.durationMs / 1000) * options.rate));
      let n = 0;
      while (n < total && !stopLoad.signal.aborted) {
        const due = Math.floor(((Date.now() - loadStart) / 1000) * options.rate) + 1;
        while (n < Math.min(due, total) && inFlight < MAX_SUBMITS_IN_FLIGHT) {
          const s: Submission = { n, key: `${runId}-${n}`, text: `${runId}-${n}` };
          submissions.push(s);
          inFlight++;
          submitting.push(
            submit(s).finally(() => {
              inFlight--;
              slotFreed?.();
            }),
          );
          n++;
        }
        if (n >= total) break;
        if (inFlight >= MAX_SUBMITS_IN_FLIGHT) await new Promise<void>((resolve) => (slotFreed = resolve));
        else await delay(loadStart + (n / options.rate) * 1000 - Date.now(), stopLoad.signal);
        if (Date.now() >= loadEnd) break;
      }
      await Promise.all(submitting);
    })();

    const chaosAct = async (): Promise<void> => {
      const done = actions.length;
      // Freezes spread evenly among the actions (the first is one when any are asked for).
      const kind: ActionKind = Math.ceil((done + 1) * options.freezeRatio) > Math.ceil(done * options.freezeRatio) ? "freeze" : "kill";
      const now = Date.now();
      for (const [id, open] of pending) if (now > open.until) pending.delete(id);
      let agents: Agent[];
      try {
        agents = (await client.listAgents({ role: profile.role, limit: 10_000 })).items;
      } catch (error) {
        chaosFailed++;
        chaosErrors.push(`GET /v1/agents: ${(error as Error).message}`);
        return;
      }
      const working = agents.filter((a) => a.profile === profile.name && isWorkingState(a.state) && !pending.has(a.id));
      const shuffled = working.map((a) => ({ a, r: Math.random() })).sort((x, y) => x.r - y.r).map((x) => x.a);
      // Agents just back from a replacement last: dying young 5 times in a row makes the factory give up on one.
      const candidates = [...shuffled.filter((a) => now - (cameUpAt.get(a.id) ?? 0) >= YOUNG_MS), ...shuffled.filter((a) => now - (cameUpAt.get(a.id) ?? 0) < YOUNG_MS)];
      for (const agent of candidates) {
        try {
          const answer =
            kind === "kill"
              ? await client.chaosKill(agent.id)
              : await client.chaosFreeze(agent.id, options.freezeForMs);
          const action: ChaosAction = { action: kind, agentId: answer.agentId, pid: answer.pid, at: answer.at };
          actions.push(action);
          pending.set(agent.id, { action, until: Date.now() + (kind === "freeze" ? options.freezeForMs : 0) + ACTION_SETTLE_MS, sawUnhealthy: false });
          return;
        } catch (error) {
          // 409: it is being replaced or drained right now; 404: it just went. Try another.
          if (error instanceof ClientError && (error.status === 409 || error.status === 404)) continue;
          chaosFailed++;
          chaosErrors.push(`${kind} ${agent.id}: ${(error as Error).message}`);
          return;
        }
      }
      skipped++;
    };

    const chaos = (async () => {
      if (options.killRate <= 0) return;
      const period = 1000 / options.killRate;
      for (let tick = 1; ; tick++) {
        const at = loadStart + tick * period;
        if (at >= loadEnd) return;
        await delay(at - Date.now(), stopLoad.signal);
        if (stopLoad.signal.aborted) return;
        await chaosAct();
      }
    })();

    const progress = setInterval(() => {
      const t = Math.min(Date.now(), loadEnd) - loadStart;
      const accepted = submissions.filter((s) => s.taskId !== undefined);
      const done = accepted.filter((s) => succeededIds.has(s.taskId as string)).length;
      const kills = actions.filter((a) => a.action === "kill").length;
      const up = spawned.filter((id) => isWorkingState(agentState.get(id) ?? "READY")).length;
      const phase = Date.now() < loadEnd && !stopLoad.signal.aborted ? `${(t / 1000).toFixed(0)}s/${(options.durationMs / 1000).toFixed(0)}s` : "grace";
      say(`${runId} ${phase}: submitted ${accepted.length}, succeeded ${done}, kills ${kills}, freezes ${actions.length - kills}, skipped ${skipped}, agents up ${up}/${spawned.length}`);
    }, 1_000);
    progress.unref();

    try {
      await Promise.all([load, chaos]);
      loadMs = Date.now() - loadStart;
      stopLoad.abort();

      // 5. Latency off; wait for every accepted task to be final, and every action to play out.
      if (latencySet) {
        await client.chaosLatency(0);
        latencySet = false;
      }
      const deadline = graceEnd();
      const accepted = submissions.filter((s) => s.taskId !== undefined);
      await eachLimited(accepted, MAX_WAITS_IN_FLIGHT, async (s) => {
        const id = s.taskId as string;
        for (;;) {
          const left = Math.max(0, Math.min(POLL_MS, deadline - Date.now()));
          try {
            const task = await client.getTask(id, { waitMs: left });
            finals.set(id, task);
            if (FINAL.has(task.state) || Date.now() >= deadline) return;
          } catch (error) {
            if (error instanceof ClientError && error.status === 404) {
              finals.set(id, null);
              return;
            }
            if (Date.now() >= deadline) return;
            await delay(250);
          }
        }
      });
      while (pending.size > 0 && Date.now() < deadline) {
        const now = Date.now();
        for (const [id, open] of pending) if (now > open.until) pending.delete(id);
        await delay(100);
      }
      health = (await client.ready().catch(() => ({ health: null }))).health ?? null;
    } finally {
      clearInterval(progress);
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    stopLoad.abort();
    if (latencySet) await client.chaosLatency(0).catch(() => {});
    await recorder.stop();
    if (!options.keep) {
      say(`${runId}: terminating ${spawned.length} agent(s)`);
      await Promise.all(spawned.map((id) => client.terminateAgent(id).catch(() => {})));
    }
    spinner?.stop();
  }

  return buildReport({ runId, url: client.baseUrl, profile: profile.name, options, startedAt, loadMs, submissions, finals, events: recorder.events, reconnects: recorder.reconnects, actions, skipped, chaosFailed, chaosErrors, submitRetries, health });
}

function buildReport(input: {
  runId: string;
  url: string;
  profile: string;
  options: ChaosOptions;
  startedAt: number;
  loadMs: number;
  submissions: Submission[];
  finals: Map<string, Task | null>;
  events: FactoryEvent[];
  reconnects: number;
  actions: ChaosAction[];
  skipped: number;
  chaosFailed: number;
  chaosErrors: string[];
  submitRetries: number;
  health: unknown;
}): ChaosReport {
  const { options, submissions, finals, events, actions } = input;
  const accepted = submissions.filter((s) => s.taskId !== undefined);
  const counts = { completed: 0, failed: 0, dead: 0, cancelled: 0, lost: 0, wrongResults: 0, retried: 0 };
  const attempts: Record<string, number> = {};
  const lostTaskIds: string[] = [];
  const wrongResultTaskIds: string[] = [];
  for (const s of accepted) {
    const task = finals.get(s.taskId as string);
    if (task === null || task === undefined || !FINAL.has(task.state)) {
      counts.lost++;
      lostTaskIds.push(`${s.taskId as string} (${task === null ? "404" : task === undefined ? "never read" : task.state})`);
      continue;
    }
    attempts[String(task.attempts)] = (attempts[String(task.attempts)] ?? 0) + 1;
    if (task.attempts > 1) counts.retried++;
    if (task.state === "SUCCEEDED") {
      counts.completed++;
      const text = (task.input as { text?: unknown } | null)?.text;
      const reversed = (task.result as { reversed?: unknown } | null)?.reversed;
      if (text !== s.text || reversed !== reverse(s.text)) {
        counts.wrongResults++;
        wrongResultTaskIds.push(task.id);
      }
    } else if (task.state === "FAILED") counts.failed++;
    else if (task.state === "DEAD") counts.dead++;
    else if (task.state === "CANCELLED") counts.cancelled++;
  }

  // Twice completed: more than one task.state → SUCCEEDED for one of our tasks.
  const ours = new Set(accepted.map((s) => s.taskId as string));
  const successes = new Map<string, number>();
  let taskState = 0;
  let agentStateEvents = 0;
  for (const event of events) {
    if (event.type === "task.state") {
      taskState++;
      if (event.to === "SUCCEEDED" && event.taskId !== undefined && ours.has(event.taskId)) successes.set(event.taskId, (successes.get(event.taskId) ?? 0) + 1);
    } else if (event.type === "agent.state") agentStateEvents++;
  }
  const completedTwiceTaskIds = [...successes].filter(([, n]) => n > 1).map(([id]) => id);

  // Detection and recovery, from the agent.state events (server clock on both sides).
  const byAgent = new Map<string, FactoryEvent[]>();
  for (const event of events) {
    if (event.type !== "agent.state" || event.agentId === undefined) continue;
    const list = byAgent.get(event.agentId) ?? [];
    list.push(event);
    byAgent.set(event.agentId, list);
  }
  const outcomes: ActionOutcome[] = actions.map((action) => {
    const at = Date.parse(action.at);
    const list = byAgent.get(action.agentId) ?? [];
    const i = list.findIndex((e) => e.to === "UNHEALTHY" && Date.parse(e.at) >= at);
    if (i < 0) return { ...action, detectionMs: null, recoveryMs: null, givenUp: false };
    const unhealthy = list[i] as FactoryEvent;
    const next = list.slice(i + 1).find((e) => e.to === "READY" || e.to === "TERMINATED");
    const recovered = next?.to === "READY";
    return {
      ...action,
      detectionMs: Date.parse(unhealthy.at) - at,
      recoveryMs: recovered ? Date.parse((next as FactoryEvent).at) - Date.parse(unhealthy.at) : null,
      givenUp: next?.to === "TERMINATED",
    };
  });
  const numbers = (kind: ActionKind | undefined, field: "detectionMs" | "recoveryMs"): number[] =>
    outcomes.filter((o) => (kind === undefined || o.action === kind) && o[field] !== null).map((o) => o[field] as number);

  const lost = counts.lost;
  const completedTwice = completedTwiceTaskIds.length;
  return {
    ok: lost === 0 && completedTwice === 0 && counts.wrongResults === 0,
    runId: input.runId,
    url: input.url,
    profile: input.profile,
    settings: {
      durationMs: options.durationMs,
      rate: options.rate,
      killRate: options.killRate,
      freezeRatio: options.freezeRatio,
      freezeForMs: options.freezeForMs,
      latencyMs: options.latencyMs,
      workMs: options.workMs,
      agents: options.agents,
      graceMs: options.graceMs,
    },
    elapsedMs: Date.now() - input.startedAt,
    loadMs: input.loadMs,
    latencyMs: options.latencyMs,
    tasks: {
      submitted: accepted.length,
      completed: counts.completed,
      failed: counts.failed,
      dead: counts.dead,
      cancelled: counts.cancelled,
      lost,
      completedTwice,
      wrongResults: counts.wrongResults,
      notAccepted: submissions.length - accepted.length,
      retried: counts.retried,
      attempts,
      submitRetries: input.submitRetries,
    },
    chaos: {
      kills: actions.filter((a) => a.action === "kill").length,
      freezes: actions.filter((a) => a.action === "freeze").length,
      skipped: input.skipped,
      failed: input.chaosFailed,
      undetected: outcomes.filter((o) => o.detectionMs === null).length,
      unrecovered: outcomes.filter((o) => o.detectionMs !== null && o.recoveryMs === null && !o.givenUp).length,
      givenUp: outcomes.filter((o) => o.givenUp).length,
    },
    detection: { all: summarize(numbers(undefined, "detectionMs")), kill: summarize(numbers("kill", "detectionMs")), freeze: summarize(numbers("freeze", "detectionMs")) },
    recovery: { all: summarize(numbers(undefined, "recoveryMs")), kill: summarize(numbers("kill", "recoveryMs")), freeze: summarize(numbers("freeze", "recoveryMs")) },
    actions: outcomes,
    problems: {
      lostTaskIds: lostTaskIds.slice(0, MAX_LISTED),
      completedTwiceTaskIds: completedTwiceTaskIds.slice(0, MAX_LISTED),
      wrongResultTaskIds: wrongResultTaskIds.slice(0, MAX_LISTED),
      notAcceptedErrors: [...new Set(submissions.filter((s) => s.error !== undefined).map((s) => s.error as string))].slice(0, MAX_LISTED),
      chaosErrors: input.chaosErrors.slice(0, MAX_LISTED),
    },
    events: { taskState, agentState: agentStateEvents, reconnects: input.reconnects },
    health: input.health,
  };
}

function printReport(r: ChaosReport): void {
  const ms = (n: number | null): string => (n === null ? "-" : `${n} ms`);
  const t = r.tasks;
  const c = r.chaos;
  console.log(`chaos run ${r.runId} against ${r.url} (profile ${r.profile}): ${r.ok ? "OK" : "PROBLEMS FOUND"}`);
  console.log(
    `load ${(r.loadMs / 1000).toFixed(1)} s at ${r.settings.rate}/s, work ${r.settings.workMs} ms, latency injected ${r.latencyMs} ms, ` +
      `${r.settings.agents} agent(s), chaos ${r.settings.killRate}/s (freeze ratio ${r.settings.freezeRatio}, ${r.settings.freezeForMs} ms); total ${(r.elapsedMs / 1000).toFixed(1)} s`,
  );
  console.log();
  console.log(
    table(
      [
        { metric: "submitted (accepted)", value: t.submitted },
        { metric: "completed (SUCCEEDED)", value: t.completed },
        { metric: "failed", value: t.failed },
        { metric: "dead", value: t.dead },
        { metric: "cancelled", value: t.cancelled },
        { metric: "lost", value: t.lost },
        { metric: "completed twice", value: t.completedTwice },
        { metric: "wrong results", value: t.wrongResults },
        { metric: "not accepted", value: t.notAccepted },
        { metric: "retried (attempts > 1)", value: t.retried },
        { metric: "attempts histogram", value: Object.entries(t.attempts).map(([k, v]) => `${k}:${v}`).join(" ") },
        { metric: "submit retries", value: t.submitRetries },
        { metric: "kills", value: c.kills },
        { metric: "freezes", value: c.freezes },
        { metric: "skipped ticks (no agent to hit)", value: c.skipped },
        { metric: "failed chaos actions", value: c.failed },
        { metric: "undetected actions", value: c.undetected },
        { metric: "not recovered", value: c.unrecovered },
        { metric: "given up by the factory", value: c.givenUp },
      ],
      ["metric", "value"],
    ),
  );
  console.log();
  const row = (what: string, s: Summary): Record<string, unknown> => ({ what, samples: s.samples, p50: ms(s.p50), p99: ms(s.p99), max: ms(s.max) });
  console.log(
    table(
      [
        row("detection (kill)", r.detection.kill),
        row("detection (freeze)", r.detection.freeze),
        row("detection (all)", r.detection.all),
        row("recovery (kill)", r.recovery.kill),
        row("recovery (freeze)", r.recovery.freeze),
        row("recovery (all)", r.recovery.all),
      ],
      ["what", "samples", "p50", "p99", "max"],
    ),
  );
  console.log();
  console.log(`server health (totals since the server started): ${JSON.stringify(r.health)}`);
  const p = r.problems;
  if (p.lostTaskIds.length > 0) console.log(`lost: ${p.lostTaskIds.join(", ")}`);
  if (p.completedTwiceTaskIds.length > 0) console.log(`completed twice: ${p.completedTwiceTaskIds.join(", ")}`);
  if (p.wrongResultTaskIds.length > 0) console.log(`wrong results: ${p.wrongResultTaskIds.join(", ")}`);
  if (p.notAcceptedErrors.length > 0) console.log(`not accepted: ${p.notAcceptedErrors.join("; ")}`);
  if (p.chaosErrors.length > 0) console.log(`chaos errors: ${p.chaosErrors.join("; ")}`);
}
