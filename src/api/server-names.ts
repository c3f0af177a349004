import { hostname, networkInterfaces } from "node:os";
import { splitHost } from "./host-guard.ts";

const WILDCARDS = new Set(["0.0.0.0", "::", "[::]", ""]);

/**
 * The `Host` values a server bound to `host:port` is reached by: the loopback names and
 * addresses, the bound address, and — bound to every interface — the machine's hostname and
 * every interface address. Each carries the port, as browsers send it.
 */
export function serverNames(host: string, port: number): string[] {
  const names = new Set(["localhost", "127.0.0.1", "[::1]"]);
  if (WILDCARDS.has(host.trim())) {
    names.add(hostname().toLowerCase());
    for (const addresses of Object.values(networkInterfaces())) {
      for (const address of addresses ?? []) names.add(address.family === "IPv6" ? `[${address.address.toLowerCase()}]` : address.address);
    }
  } else {
    const bound = splitHost(host);
    if (bound !== undefined) names.add(bound.name);
  }
  return [...names].map((name) => `${name}:${port}`);
}
