#!/usr/bin/env node
// Installed (under node_modules) the CLI runs the JavaScript built into dist/, because Node does
// not strip types there; in a checkout it runs the TypeScript sources, so development needs no
// build step and never runs a stale dist/.
import { fileURLToPath } from "node:url";

const installed = fileURLToPath(import.meta.url).split(/[\\/]/).includes("node_modules");
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `agent-factory needs Node.js >= 22.18; this is ${process.versions.node}.\n` +
      (installed ? "Install a newer Node.js (https://nodejs.org)." : "Run it through npm so the project's own Node 24 is used: npx agent-factory …"),
  );
  process.exit(1);
}
await import(installed ? "../dist/cli/main.js" : "../src/cli/main.ts");
