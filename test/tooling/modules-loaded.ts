// Records which modules a fresh process loads while it runs a script against the library (Node's synchronous module hooks): what the lazy-loading tests check.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const INDEX = resolve(import.meta.dirname, "../../src/index.ts");

/** A folder for the scripts and logs; `close()` removes it. */
export function moduleRecorder(prefix: string): { modulesLoadedBy(name: string, body: string, timeoutMs?: number): Promise<string[]>; close(): void } {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  return {
    /** Runs `body` (an ES module that may use `lib`, the imported src/index.ts) and returns every module URL its process loaded. */
    async modulesLoadedBy(name, body, timeoutMs = 30_000) {
      const log = join(tmp, `${name}.txt`);
      const hook = join(tmp, `${name}-hook.mjs`);
      const script = join(tmp, `${name}.mjs`);
      writeFileSync(hook, `import { registerHooks } from "node:module";\nimport { appendFileSync } from "node:fs";\nregisterHooks({ load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + "\\n"); return next(url, context); } });\n`);
      writeFileSync(script, `const lib = await import(${JSON.stringify(INDEX)});\n${body}\n`);
      writeFileSync(log, "");
      await new Promise<void>((done, fail) => {
        execFile(process.execPath, ["--conditions=agent-factory-source", "--disable-warning=ExperimentalWarning", "--import", hook, script], { timeout: timeoutMs }, (error, _stdout, stderr) => (error === null ? done() : fail(new Error(stderr))));
      });
      return readFileSync(log, "utf8").trim().split("\n");
    },
    close: () => rmSync(tmp, { recursive: true, force: true }),
  };
}
