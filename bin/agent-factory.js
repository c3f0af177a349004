#!/usr/bin/env node
// The CLI runs the TypeScript sources directly, which needs Node's type stripping (>= 22.18).
// Run through npm (`npx agent-factory`, `npm start`) the project's pinned Node 24 is used.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `agent-factory needs Node.js >= 22.18; this is ${process.versions.node}.\n` +
      "Run it through npm so the project's own Node 24 is used: npx agent-factory …",
  );
  process.exit(1);
}
await import("../src/cli/main.ts");
