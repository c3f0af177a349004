// Pins the dashboard's static routes in-process: the pages and every listed asset with their types, a CSP on the pages that allows their import map by hash, ETag revalidation, and a 404 naming `file` for anything not in the table (no path reaches the disk).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApp } from "../../src/api/app.ts";
import { ASSET_NAMES } from "../../src/dashboard/dashboard-assets.ts";
import { testFactory } from "../helpers.ts";

describe("dashboard routes", () => {
  let app: OpenAPIHono;
  let close: () => Promise<void>;
  before(async () => {
    const made = await testFactory();
    close = made.close;
    // A key is set: the page and its files are still served without one.
    app = createApp(made.factory, { apiKey: "secret-key" });
  });
  after(async () => close());

  it("serves /ui with a CSP whose script hash is the page's import map", async () => {
    const response = await app.request("/ui");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
    const html = await response.text();
    const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)?.[1] as string;
    const hash = createHash("sha256").update(importMap).digest("base64");
    const csp = response.headers.get("content-security-policy") ?? "";
    assert.match(csp, new RegExp(`script-src 'self' 'sha256-${hash.replace(/[+/]/g, "\\$&")}'`));
    assert.match(csp, /connect-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    for (const module of Object.values(JSON.parse(importMap).imports as Record<string, string>)) assert.ok(ASSET_NAMES.includes(module.replace("/ui/assets/", "")), module);
  });

  it("serves /docs and every asset, scripts as JavaScript and stylesheets as CSS", async () => {
    assert.equal((await app.request("/docs")).status, 200);
    for (const name of ASSET_NAMES) {
      const response = await app.request(`/ui/assets/${name}`);
      assert.equal(response.status, 200, name);
      assert.equal(response.headers.get("content-type"), name.endsWith(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8", name);
      assert.ok((await response.arrayBuffer()).byteLength > 100, name);
    }
  });

  it("answers 304 to a matching If-None-Match", async () => {
    const first = await app.request("/ui/assets/app.js");
    const etag = first.headers.get("etag") as string;
    assert.match(etag, /^"[A-Za-z0-9_-]{27}"$/);
    const again = await app.request("/ui/assets/app.js", { headers: { "if-none-match": etag } });
    assert.equal(again.status, 304);
    assert.equal((await again.arrayBuffer()).byteLength, 0);
  });

  it("refuses a name outside the table with a 404 naming `file`, whatever the path tricks", async () => {
    for (const path of ["/ui/assets/nope.js", "/ui/assets/..%2F..%2Fpackage.json", "/ui/assets/index.html", "/ui/assets/%2Fetc%2Fpasswd"]) {
      const response = await app.request(path);
      assert.equal(response.status, 404, path);
      const body = (await response.json()) as { error: { code: string; field?: string } };
      assert.deepEqual([body.error.code, body.error.field], ["NOT_FOUND", "file"], path);
    }
    assert.equal((await app.request("/ui/assets/a/b.js")).status, 404);
  });
});
