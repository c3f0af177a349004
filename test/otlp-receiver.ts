import { createServer, type Server } from "node:http";

/** One span as an OTLP/HTTP JSON export carries it, its attributes flattened. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startMs: number;
  endMs: number;
  attributes: Record<string, unknown>;
  status: { code?: number; message?: string };
  links: Array<{ traceId: string; spanId: string }>;
  resource: Record<string, unknown>;
}

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
}

function valueOf(v: AnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(valueOf);
  return undefined;
}

const flat = (attrs: Array<{ key: string; value: AnyValue }> | undefined): Record<string, unknown> => Object.fromEntries((attrs ?? []).map((a) => [a.key, valueOf(a.value)]));

/**
 * A small OTLP/HTTP receiver on 127.0.0.1: collects what is POSTed to /v1/traces in the JSON
 * encoding (what a collector would get), and counts every request, whatever its path or type.
 */
export async function otlpReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; requests: Array<{ path: string; contentType: string }>; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const requests: Array<{ path: string; contentType: string }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const contentType = req.headers["content-type"] ?? "";
      requests.push({ path: req.url ?? "", contentType });
      if (req.url === "/v1/traces" && contentType.startsWith("application/json")) {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          resourceSpans?: Array<{ resource?: { attributes?: Array<{ key: string; value: AnyValue }> }; scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }> }>;
        };
        for (const rs of body.resourceSpans ?? []) {
          const resource = flat(rs.resource?.attributes);
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                traceId: String(s.traceId),
                spanId: String(s.spanId),
                parentSpanId: String(s.parentSpanId ?? ""),
                name: String(s.name),
                kind: Number(s.kind),
                startMs: Number(BigInt(String(s.startTimeUnixNano)) / 1_000_000n),
                endMs: Number(BigInt(String(s.endTimeUnixNano)) / 1_000_000n),
                attributes: flat(s.attributes as Array<{ key: string; value: AnyValue }> | undefined),
                status: (s.status ?? {}),
                links: ((s.links ?? []) as Array<{ traceId: string; spanId: string }>).map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
                resource,
              });
            }
          }
        }
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    spans,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
