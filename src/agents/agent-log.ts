import { TokenBucket } from "../scheduler/token-bucket.ts";
import { LOG_LEVELS, type Logger, type LogFields } from "../core/ports/logger.ts";

/** Characters of one agent log line that are kept; the rest is cut, saying how much. */
export const AGENT_LOG_LINE_CHARS = 2_000;
/** Lines a second each agent may log, with a burst of this many saved up; more are dropped and counted. */
export const AGENT_LOG_LINES_PER_SEC = 20;
const AGENT_LOG_BURST = 100;

/** A flood ends for the record once the agent dropped nothing for this long (or it went on this long: the count is said anyway). */
const QUIET_MS = 1_000;
const REPORT_EVERY_MS = 10_000;

/**
 * What agents say in their log (`log` notifications, stderr lines) and what the factory says
 * about them, on the factory's logger with the agent's id and level, within a per-agent budget:
 * a chatty or hostile agent must not flood the operator's log. Lines over the rate are dropped:
 * the first drop is said at once, and the count of dropped lines with the first line that passes
 * once the agent has been quiet for a second (or every 10 s while the flood goes on).
 */
export class AgentLog {
  readonly #logger: Logger;
  readonly #agents = new Map<string, { bucket: TokenBucket; dropped: number; floodSince: number; lastDropAt: number }>();
  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** A line of the agent's own log. */
  line(agentId: string, level: "debug" | "info" | "warn" | "error", message: string): void {
    // A line the logger would not print costs nothing, not even the agent's budget.
    if ((level === "debug" && this.#logger.debug === undefined) || LOG_LEVELS.indexOf(level) < LOG_LEVELS.indexOf(this.#logger.level ?? "debug")) return;
    if (!this.#allow(agentId)) return;
    const text = `[agent ${agentId} ${level}] ${truncate(message)}`;
    if (level === "debug") this.#logger.debug?.(text);
    else if (level === "error") this.#logger.error(text);
    else this.#logger[level](text);
  }

  /** A warning of the factory's about the agent (a denied message), under the same budget. */
  warn(agentId: string, message: string, fields?: LogFields): void {
    if (this.#allow(agentId)) this.#logger.warn(truncate(message), fields);
  }

  /** The agent ended: its budget goes. */
  forget(agentId: string): void {
    this.#agents.delete(agentId);
  }

  #allow(agentId: string, now = Date.now()): boolean {
    let state = this.#agents.get(agentId);
    if (state === undefined) {
      state = { bucket: new TokenBucket(AGENT_LOG_LINES_PER_SEC, AGENT_LOG_BURST, now), dropped: 0, floodSince: 0, lastDropAt: 0 };
      this.#agents.set(agentId, state);
    }
    if (!state.bucket.tryTake(now)) {
      if (state.dropped === 0) {
        state.floodSince = now;
        this.#logger.warn(`agent ${agentId} logs more than ${AGENT_LOG_LINES_PER_SEC} lines/s: its lines are dropped until it slows down (the count follows)`);
      }
      state.dropped++;
      state.lastDropAt = now;
      return false;
    }
    if (state.dropped > 0 && (now - state.lastDropAt >= QUIET_MS || now - state.floodSince >= REPORT_EVERY_MS)) {
      this.#logger.warn(`agent ${agentId}: ${state.dropped} log line(s) dropped (over ${AGENT_LOG_LINES_PER_SEC} lines/s)`);
      state.dropped = 0;
    }
    return true;
  }
}

function truncate(message: string): string {
  return message.length <= AGENT_LOG_LINE_CHARS ? message : `${message.slice(0, AGENT_LOG_LINE_CHARS)}… (${message.length - AGENT_LOG_LINE_CHARS} more characters cut)`;
}
