#!/usr/bin/env node
// Installed (under node_modules) the CLI runs the JavaScript built into dist/, because Node does
// not strip types there; in a checkout it runs the TypeScript sources, so development needs no
// build step and never runs a stale dist/.
import module from "node:module";
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
// Node keeps the compiled (and, for the sources, type-stripped) modules on disk between runs,
// which takes most of the start-up time off every command. Entries are keyed by content, so an
// edited file is never served stale; NODE_DISABLE_COMPILE_CACHE=1 turns it off.
module.enableCompileCache?.();
await import(installed ? "../dist/cli/main.js" : "../src/cli/main.ts");
