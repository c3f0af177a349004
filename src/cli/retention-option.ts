import type { RetentionRule, RetentionSettings } from "../state/retention.ts";
import { UsageError } from "./context.ts";
import { parseDuration } from "./flags.ts";

const TEN_YEARS_MS = 3_650 * 86_400_000;

/**
 * Parses a `--retain-*` value: a max age (`7d`, `12h`), a max count (`100000`), both
 * (`7d,100000`), or `forever`. Given one, the other has no limit.
 */
export function retentionRuleOption(flag: string): (value: string) => RetentionRule {
  return (value) => {
    if (value.trim() === "forever") return { maxAgeMs: null, maxCount: null };
    const parts = value.split(",").map((p) => p.trim());
    const rule: RetentionRule = { maxAgeMs: null, maxCount: null };
    for (const part of parts) {
      if (/^\d+$/.test(part)) {
        if (rule.maxCount !== null) throw new UsageError(`${flag} takes one count, got '${value}'`);
        rule.maxCount = Number(part);
      } else {
        if (rule.maxAgeMs !== null) throw new UsageError(`${flag} takes one age, got '${value}'`);
        if (!/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/.test(part)) {
          throw new UsageError(`${flag} must be an age such as 7d or 12h, a count such as 100000, both (7d,100000), or forever; got '${value}'`);
        }
        rule.maxAgeMs = parseDuration(flag, part, 0, TEN_YEARS_MS);
      }
    }
    return rule;
  };
}

/** One line for the startup log: what the store keeps of each kind, e.g. `finished tasks: 7d and newest 100000`. */
export function describeRetention(settings: RetentionSettings): string {
  const one = (what: string, rule: { maxAgeMs: number | null; maxCount: number | null }): string => {
    const limits = [rule.maxAgeMs === null ? undefined : age(rule.maxAgeMs), rule.maxCount === null ? undefined : `newest ${rule.maxCount}`].filter((l) => l !== undefined);
    return `${what}: ${limits.length === 0 ? "forever" : limits.join(" and ")}`;
  };
  const { tasks, events, messages } = settings.rules;
  return [one("finished tasks", tasks), one("events", events), one("crew messages", messages)].join("; ");
}

function age(ms: number): string {
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1_000]] as const) if (ms % size === 0 && ms >= size) return `${ms / size}${unit}`;
  return `${ms}ms`;
}
