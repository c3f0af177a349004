/** Severity levels, least severe first: a logger prints its level and everything after it. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where the factory and its agents' stderr lines go (the console in `serve`, anything in the library). */
export interface Logger {
  /** The least severe level it prints (default: all); agents' lines below it are not formatted or counted. */
  readonly level?: LogLevel;
  /** Agents' debug lines; absent: they are not formatted at all. */
  debug?(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string, error?: unknown): void;
}
