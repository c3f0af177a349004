/** A refusal as it is recorded: the crew it concerns, if any, and who, what, why. */
export interface Denial {
  crewId?: string | undefined;
  data: Record<string, unknown>;
}

export interface DenialLogOptions {
  /** Records one refusal (a `security.denied` event). */
  emit(denial: Denial): void;
  /** Refusals recorded per second and caller, on average (default 5). */
  perSecond?: number;
  /** How many in a row a caller may have recorded before the rate applies (default 20). */
  burst?: number;
  now?: () => number;
}

/** Callers remembered at most: past it the oldest are forgotten (a forgotten caller starts with a full burst). */
const MAX_CALLERS = 10_000;

/**
 * Records refusals as `security.denied` events, each caller (a key, an agent, everyone without a
 * key) under a token bucket: a caller hammering a refused route must not turn each request into
 * a stored event. Refusals over the rate are counted, and the next one recorded says how many
 * were left out (`data.suppressed`), so the audit trail shows the storm without storing it.
 */
export class DenialLog {
  readonly #options: Required<Omit<DenialLogOptions, "now">> & { now: () => number };
  readonly #callers = new Map<string, { tokens: number; at: number; suppressed: number }>();

  constructor(options: DenialLogOptions) {
    this.#options = { perSecond: 5, burst: 20, now: Date.now, ...options };
  }

  /** Records the refusal of `caller` unless it is over its rate (then counts it); whether it was recorded. */
  record(caller: string, denial: Denial): boolean {
    const now = this.#options.now();
    let bucket = this.#callers.get(caller);
    if (bucket === undefined) {
      if (this.#callers.size >= MAX_CALLERS) this.#callers.delete(this.#callers.keys().next().value as string);
      bucket = { tokens: this.#options.burst, at: now, suppressed: 0 };
      this.#callers.set(caller, bucket);
    }
    bucket.tokens = Math.min(this.#options.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#options.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) {
      bucket.suppressed++;
      return false;
    }
    bucket.tokens--;
    const suppressed = bucket.suppressed;
    bucket.suppressed = 0;
    const data = clipped(denial.data);
    this.#options.emit({ ...(denial.crewId === undefined ? {} : { crewId: clip(denial.crewId) }), data: suppressed === 0 ? data : { ...data, suppressed } });
    return true;
  }
}

/** Longest string a refusal keeps of what the caller sent (a path, an id, a reason quoting them). */
const MAX_STRING = 300;
/** Most items of a list it keeps (a key's crews). */
const MAX_ITEMS = 20;

/**
 * A refusal's data, cut to size: the caller chooses much of it (a 1 MB crew id, a path), and a
 * rate on the number of events alone would still let it store megabytes a second.
 */
function clipped(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data).slice(0, 30)) {
    if (typeof value === "string") out[key] = clip(value);
    else if (Array.isArray(value)) out[key] = (value as unknown[]).slice(0, MAX_ITEMS).map((v): unknown => (typeof v === "string" ? clip(v) : v));
    else if (typeof value === "object" && value !== null) {
      const text = JSON.stringify(value);
      out[key] = text.length <= MAX_STRING * 4 ? value : `[${text.length} characters left out]`;
    } else out[key] = value;
  }
  return out;
}

function clip(text: string): string {
  return text.length <= MAX_STRING ? text : `${text.slice(0, MAX_STRING)}… (${text.length} characters)`;
}
