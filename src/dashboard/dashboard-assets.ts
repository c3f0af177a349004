import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** One file the dashboard serves: its bytes, type, and a strong ETag. */
export interface DashboardAsset {
  body: Uint8Array<ArrayBuffer>;
  contentType: string;
  etag: string;
}

const HERE = dirname(fileURLToPath(import.meta.url));
const PUBLIC = join(HERE, "public");
const require = createRequire(import.meta.url);

/** A package's folder as installed beside the factory (a checkout's or the installed tarball's node_modules). */
function packageDir(name: string, entry: string): string {
  // Some packages export no ./package.json; their main entry's folder is found from the entry instead.
  return join(dirname(require.resolve(name)), ...entry.split("/"));
}

const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";
const HTML = "text/html; charset=utf-8";

/**
 * The fixed set of files under `/ui/assets/` (and the two pages): our own page code from
 * `public/`, and the libraries it imports, served straight from their installed packages as the
 * ES modules they ship — Preact and htm (no JSX, so no build step), uPlot, eventsource-parser, and
 * Swagger UI for `/docs`. A name not in this table is a 404: nothing else on disk is reachable.
 */
const FILES: Record<string, { path: () => string; type: string }> = {
  "index.html": { path: () => join(PUBLIC, "index.html"), type: HTML },
  "docs.html": { path: () => join(PUBLIC, "docs.html"), type: HTML },
  "app.js": { path: () => join(PUBLIC, "app.js"), type: JS },
  "api.js": { path: () => join(PUBLIC, "api.js"), type: JS },
  "views.js": { path: () => join(PUBLIC, "views.js"), type: JS },
  "chart.js": { path: () => join(PUBLIC, "chart.js"), type: JS },
  "docs.js": { path: () => join(PUBLIC, "docs.js"), type: JS },
  "style.css": { path: () => join(PUBLIC, "style.css"), type: CSS },
  "preact.js": { path: () => packageDir("preact", "preact.module.js"), type: JS },
  "preact-hooks.js": { path: () => packageDir("preact", "../hooks/dist/hooks.module.js"), type: JS },
  "htm.js": { path: () => packageDir("htm", "htm.module.js"), type: JS },
  "htm-preact.js": { path: () => packageDir("htm", "../preact/index.module.js"), type: JS },
  "uplot.js": { path: () => packageDir("uplot", "uPlot.esm.js"), type: JS },
  "uplot.css": { path: () => packageDir("uplot", "uPlot.min.css"), type: CSS },
  "eventsource-parser.js": { path: () => packageDir("eventsource-parser", "index.js"), type: JS },
  "swagger-ui-bundle.js": { path: () => join(dirname(require.resolve("swagger-ui-dist/package.json")), "swagger-ui-bundle.js"), type: JS },
  "swagger-ui.css": { path: () => join(dirname(require.resolve("swagger-ui-dist/package.json")), "swagger-ui.css"), type: CSS },
};

/** The names `/ui/assets/{file}` answers. */
export const ASSET_NAMES: readonly string[] = Object.keys(FILES).filter((name) => !name.endsWith(".html"));

/**
 * Reads the dashboard's files once, on first use, and keeps them: a few MB, served many times.
 * `scriptHashes` are the CSP hashes of a page's inline scripts (its import map), so the pages
 * run under `script-src 'self'` with no 'unsafe-inline'.
 */
export class DashboardAssets {
  readonly #cache = new Map<string, Promise<DashboardAsset>>();

  /** The asset, or undefined for a name not in the table. */
  get(name: string): Promise<DashboardAsset> | undefined {
    if (!Object.hasOwn(FILES, name)) return undefined;
    let loaded = this.#cache.get(name);
    if (loaded === undefined) {
      const file = FILES[name] as { path: () => string; type: string };
      loaded = readFile(file.path()).then((body) => ({ body, contentType: file.type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` }));
      // A failed read is not kept: the next request tries again.
      loaded.catch(() => this.#cache.delete(name));
      this.#cache.set(name, loaded);
    }
    return loaded;
  }

  /** `'sha256-…'` for each inline `<script>` of an HTML asset. */
  static scriptHashes(html: Uint8Array): string[] {
    const text = Buffer.from(html).toString("utf8");
    return [...text.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)].flatMap((m) => (m[1] === undefined || m[1].trim() === "" ? [] : [`'sha256-${createHash("sha256").update(m[1]).digest("base64")}'`]));
  }
}
