import { readdir, readFile } from "node:fs/promises";
import { dirname, extname, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { FactoryError, isFactoryError } from "../core/errors.ts";
import { resolveProfileFiles } from "./profile-files.ts";

/** Reads a YAML or JSON document; a syntax error names the file and line. */
export async function readDocument(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new FactoryError("NOT_FOUND", `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    return extname(path) === ".json" ? (JSON.parse(text) as unknown) : (parseYaml(text) as unknown);
  } catch (error) {
    throw new FactoryError("VALIDATION_FAILED", `${path} is not valid ${extname(path) === ".json" ? "JSON" : "YAML"}: ${(error as Error).message.split("\n")[0]}`);
  }
}

/** `*.yaml`, `*.yml` and `*.json` files of a folder, sorted. */
export async function documentFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    throw new FactoryError("NOT_FOUND", `cannot read the folder ${dir}: ${error.code ?? String(error)}`);
  });
  return entries
    .filter((e) => e.isFile() && [".yaml", ".yml", ".json"].includes(extname(e.name)))
    .map((e) => join(dir, e.name))
    .sort();
}

/**
 * Registers every profile file of `dir` (one profile per file, or a list), relative
 * `runtime.files` resolved against the file's folder. A bad file stops the load with an error
 * naming the file and the field.
 */
export async function loadProfileFolder(dir: string, register: (profile: unknown) => { created: boolean }): Promise<{ files: number; created: number }> {
  const files = await documentFiles(dir);
  let created = 0;
  for (const file of files) {
    const doc = await readDocument(file);
    const profiles = Array.isArray(doc) ? doc : [doc];
    for (const [i, profile] of profiles.entries()) {
      try {
        if (register(resolveProfileFiles(profile, dirname(file))).created) created++;
      } catch (error) {
        if (!isFactoryError(error)) throw error;
        const where = Array.isArray(doc) ? `${file} [${i}]` : file;
        throw new FactoryError(error.code, `${where}: ${error.message}`, error.field === undefined ? {} : { field: error.field });
      }
    }
  }
  return { files: files.length, created };
}
