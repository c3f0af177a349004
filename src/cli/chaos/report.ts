import type { FactoryEvent } from "../../core/events.ts";
import { FINAL_TASK_STATES } from "../../core/task-states.ts";
import type { Task } from "../../client/index.ts";
import { table } from "../output.ts";
import type { ActionKind, ChaosAction, ChaosOptions, Submission } from "./types.ts";

const FINAL: ReadonlySet<string> = FINAL_TASK_STATES;
/** How many task ids of each kind of trouble the report lists. */
const MAX_LISTED = 20;

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

export interface ActionOutcome extends ChaosAction {
  /** From `at` to the agent's next UNHEALTHY event; null if none came. */
  detectionMs: number | null;
  /** From that UNHEALTHY event to the agent's next READY event; null if it did not come back. */
  recoveryMs: number | null;
  /** The agent was terminated (given up) instead of coming back. */
  givenUp: boolean;
}

/** What `agent-factory chaos` prints: as JSON with --json, as tables otherwise. */
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

const reverse = (text: string): string => text.split("").reverse().join("");

/** The report of a run, from what it submitted, read back and recorded; `ok` when no task was lost, completed twice or answered wrong. */
export function buildReport(input: {
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
      recoveryMs: recovered ? Date.parse(next.at) - Date.parse(unhealthy.at) : null,
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

/** The report for a reader: a summary line, the counts, detection and recovery percentiles, then the problems found. */
export function printReport(r: ChaosReport): void {
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
