import type { Logger } from "./factory.ts";

/** Log levels, least severe first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * A logger that writes lines at `level` and above: debug and info to stdout, warnings and
 * errors to stderr, each prefixed `[agent-factory]`. The library's default is `warn`; `serve`
 * takes `--log-level` (default `info`).
 */
export function consoleLogger(level: LogLevel): Logger {
  const at = LOG_LEVELS.indexOf(level);
  const on = (l: LogLevel): boolean => LOG_LEVELS.indexOf(l) >= at;
  const none = (): void => {};
  return {
    level,
    ...(on("debug") ? { debug: (message: string) => console.log(`[agent-factory] ${message}`) } : {}),
    info: on("info") ? (message) => console.log(`[agent-factory] ${message}`) : none,
    warn: on("warn") ? (message) => console.warn(`[agent-factory] ${message}`) : none,
    error: on("error") ? (message, error) => console.error(`[agent-factory] ${message}`, error ?? "") : none,
  };
}
