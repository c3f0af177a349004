import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Factory } from "../factory/factory.ts";
import { createApp, type AppOptions } from "./app.ts";
import { serverNames } from "./server-names.ts";

export interface ServerOptions extends Omit<AppOptions, "closing"> {
  port: number;
  host: string;
  /** `Host` names accepted besides the server's own (see serverNames): `name` (any port) or `name:port`. */
  allowedHosts?: readonly string[];
}

export interface RunningServer {
  /** `http://127.0.0.1:<port>` (loopback even when bound to all interfaces). */
  url: string;
  port: number;
  /** Stops accepting, ends event streams, then closes the factory (drains). */
  close(options?: { force?: boolean }): Promise<void>;
}

/** Serves the API of `factory` over HTTP; resolves once it accepts connections. */
export async function startServer(factory: Factory, options: ServerOptions): Promise<RunningServer> {
  const closing = new AbortController();
  // The app is built once the port is known (`port: 0` picks one): its Host check needs it.
  let app: OpenAPIHono | undefined;
  const server = createAdaptorServer({ fetch: (request, env) => (app === undefined ? new Response(null, { status: 503 }) : app.fetch(request, env)) });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
    server.listen(options.port, options.host);
  });
  const port = (server.address() as AddressInfo).port;
  try {
    app = createApp(factory, { ...options, allowedHosts: [...serverNames(options.host, port), ...(options.allowedHosts ?? [])], closing: closing.signal });
  } catch (error) {
    // A malformed allowed host or origin: nothing may stay listening.
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw error;
  }
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close(closeOptions = {}) {
      if (closed !== undefined && closeOptions.force !== true) return closed;
      closing.abort();
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      if ("closeIdleConnections" in server) server.closeIdleConnections();
      closed = (async () => {
        await factory.close(closeOptions);
        if ("closeAllConnections" in server) server.closeAllConnections();
        await serverClosed;
      })();
      return closed;
    },
  };
}
