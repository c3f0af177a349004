/** Sample counts and quantiles of one kind of duration, ms. */
export interface DurationSummary {
  samples: number;
  p50: number;
  p99: number;
}

/** How the factory has healed and slept its agents since it started. */
export interface HealingStats {
  /** Agents watched for heartbeats or probes now. */
  watched: number;
  /** Replacements under the same id, by cause. */
  replaced: Record<"lost" | "silent" | "stuck" | "quality", number>;
  /** Agents given up on (crash loop). */
  givenUp: number;
  /** Silent agents: from their last sign of life to UNHEALTHY, ms. */
  detectionMs: DurationSummary;
  /** From UNHEALTHY to the replacement READY, ms. */
  replacementMs: DurationSummary;
  hibernated: number;
  woken: number;
  /** From a wake request to READY, ms. */
  wakeMs: DurationSummary;
}

/** Counts for /ready and the CLI. */
export interface FactoryStats {
  agents: number;
  availableAgents: number;
  crews: number;
  queuedTasks: number;
  runningTasks: number;
  lateResults: number;
  lastEventSeq: number;
  /** Recent direct dispatches to a free agent: enqueue → handler started, in µs. */
  dispatch: { samples: number; p50Us: number; p99Us: number };
  /** Per runtime kind, what it reports (process: live processes, warm sandboxes, lease times). */
  runtimes: Record<string, Record<string, unknown>>;
  health: HealingStats;
  /** Agent messages refused since start: `denied` named a task that is not one of the agent's attempts. */
  security: { denied: number };
}
