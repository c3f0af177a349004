import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { privateFolder } from "../adapters/store/sqlite/sqlite-store.ts";
import { FactoryError } from "../core/errors.ts";
import { NODE_ID_PATTERN } from "../core/ports/membership.ts";

/**
 * The node id of a factory not given one: kept in `<dataRoot>/node-id`, made on the first start,
 * so a restarted factory is the same node (its agents' `nodeId` stays right) and two factories
 * on two data dirs are two nodes. Without a data dir (`:memory:`), a new id each time.
 */
export function defaultNodeId(dataRoot: string | null): string {
  const fresh = `node-${randomBytes(4).toString("hex")}`;
  if (dataRoot === null) return fresh;
  const file = join(dataRoot, "node-id");
  try {
    // Made (or tightened) as the SQLite store makes its folder: it is the same folder.
    privateFolder(dataRoot);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    const why =
      code === "EEXIST" || code === "ENOTDIR"
        ? "a file (not a folder) is in the way"
        : code === "EACCES" || code === "EPERM"
          ? "no permission"
          : code === "EINVAL"
            ? "it is under /proc, /sys or /dev (the kernel's file systems, not a disk's)"
            : code;
    throw new FactoryError("VALIDATION_FAILED", `dataDir: cannot use ${dataRoot} as the data folder: ${why} (${code})`, { field: "dataDir", cause: error });
  }
  try {
    // `wx`: of two first starts racing, one writes and the other reads what it wrote.
    writeFileSync(file, `${fresh}\n`, { flag: "wx" });
    return fresh;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const kept = readFileSync(file, "utf8").trim();
  if (!NODE_ID_PATTERN.test(kept)) {
    throw new FactoryError("VALIDATION_FAILED", `nodeId: ${file} holds '${kept.slice(0, 64)}', not a node id (1-64 letters, digits, '.', '_' or '-'); fix or delete the file, or pass nodeId`, {
      field: "nodeId",
    });
  }
  return kept;
}
