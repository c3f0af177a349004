// The parsers of command-line values that more than one command uses: each names the flag in its usage error.
import { UsageError } from "./context.ts";

/** Parses a whole number option, naming the flag when it is not one. */
export function intOption(flag: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got '${value}'`);
    return n;
  };
}

/** Parses a number of credits (more than 0, or at least 0 with `allowZero`), naming the flag when it is not one. */
export function creditsOption(flag: string, allowZero = false): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < 0 || (n === 0 && !allowZero)) {
      throw new UsageError(`${flag} must be a number of credits ${allowZero ? "of at least 0" : "above 0"}, got '${value}'`);
    }
    return n;
  };
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30s`, `5m`, `1500ms`, `1.5h`, or `0`, as milliseconds; anything else is a usage error naming the flag. */
export function parseDuration(flag: string, value: string, minMs: number, maxMs: number): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  const number = match === null ? Number.NaN : Number(match[1]);
  const unit = match?.[2];
  if (match === null || (unit === undefined && number !== 0)) {
    throw new UsageError(`${flag} must be a duration such as 30s, 5m or 1500ms, got '${value}'`);
  }
  const ms = Math.round(number * DURATION_UNITS[unit ?? "ms"]!);
  if (ms < minMs || ms > maxMs) throw new UsageError(`${flag} must be from ${formatMs(minMs)} to ${formatMs(maxMs)}, got '${value}'`);
  return ms;
}

const RATE_UNITS: Record<string, number> = { s: 1, sec: 1, m: 1 / 60, min: 1 / 60, h: 1 / 3_600 };

/** `0.2/s`, `3/m`, `100/h` (a bare number is per second), as events per second. */
export function parseRate(flag: string, value: string, min: number, maxPerSec: number): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|sec|m|min|h))?\s*$/.exec(value);
  if (match === null) throw new UsageError(`${flag} must be a rate such as 0.2/s or 3/m, got '${value}'`);
  const perSec = Number(match[1]) * RATE_UNITS[match[2] ?? "s"]!;
  if (perSec < min || perSec > maxPerSec || (min === 0 ? false : perSec === 0)) {
    throw new UsageError(`${flag} must be ${min === 0 ? "from 0" : "more than 0"} to ${maxPerSec}/s, got '${value}'`);
  }
  return perSec;
}

/** A fraction from 0 to 1. */
export function parseRatio(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\s*\d*(?:\.\d+)?\s*$/.test(value) || value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new UsageError(`${flag} must be a number from 0 to 1, got '${value}'`);
  }
  return n;
}

function formatMs(ms: number): string {
  if (ms === 0) return "0";
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}

/**
 * A JSON argument. Plain text (`hello`) is taken as a string, but text that looks like JSON
 * (starts with `{`, `[` or `"`) and does not parse is a mistake, not a string.
 */
export function parseJsonArg(text: string, flag: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    if (/^\s*[[{"]/.test(text)) throw new UsageError(`${flag} is not valid JSON: ${(error as Error).message}`);
    return text;
  }
}

/** Parses a fraction from 0 to 1, naming the flag when it is not one. */
export function fractionOption(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) throw new UsageError(`${flag} must be a number from 0 to 1, got '${value}'`);
    return n;
  };
}
