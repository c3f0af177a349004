// dependency-cruiser: the layers of DESIGN.md as rules, checked by `npm run lint` (`npm run depcheck`).
// Imports point down only; type-only imports count too, since they are dependencies of the design
// even though they vanish from the emitted JavaScript.
//
//   core ← state ← scheduler / health / economics / models / runtimes / cluster / security / tools ← agents / crews / tasks ← factory ← api / cli / dashboard ← index.ts
//
// adapters/ implement core's ports: they import core only, and only the wiring (factory) and
// what sits above it import them. client/ is the HTTP client published as `agent-factory/client`:
// it imports core, and the api's schemas for their types only, so no server code reaches it.

/** Each folder of src/ and the folders it may import besides its own. */
const layers = [
  ["core"],
  ["state"],
  ["scheduler", "health", "economics", "models", "runtimes", "cluster", "security", "tools"],
  ["agents", "crews", "tasks"],
  ["factory"],
  ["api", "cli", "dashboard"],
];

/**
 * Sideways imports inside a layer, in the one direction that makes sense: a model's price comes
 * from economics, the watchdog hands stuck tasks back to the scheduler's dispatcher, a crew is
 * assembled from agents, a task is checked against the crew it targets, the CLI's `serve` starts
 * the api's server. So agents ← crews ← tasks inside their layer: agents import neither.
 */
const sideways = {
  models: ["economics"],
  health: ["scheduler"],
  crews: ["agents"],
  tasks: ["crews"],
  cli: ["api"],
  // The api serves the dashboard's files; the dashboard (static pages and their table) imports nothing of ours.
  api: ["dashboard"],
  // MCP servers run in the process runtime's sandboxes, with its checks of the files they mount.
  tools: ["runtimes"],
};

/** Whom, beyond the layers below, each folder may import. */
const extra = {
  // The wiring point picks the adapters; what sits above it may name them too (e.g. a logger).
  factory: ["adapters"],
  api: ["adapters"],
  cli: ["adapters", "client"],
};

const below = (index) => layers.slice(0, index).flat();
const placed = [...layers.flat(), "adapters", "client"];

const layerRules = layers.flatMap((folders, index) =>
  folders.map((folder) => {
    const allowed = [folder, ...below(index), ...(sideways[folder] ?? []), ...(extra[folder] ?? [])];
    return {
      name: `layer-${folder}`,
      comment: `src/${folder}/ may import only ${allowed.filter((f) => f !== folder).join(", ") || "itself"} (DESIGN.md's layers: imports point down)`,
      severity: "error",
      from: { path: `^src/${folder}/` },
      to: { path: "^src/", pathNot: `^src/(${allowed.join("|")})/` },
    };
  }),
);

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "A cycle makes load order matter and the layers meaningless; break it by moving the shared part down.",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    ...layerRules,
    {
      name: "every-folder-placed",
      comment: "A new folder of src/ gets a place in the layers above before it imports anything, or no rule would watch it.",
      severity: "error",
      from: { path: "^src/[^/]+/", pathNot: `^src/(${placed.join("|")})/` },
      to: {},
    },
    {
      name: "adapters-import-core-only",
      comment: "An adapter implements core's ports: it imports core and its own folder, nothing else of ours.",
      severity: "error",
      from: { path: "^src/adapters/([^/]+)/" },
      to: { path: "^src/", pathNot: ["^src/core/", "^src/adapters/$1/", "^src/adapters/redis/"] },
    },
    {
      name: "client-imports-core-and-api-types",
      comment: "The published client loads no server code: core at run time, the api's schemas for their types only.",
      severity: "error",
      from: { path: "^src/client/" },
      to: { path: "^src/", pathNot: "^src/(client|core|api)/" },
    },
    {
      name: "client-api-types-only",
      comment: "The client names the api's schemas as types only (`import type`), so Hono and the routes stay out of it.",
      severity: "error",
      from: { path: "^src/client/" },
      to: { path: "^src/api/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "nothing-imports-the-entry-point",
      comment: "src/index.ts is the public surface, on top of everything; nothing inside imports it.",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^src/index\\.ts$" },
    },
    {
      name: "drivers-only-in-adapters",
      comment: "Store and queue drivers live behind core's ports, in adapters (STYLE.md: the core never imports a driver).",
      severity: "error",
      from: { pathNot: "^src/adapters/" },
      to: { path: "^(node_modules/)?(kysely|pg|ioredis|bullmq)(/|$)|^node:sqlite$|^sqlite$" },
    },
    {
      name: "http-server-only-in-api",
      comment: "Hono is the api's business; a service that imports it has taken on an HTTP concern.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/api/" },
      to: { path: "^(node_modules/)?(hono|@hono/[^/]+)(/|$)" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // Count `import type` too: see the top of this file.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["agent-factory-source", "import", "require", "node", "default", "types"],
      extensions: [".ts", ".js", ".mjs", ".cjs"],
    },
    skipAnalysisNotInRules: true,
  },
};
