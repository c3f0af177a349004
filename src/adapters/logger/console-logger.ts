import { LOG_LEVELS, type Logger, type LogLevel } from "../../core/ports/logger.ts";

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
