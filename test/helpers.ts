import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFactory, type FactoryOptions } from "../src/factory/create-factory.ts";
import type { Factory } from "../src/factory/factory.ts";

/** A fresh folder under the OS temp dir; `cleanup` removes it. */
export function tempDir(prefix = "af-test-"): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Errors are reported through the test, not printed. */
export const silentLogger = { info: () => {}, warn: () => {}, error: () => {} };

/** A factory on a real SQLite file in a fresh temp dir. */
export async function testFactory(options: FactoryOptions = {}): Promise<{ factory: Factory; dir: string; close: () => Promise<void> }> {
  const dir = tempDir();
  const factory = await createFactory({ dataDir: dir.path, logger: silentLogger, shutdownGraceMs: 1_000, ...options });
  return {
    factory,
    dir: dir.path,
    // An arrow, not a method: tests destructure `close` from the result.
    close: async () => {
      await factory.close({ force: true });
      dir.cleanup();
    },
  };
}

/** Waits until `predicate` holds, polling; fails with `what` after `timeoutMs`. */
export async function until(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Whether a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose command line mentions `marker` (sandboxed agents and their bwrap). */
export function processesWith(marker: string): string[] {
  try {
    return execFileSync("pgrep", ["-af", marker], { encoding: "utf8" }).split("\n").filter((l) => l.trim() !== "" && !l.includes("pgrep"));
  } catch {
    return [];
  }
}
