import { randomBytes } from "node:crypto";
import type { FactoryEvent } from "../../core/events.ts";
import { isWorkingState } from "../../core/lifecycle.ts";
import { FINAL_TASK_STATES } from "../../core/task-states.ts";
import type { Agent, FactoryClient, Task } from "../../client/index.ts";
import { ClientError } from "../client.ts";
import { UsageError } from "../context.ts";
import { delay } from "./delay.ts";
import { EventRecorder } from "./event-recorder.ts";
import { chaosProfile, DEFAULT_CHAOS_PROFILE } from "./profile.ts";
import { buildReport, type ChaosReport } from "./report.ts";
import type { ActionKind, ChaosAction, ChaosOptions, Submission } from "./types.ts";

const FINAL: ReadonlySet<string> = FINAL_TASK_STATES;
/** The server caps one long-poll at 60 s. */
const POLL_MS = 60_000;
/** The server gives up on an agent that dies within 3 s of being READY 5 times in a row; chaos prefers agents older than this. */
const YOUNG_MS = 3_000;
/** After an action, how long (beyond a freeze's own length) to wait for its detection and recovery. */
const ACTION_SETTLE_MS = 15_000;
const MAX_SUBMITS_IN_FLIGHT = 256;
const MAX_WAITS_IN_FLIGHT = 32;

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

/** One chaos run against the factory behind `client`: agents, load, kills and freezes, then the wait for every accepted task; cleans up after itself and returns the report. */
export async function runChaos(client: FactoryClient, options: ChaosOptions, json: boolean): Promise<ChaosReport> {
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
  let loadMs: number;
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
  let health: unknown;
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
