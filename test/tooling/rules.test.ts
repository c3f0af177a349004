// Pins that the rules CI enforces still bite: dependency-cruiser reports an upward import, a
// type-only upward import, a cycle and an adapter reaching past core; ESLint reports a floating
// and a misused promise. Turning a rule off, or loosening it so these pass, fails this test.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { ESLint } from "eslint";

const ROOT = join(import.meta.dirname, "..", "..");

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
  cycle?: { name: string }[];
}

describe("dependency-cruiser (.dependency-cruiser.cjs)", () => {
  let dir: string;
  let violations: Violation[];

  before(async () => {
    // A tiny src/ tree that breaks each rule once, next to imports the rules allow.
    dir = mkdtempSync(join(tmpdir(), "af-depcruise-"));
    const files: Record<string, string> = {
      "tsconfig.json": JSON.stringify({ compilerOptions: { module: "nodenext", allowImportingTsExtensions: true, noEmit: true } }),
      "src/core/ids.ts": `export const id = (): string => "x";\n`,
      // Upward: core importing the factory.
      "src/core/upward.ts": `import { Factory } from "../factory/factory.ts";\nexport const f = new Factory();\n`,
      "src/factory/factory.ts": `import { id } from "../core/ids.ts";\nexport class Factory { id = id(); }\n`,
      // Upward through a type-only import: still a dependency of the design.
      "src/scheduler/queue.ts": `import type { Spawner } from "../agents/spawner.ts";\nexport type Q = Spawner;\n`,
      "src/agents/spawner.ts": `import { id } from "../core/ids.ts";\nexport class Spawner { id = id(); }\n`,
      // A cycle inside one layer.
      "src/state/journal.ts": `import { log } from "./event-log.ts";\nexport const journal = (): void => log();\n`,
      "src/state/event-log.ts": `import { journal } from "./journal.ts";\nexport const log = (): void => journal();\n`,
      // An adapter reaching past core.
      "src/adapters/store/memory.ts": `import { journal } from "../../state/journal.ts";\nexport const m = journal;\n`,
      // Allowed: downward, and the one sideways direction the design names (models → economics).
      "src/economics/pricing.ts": `import { id } from "../core/ids.ts";\nexport const price = id;\n`,
      "src/models/router.ts": `import { price } from "../economics/pricing.ts";\nexport const route = price;\n`,
      // Forbidden: the reverse sideways direction.
      "src/economics/ledger.ts": `import { route } from "../models/router.ts";\nexport const l = route;\n`,
    };
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const cli = join(ROOT, "node_modules", "dependency-cruiser", "bin", "dependency-cruiser.mjs");
    const args = [cli, "--config", join(ROOT, ".dependency-cruiser.cjs"), "--output-type", "json", "src"];
    // depcruise exits non-zero when it finds violations: that is the case under test.
    const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: dir, maxBuffer: 16 * 1024 * 1024 }).catch(
      (error: { stdout?: string }) => ({ stdout: error.stdout ?? "" }),
    );
    violations = (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations;
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  const found = (rule: string, from: string, to: string): boolean =>
    violations.some((v) => v.rule.name === rule && v.from === from && v.to === to);

  test("an upward import is an error", () => {
    assert.ok(found("layer-core", "src/core/upward.ts", "src/factory/factory.ts"), JSON.stringify(violations));
  });

  test("a type-only upward import is an error too", () => {
    assert.ok(found("layer-scheduler", "src/scheduler/queue.ts", "src/agents/spawner.ts"), JSON.stringify(violations));
  });

  test("a cycle is an error", () => {
    const cycle = violations.find((v) => v.rule.name === "no-circular");
    assert.deepEqual(cycle?.cycle?.map((c) => c.name).sort(), ["src/state/event-log.ts", "src/state/journal.ts"], JSON.stringify(violations));
  });

  test("an adapter may import core only", () => {
    assert.ok(found("adapters-import-core-only", "src/adapters/store/memory.ts", "src/state/journal.ts"), JSON.stringify(violations));
  });

  test("sideways only in the named direction: models → economics passes, economics → models does not", () => {
    assert.ok(found("layer-economics", "src/economics/ledger.ts", "src/models/router.ts"), JSON.stringify(violations));
    assert.equal(violations.filter((v) => v.from === "src/models/router.ts").length, 0);
  });
});

describe("ESLint (eslint.config.js)", () => {
  test("a floating promise and a promise where a void callback is expected are errors", async () => {
    const eslint = new ESLint({ cwd: ROOT });
    const code = [
      "async function save(): Promise<void> {}",
      "export function handler(): void {",
      "  save();",
      "  [1, 2].forEach(async () => save());",
      "}",
      "",
    ].join("\n");
    // Linted as if it were this file, so the type-aware rules see it inside the project.
    const [result] = await eslint.lintText(code, { filePath: join(import.meta.dirname, "rules.test.ts") });
    const rules = (result?.messages ?? []).map((m) => `${m.line}:${m.ruleId}`);
    assert.ok(rules.includes("3:@typescript-eslint/no-floating-promises"), rules.join(", "));
    assert.ok(rules.includes("4:@typescript-eslint/no-misused-promises"), rules.join(", "));
  });
});
