/**
 * `npm run build` (and `prepack`): compiles src/ to dist/ — JavaScript, `.d.ts` and source maps —
 * and copies the files the code reads at run time (e.g. the warm-sandbox bootstraps) beside it.
 * Only the packed package needs this; in a checkout everything runs from src/.
 */
import { execFileSync } from "node:child_process";
import { cpSync, rmSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const dist = join(root, "dist");

// A stale file from a deleted source must not ship.
rmSync(dist, { recursive: true, force: true });
// The compiler is TypeScript 7, installed as `@typescript/native`: the name `typescript` is the
// TypeScript 6 API that typescript-eslint and dependency-cruiser still need (TS 7 ships no API yet).
execFileSync(process.execPath, [join(root, "node_modules", "@typescript", "native", "bin", "tsc"), "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
// tsc emits only what it compiles; any other file under src/ is an asset the code loads by path.
cpSync(join(root, "src"), dist, { recursive: true, filter: (source) => !source.endsWith(".ts") });
