import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Factory } from "../factory/factory.ts";
import { createApp, type AppOptions } from "./app.ts";

export interface ServerOptions extends Omit<AppOptions, "closing"> {
  port: number;
  host: string;
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
  const app = createApp(factory, { ...options, closing: closing.signal });
  const server = serve({ fetch: app.fetch, port: options.port, hostname: options.host });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const port = (server.address() as AddressInfo).port;
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
