// Pins that the served /openapi.json is lint clean under Redocly's recommended rules (no error, no warning) and documents every route the app serves.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createApp } from "../../src/api/app.ts";
import { startServer, type RunningServer } from "../../src/api/server.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { tempDir, testFactory } from "../helpers.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const REDOCLY = join(import.meta.dirname, "..", "..", "node_modules", "@redocly", "cli", "bin", "cli.js");
// Offline: no telemetry, no update check.
const ENV = { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", CI: "true" };

/** `redocly lint --extends recommended` on the document; its JSON report. */
function lint(doc: unknown, dir: string): Promise<{ totals: { errors: number; warnings: number }; problems: Json[] }> {
  const file = join(dir, `openapi-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(doc));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [REDOCLY, "lint", file, "--extends", "recommended", "--format", "json"], { env: ENV, cwd: dir, timeout: 60_000 }, (error, stdout, stderr) => {
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(new Error(`redocly gave no report (${error?.message ?? "no error"}): ${stderr}`));
      }
    });
  });
}

describe("OpenAPI document", () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => (dir = tempDir()));
  after(() => dir.cleanup());

  for (const setup of [
    { name: "no API key, no chaos", apiKey: undefined, chaos: false },
    { name: "an API key and chaos routes", apiKey: "s3cret", chaos: true },
  ]) {
    describe(`served by a real server with ${setup.name}`, () => {
      let factory: Factory;
      let close: () => Promise<void>;
      let server: RunningServer;
      let doc: Json;
      before(async () => {
        ({ factory, close } = await testFactory({ chaos: setup.chaos }));
        server = await startServer(factory, { port: 0, host: "127.0.0.1", ...(setup.apiKey === undefined ? {} : { apiKey: setup.apiKey }) });
        doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as Json;
      });
      after(async () => {
        await server.close({ force: true });
        await close();
      });

      it("is lint clean under Redocly's recommended rules: 0 errors, 0 warnings", async () => {
        const report = await lint(doc, dir.path);
        assert.deepEqual(report.problems.map((p) => `${p.ruleId}: ${p.message}`), []);
        assert.deepEqual([report.totals.errors, report.totals.warnings], [0, 0]);
      });

      it("names every operation uniquely, declares the bearer scheme and a server, and says when a key is needed", () => {
        const operations = Object.values(doc.paths as Json).flatMap((item: Json) => Object.values(item) as Json[]);
        const ids = operations.map((op) => op.operationId);
        assert.ok(ids.every((id) => typeof id === "string" && /^[a-z][A-Za-z]+$/.test(id)), ids.join(","));
        assert.equal(new Set(ids).size, ids.length);
        assert.deepEqual(doc.components.securitySchemes, { apiKey: { type: "http", scheme: "bearer", description: "An operator key (`afk_…`, made with POST /v1/keys) or the server's AGENT_FACTORY_API_KEY (an admin key), once either exists" } });
        assert.deepEqual(doc.servers, [{ url: "/", description: "The server that serves this document" }]);
        assert.deepEqual(doc.security, setup.apiKey === undefined ? [{}, { apiKey: [] }] : [{ apiKey: [] }]);
        assert.deepEqual([doc.paths["/health"].get.security, doc.paths["/ready"].get.security], [[], []]);
        assert.equal(doc.paths["/v1/chaos/kill"] !== undefined, setup.chaos);
      });
    });
  }

  it("documents exactly the routes the app serves (method and path)", async () => {
    const { factory, close } = await testFactory({ chaos: true });
    try {
      const app = createApp(factory);
      const doc = (await (await app.request("/openapi.json")).json()) as Json;
      const documented = Object.entries(doc.paths as Json).flatMap(([path, item]) => Object.keys(item as Json).map((method) => `${method.toUpperCase()} ${path}`));
      const served = new Set(
        app.routes
          .filter((r) => r.method !== "ALL" && r.path !== "/openapi.json")
          .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
      );
      assert.deepEqual([...new Set(documented)].sort(), [...served].sort());
      // /mcp (JSON-RPC, every method) is served but deliberately not a REST operation of the document: docs/mcp-server.md describes it.
      assert.ok(app.routes.some((r) => r.path === "/mcp" && r.method === "ALL"));
      assert.equal(doc.paths["/mcp"], undefined);
    } finally {
      await close();
    }
  });
});
