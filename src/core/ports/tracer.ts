/** Attribute values a span carries (OpenTelemetry's primitive kinds). */
export type SpanAttributes = Record<string, string | number | boolean | readonly string[]>;

/**
 * One finished span, recorded after the fact with its own start and end: the factory knows when
 * a task was queued, assigned, run and ended, so no span is held open across a node's death — the
 * node that sees a piece of work end records it, under ids the task record carries.
 */
export interface SpanRecord {
  name: string;
  /** 32 hex digits. */
  traceId: string;
  /** 16 hex digits. */
  spanId: string;
  /** Absent: the trace's root. */
  parentSpanId?: string;
  /** OpenTelemetry's span kind; default internal. */
  kind?: "internal" | "client" | "server" | "producer" | "consumer";
  /** Epoch milliseconds (fractions allowed). */
  startMs: number;
  endMs: number;
  attributes: SpanAttributes;
  /** Set: the span's status is ERROR with this message; absent: UNSET (OK). */
  error?: string;
  /** Spans of other traces this one relates to (a sub-task's trace and its parent's). */
  links?: ReadonlyArray<{ traceId: string; spanId: string; attributes?: SpanAttributes }>;
}

/**
 * Where the factory's trace spans go (docs/observability.md "Traces"). The default is none at
 * all: with no tracer the factory makes no ids and records nothing. The OpenTelemetry adapter
 * (`adapters/tracing/otlp-tracer.ts`) batches spans and posts them over OTLP/HTTP.
 */
export interface Tracer {
  /** Takes one finished span; never throws, never blocks (an exporter batches in the background). */
  record(span: SpanRecord): void;
  /** Sends whatever is batched (tests, shutdown). */
  flush(): Promise<void>;
  /** Flushes, then releases the exporter. */
  close(): Promise<void>;
}
