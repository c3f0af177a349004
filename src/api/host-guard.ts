import type { MiddlewareHandler } from "hono";
import { FactoryError } from "../core/errors.ts";
import { HttpError } from "./http-error.ts";

export interface HostGuardOptions {
  /** `Host` values answered: `name` (any port) or `name:port`; unset, the `Host` is not checked (in-process `app.request()`). */
  allowedHosts?: readonly string[] | undefined;
  /** Other sites (`scheme://host[:port]`) whose pages may call the API from a browser. */
  corsOrigins?: readonly string[] | undefined;
}

/** A `Host` header or allowed-host entry: lower-case name (IPv6 in brackets, no trailing dot) and port, if any. */
export function splitHost(value: string): { name: string; port: string | undefined } | undefined {
  const text = value.trim().toLowerCase();
  // A bare IPv6 address (`::1`, as os.networkInterfaces() and --host give it) has no port.
  if (!text.startsWith("[") && (text.match(/:/g)?.length ?? 0) > 1) return /^[0-9a-f:.]+$/.test(text) ? { name: `[${text}]`, port: undefined } : undefined;
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+?)\.?(?::(\d{1,5}))?$/.exec(text);
  if (match === null || match[1] === undefined || match[1] === "") return undefined;
  return { name: match[1], port: match[2] };
}

/** The entry as the guard compares it; a malformed one is an error naming `field`. */
function parseEntry(entry: string, field: string): { name: string; port: string | undefined } {
  const parsed = splitHost(entry);
  if (parsed === undefined) throw new FactoryError("VALIDATION_FAILED", `${field}: '${entry}' is not a host name or address (with an optional :port)`, { field });
  return parsed;
}

/** The allowed origins as browsers send them (`https://app.example`); anything else is an error naming `corsOrigins`. */
export function allowedOrigins(list: readonly string[] | undefined): ReadonlySet<string> {
  return new Set((list ?? []).map(parseOrigin));
}

function parseOrigin(origin: string): string {
  let url: URL | undefined;
  try {
    url = new URL(origin);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") || url.origin !== origin.replace(/\/$/, "").toLowerCase()) {
    throw new FactoryError("VALIDATION_FAILED", `corsOrigins: '${origin}' is not an origin such as https://app.example or http://localhost:5173`, { field: "corsOrigins" });
  }
  return url.origin;
}

/**
 * Refuses what a web page the operator visits could send to a keyless API: a request whose
 * `Host` is not one of the server's names (DNS rebinding: the page's own name resolving to
 * 127.0.0.1), and a cross-site request (an `Origin` other than the server's own) that the
 * operator did not allow. Clients that send no `Origin` (curl, the CLI, Node's fetch) pass.
 * `/health` answers any `Host` (probes address a node by whatever name they know, and it tells
 * nothing but "ok"), though not another site's page.
 */
export function hostGuard(options: HostGuardOptions): MiddlewareHandler {
  const hosts = options.allowedHosts?.map((h) => parseEntry(h, "allowedHosts"));
  const origins = allowedOrigins(options.corsOrigins);
  return async function hostGuard(c, next) {
    const host = c.req.header("host");
    if (hosts !== undefined && c.req.path !== "/health") {
      const given = host === undefined ? undefined : splitHost(host);
      if (given === undefined || !hosts.some((h) => h.name === given.name && (h.port === undefined || h.port === given.port))) {
        throw new HttpError("FORBIDDEN_HOST", `Host: '${host ?? ""}' is not a name of this server; if it is one (a DNS name, a proxy), start the server with --allowed-host ${given?.name ?? "NAME"}`, {
          field: "Host",
          details: { header: "Host", value: host ?? null },
        });
      }
    }
    const origin = c.req.header("origin");
    if (origin !== undefined && !sameOrigin(origin, host ?? new URL(c.req.url).host) && !origins.has(origin.toLowerCase())) {
      throw new HttpError("FORBIDDEN_ORIGIN", `Origin: '${origin}' is another site; allow its pages to call this API with --cors-origin ${origin}`, {
        field: "Origin",
        details: { header: "Origin", value: origin },
      });
    }
    return next();
  };
}

/** Whether a browser's `Origin` names the same host (and port) the request was sent to. */
function sameOrigin(origin: string, host: string): boolean {
  try {
    const url = new URL(origin);
    if (url.protocol !== "http:" && url.protocol !== "https:") return false;
    // Rebuilding the Host with the origin's scheme drops a default port the same way the origin does.
    return new URL(`${url.protocol}//${host}`).host === url.host;
  } catch {
    return false;
  }
}
