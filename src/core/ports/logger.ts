/** Severity levels, least severe first: a logger prints its level and everything after it. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The ids and facts a line is about (`taskId`, `agentId`, `crewId`, `keyId`, `requestId`, `code`
 * …): a structured logger prints them as fields of the line; the text logger leaves them out
 * (its messages name what matters already).
 */
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

/** Where the factory and its agents' stderr lines go (the console in `serve`, anything in the library). */
export interface Logger {
  /** The least severe level it prints (default: all); agents' lines below it are not formatted or counted. */
  readonly level?: LogLevel;
  /** Agents' debug lines; absent: they are not formatted at all. */
  debug?(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, error?: unknown, fields?: LogFields): void;
}
