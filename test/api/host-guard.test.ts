// Pins the DNS-rebinding and cross-site guard: a foreign Host or Origin gets 403 naming the header and value, in-process and on a real server.
import assert from "node:assert/strict";
import { request } from "node:http";
import { hostname, networkInterfaces } from "node:os";
import { after, before, describe, it } from "node:test";
import { createApp } from "../../src/api/app.ts";
import { serverNames } from "../../src/api/server-names.ts";
import { startServer, type RunningServer } from "../../src/api/server.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { tempDir, testFactory } from "../helpers.ts";
import { cli, startServe, type Server } from "../e2e/serve.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Json;
}

/** node:http, because fetch picks the Host header itself: this is what a rebound browser page sends. */
function send(url: string, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  const { hostname: host, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host, port, method, path, headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text.length === 0 ? {} : (JSON.parse(text) as Json) }));
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const PROFILE = { name: "coder", role: "Coder" };

describe("Host and Origin guard on a real server (127.0.0.1)", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let server: RunningServer;
  let own: string;

  before(async () => {
    ({ factory, close } = await testFactory());
    server = await startServer(factory, { port: 0, host: "127.0.0.1", corsOrigins: ["http://app.example"] });
    own = `127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server.close({ force: true });
    await close();
  });

  it("a rebound page (Host: evil.example:7371) gets 403 FORBIDDEN_HOST naming the header and value, and registers nothing", async () => {
    const refused = await send(server.url, "POST", "/v1/profiles", { host: "evil.example:7371" }, PROFILE);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, "FORBIDDEN_HOST");
    assert.equal(refused.body.error.field, "Host");
    assert.deepEqual(refused.body.error.details, { header: "Host", value: "evil.example:7371" });
    assert.match(refused.body.error.message, /^Host: 'evil\.example:7371' is not a name of this server; .*--allowed-host evil\.example$/);
    assert.equal((await send(server.url, "GET", "/ready", { host: "evil.example:7371" })).status, 403);
    assert.deepEqual(factory.listProfiles(), []);
  });

  it("the server's own names with its port pass; the same name on another port does not", async () => {
    for (const host of [own, `localhost:${server.port}`, `LOCALHOST:${server.port}`, `[::1]:${server.port}`]) {
      assert.equal((await send(server.url, "GET", "/v1/profiles", { host })).status, 200, host);
    }
    assert.equal((await send(server.url, "GET", "/v1/profiles", { host: `localhost:${server.port + 1}` })).body.error.code, "FORBIDDEN_HOST");
    assert.equal((await send(server.url, "GET", "/v1/profiles", { host: "localhost" })).body.error.code, "FORBIDDEN_HOST");
    // Node's own fetch (as the CLI sends it) is unaffected.
    assert.equal((await fetch(`${server.url}/v1/profiles`)).status, 200);
  });

  it("/health answers any Host (probes use whatever name they know), but not another site's page", async () => {
    const health = await send(server.url, "GET", "/health", { host: "evil.example:7371" });
    assert.deepEqual([health.status, health.body], [200, { status: "ok" }]);
    const cross = await send(server.url, "GET", "/health", { host: `127.0.0.1:${server.port}`, origin: "http://other.example" });
    assert.deepEqual([cross.status, cross.body.error.code], [403, "FORBIDDEN_ORIGIN"]);
  });

  it("a cross-site request (Origin: http://evil.example) gets 403 FORBIDDEN_ORIGIN; the server's own origin passes", async () => {
    const refused = await send(server.url, "POST", "/v1/profiles", { host: own, origin: "http://evil.example" }, PROFILE);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, "FORBIDDEN_ORIGIN");
    assert.deepEqual(refused.body.error.details, { header: "Origin", value: "http://evil.example" });
    assert.equal(refused.body.error.message, "Origin: 'http://evil.example' is another site; allow its pages to call this API with --cors-origin http://evil.example");
    assert.equal((await send(server.url, "POST", "/v1/profiles", { host: own, origin: "null" }, PROFILE)).body.error.code, "FORBIDDEN_ORIGIN");
    assert.deepEqual(factory.listProfiles(), []);
    const same = await send(server.url, "POST", "/v1/profiles", { host: own, origin: `http://${own}` }, PROFILE);
    assert.deepEqual([same.status, same.body.name], [201, "coder"]);
  });

  it("an allowed origin gets a CORS preflight answer and its requests carry Access-Control-Allow-Origin", async () => {
    const preflight = await send(server.url, "OPTIONS", "/v1/tasks", {
      host: own,
      origin: "http://app.example",
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type",
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers["access-control-allow-origin"], "http://app.example");
    assert.equal(preflight.headers["access-control-allow-methods"], "GET,POST,PUT,DELETE");
    assert.equal(preflight.headers["access-control-allow-headers"], "authorization,content-type,last-event-id,mcp-protocol-version,mcp-session-id,mcp-method,mcp-name");
    const foreign = await send(server.url, "OPTIONS", "/v1/tasks", { host: own, origin: "http://evil.example", "access-control-request-method": "POST" });
    assert.deepEqual([foreign.status, foreign.body.error.code, foreign.headers["access-control-allow-origin"]], [403, "FORBIDDEN_ORIGIN", undefined]);
    const listed = await send(server.url, "GET", "/v1/profiles", { host: own, origin: "http://app.example" });
    assert.deepEqual([listed.status, listed.headers["access-control-allow-origin"]], [200, "http://app.example"]);
  });
});

describe("Host and Origin guard as app options (in-process)", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  before(async () => ({ factory, close } = await testFactory()));
  after(async () => close());

  it("without allowedHosts the Host is not checked, but a foreign Origin still is", async () => {
    const app = createApp(factory);
    assert.equal((await app.request("/v1/profiles", { headers: { host: "evil.example:7371" } })).status, 200);
    const refused = await app.request("/v1/profiles", { headers: { origin: "http://evil.example" } });
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as Json).error.code, "FORBIDDEN_ORIGIN");
  });

  it("an allowed host without a port matches any port; one with a port matches only it", async () => {
    const app = createApp(factory, { allowedHosts: ["factory.internal", "proxy.example:8443"] });
    const status = async (host: string) => (await app.request("/v1/profiles", { headers: { host } })).status;
    assert.deepEqual(await Promise.all(["factory.internal", "factory.internal:9999", "proxy.example:8443", "proxy.example:443", "evil.example"].map(status)), [200, 200, 200, 403, 403]);
  });

  it("a malformed allowed host or CORS origin is a VALIDATION_FAILED naming the option", () => {
    assert.throws(() => createApp(factory, { allowedHosts: ["http://x.example"] }), { code: "VALIDATION_FAILED", field: "allowedHosts", message: "allowedHosts: 'http://x.example' is not a host name or address (with an optional :port)" });
    assert.throws(() => createApp(factory, { corsOrigins: ["app.example"] }), { code: "VALIDATION_FAILED", field: "corsOrigins" });
  });

  it("startServer with a malformed CORS origin rejects with VALIDATION_FAILED naming corsOrigins", async () => {
    await assert.rejects(startServer(factory, { port: 0, host: "127.0.0.1", corsOrigins: ["https://app.example/path"] }), { code: "VALIDATION_FAILED", field: "corsOrigins" });
  });
});

describe("the server's own names", () => {
  it("bound to loopback: the loopback names with the port, nothing else", () => {
    assert.deepEqual(serverNames("127.0.0.1", 7371), ["localhost:7371", "127.0.0.1:7371", "[::1]:7371"]);
    assert.deepEqual(serverNames("::1", 80), ["localhost:80", "127.0.0.1:80", "[::1]:80"]);
  });

  it("bound to every interface: also the hostname and every interface address", () => {
    const names = serverNames("0.0.0.0", 7371);
    assert.ok(names.includes(`${hostname().toLowerCase()}:7371`));
    for (const address of Object.values(networkInterfaces()).flat()) {
      if (address !== undefined) assert.ok(names.includes(address.family === "IPv6" ? `[${address.address}]:7371` : `${address.address}:7371`), address.address);
    }
    assert.deepEqual(serverNames("::", 1), serverNames("0.0.0.0", 1));
  });
});

describe("serve --allowed-host and --cors-origin", () => {
  let served: Server | undefined;
  const data = tempDir();
  after(async () => {
    served?.child.kill("SIGKILL");
    await served?.exited;
    data.cleanup();
  });

  it("answers an added name, refuses others, and rejects a malformed flag with exit 2 naming it", async () => {
    served = await startServe(["--data", data.path, "--allowed-host", "factory.test", "--cors-origin", "http://app.example"], (s) => (served = s));
    assert.equal((await send(served.url, "GET", "/v1/profiles", { host: "factory.test:1234" })).status, 200);
    assert.equal((await send(served.url, "GET", "/v1/profiles", { host: "evil.example" })).body.error.code, "FORBIDDEN_HOST");
    const preflight = await send(served.url, "OPTIONS", "/v1/profiles", { host: "factory.test", origin: "http://app.example", "access-control-request-method": "POST" });
    assert.deepEqual([preflight.status, preflight.headers["access-control-allow-origin"]], [204, "http://app.example"]);
    const bad = await cli(served.url, "serve", "--port", "0", "--allowed-host", "http://x/");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--allowed-host must be a host name or address with an optional :port, got 'http:\/\/x\/'/);
  });
});
