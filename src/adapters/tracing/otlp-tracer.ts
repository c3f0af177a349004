import type { Link, Span, SpanKind as ApiSpanKind } from "@opentelemetry/api";
import type { SpanRecord, Tracer } from "../../core/ports/tracer.ts";

/** How spans travel: OTLP over HTTP, JSON (the default) or protobuf. */
export type OtlpProtocol = "http/json" | "http/protobuf";

export interface OtlpTracerOptions {
  /** Where spans are posted: the full traces URL (`http://collector:4318/v1/traces`). */
  url: string;
  protocol?: OtlpProtocol;
  /** `service.name` of the resource; default `agent-factory`. */
  serviceName?: string;
  /** More resource attributes (`service.instance.id`: the node id). */
  resource?: Record<string, string>;
  /** Extra HTTP headers (an ingest key); the exporter also reads `OTEL_EXPORTER_OTLP_HEADERS`. */
  headers?: Record<string, string>;
  /** Most spans held before the oldest are dropped; default 4,096. */
  maxQueueSize?: number;
  /** How often a batch is sent, ms; default 1,000. */
  scheduledDelayMs?: number;
}

const KINDS = { internal: 0, server: 1, client: 2, producer: 3, consumer: 4 } as const;

/**
 * A Tracer over the OpenTelemetry SDK: each finished span is started and ended at once with its
 * recorded times under the ids the factory chose (an id generator that hands out the ids of the
 * span being made), batched, and posted over OTLP/HTTP. The SDK and the exporter are imported
 * here, when tracing is turned on, so a factory without tracing never loads them.
 */
export async function createOtlpTracer(options: OtlpTracerOptions): Promise<Tracer> {
  const [api, { TracerProvider, BatchSpanProcessor }, { resourceFromAttributes }, exporterModule] = await Promise.all([
    import("@opentelemetry/api"),
    import("@opentelemetry/sdk-trace"),
    import("@opentelemetry/resources"),
    options.protocol === "http/protobuf" ? import("@opentelemetry/exporter-trace-otlp-proto") : import("@opentelemetry/exporter-trace-otlp-http"),
  ]);
  const exporter = new exporterModule.OTLPTraceExporter({ url: options.url, ...(options.headers === undefined ? {} : { headers: options.headers }) });
  // The next span's ids, set just before `startSpan` (which asks for them synchronously).
  const next = { traceId: "", spanId: "" };
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": options.serviceName ?? "agent-factory", ...options.resource }),
    idGenerator: { generateTraceId: () => next.traceId, generateSpanId: () => next.spanId },
    spanProcessors: [new BatchSpanProcessor({ exporter, maxQueueSize: options.maxQueueSize ?? 4096, scheduledDelayMillis: options.scheduledDelayMs ?? 1000 })],
  });
  const tracer = provider.getTracer("agent-factory");
  const SAMPLED = api.TraceFlags.SAMPLED;
  let closed = false;
  return {
    record(span: SpanRecord): void {
      if (closed) return;
      next.traceId = span.traceId;
      next.spanId = span.spanId;
      const parent =
        span.parentSpanId === undefined
          ? api.ROOT_CONTEXT
          : api.trace.setSpanContext(api.ROOT_CONTEXT, { traceId: span.traceId, spanId: span.parentSpanId, traceFlags: SAMPLED, isRemote: true });
      const links: Link[] | undefined = span.links?.map((l) => ({ context: { traceId: l.traceId, spanId: l.spanId, traceFlags: SAMPLED, isRemote: true }, ...(l.attributes === undefined ? {} : { attributes: { ...l.attributes } as Link["attributes"] }) }));
      const made: Span = tracer.startSpan(
        span.name,
        { kind: KINDS[span.kind ?? "internal"] as ApiSpanKind, startTime: span.startMs, attributes: { ...span.attributes } as Record<string, string>, ...(links === undefined ? {} : { links }) },
        parent,
      );
      if (span.error !== undefined) made.setStatus({ code: api.SpanStatusCode.ERROR, message: span.error });
      made.end(Math.max(span.endMs, span.startMs));
    },
    flush: () => provider.forceFlush(),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await provider.shutdown();
    },
  };
}
