import { pino, type DestinationStream } from "pino";
import { LOG_LEVELS, type LogFields, type Logger, type LogLevel } from "../../core/ports/logger.ts";

/** A Logger that can learn, once the factory has started, which node it speaks for. */
export interface JsonLogger extends Logger {
  /** Adds `node` to every line from now on. */
  setNode(nodeId: string): void;
}

/** Fields without their undefined members (pino would print them as absent anyway; this keeps lines exact). */
function defined(fields: LogFields | undefined): Record<string, unknown> {
  if (fields === undefined) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * JSON lines through pino (`serve --log-format json`): one object a line with `level` (its
 * name), `time` (ISO 8601), `msg`, `node` once known, and the line's ids as fields; an error
 * goes under `err` (type, message, stack, code). To stdout by default, or to `destination`.
 */
export function pinoLogger(level: LogLevel, destination?: DestinationStream): JsonLogger {
  const log = pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
  const at = LOG_LEVELS.indexOf(level);
  return {
    level,
    ...(at <= LOG_LEVELS.indexOf("debug") ? { debug: (message: string, fields?: LogFields) => log.debug(defined(fields), message) } : {}),
    info: (message, fields) => log.info(defined(fields), message),
    warn: (message, fields) => log.warn(defined(fields), message),
    error: (message, error, fields) => log.error({ ...defined(fields), ...(error === undefined || error === "" ? {} : { err: error }) }, message),
    setNode(nodeId: string): void {
      log.setBindings({ node: nodeId });
    },
  };
}
