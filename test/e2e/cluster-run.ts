// Real `serve` nodes of one test cluster: a PostgreSQL schema and a Redis cluster name of their own, and everything they leave removed after.
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PG_URL, testSchema, type TestSchema } from "../adapters/postgres-test-schema.ts";
import { dropRedisClusters, REDIS_URL } from "../adapters/redis-test-server.ts";
import { startServe, type Server } from "./serve.ts";

export interface ClusterRun {
  readonly cluster: string;
  /** The cluster's schema, made at the first ask. */
  schema(): Promise<TestSchema>;
  /** Starts `serve` as node `id` of the cluster (its own data folder), with `extra` flags. */
  node(id: string, extra?: readonly string[]): Promise<Server>;
  /** Stops the nodes still running, then drops the schema, the data folders and the Redis keys they left. */
  close(): Promise<void>;
}

export function clusterRun(): ClusterRun {
  const cluster = `af-test-${randomBytes(6).toString("hex")}`;
  const data = join(tmpdir(), cluster);
  const servers: Server[] = [];
  let schema: Promise<TestSchema> | undefined;
  const run: ClusterRun = {
    cluster,
    schema: () => (schema ??= testSchema()),
    async node(id, extra = []) {
      const { name } = await run.schema();
      return startServe(["--postgres", `${PG_URL}?schema=${name}`, "--redis", `${REDIS_URL}/0`, "--cluster", cluster, "--node-id", id, "--data", join(data, id), ...extra], (s) => servers.push(s));
    },
    async close() {
      for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGTERM");
      await Promise.all(servers.map((s) => s.exited));
      await (await schema)?.drop();
      rmSync(data, { recursive: true, force: true });
      // Last, once every node is gone: what they left on Redis (a killed node never leaves).
      await dropRedisClusters(cluster);
    },
  };
  return run;
}
