import { existsSync, statSync } from "node:fs";
import { Option, type Command } from "commander";
import { LOG_LEVELS, type LogLevel } from "../../core/ports/logger.ts";
import { redactUrl } from "../../core/redact-url.ts";
import { checkPorts, runLocalCluster } from "../cluster/local-cluster.ts";
import { UsageError, type GlobalOptions } from "../context.ts";
import { intOption } from "../flags.ts";
import { table } from "../output.ts";

/** node-1 listens here, node-i on the i-1th port after it: clear of `serve`'s 7371 and of the ports a second `serve` beside it would take. */
export const DEFAULT_CLUSTER_PORT = 7400;

/** Where the nodes' data folders go (node-1, node-2, …), relative to the working directory. */
export const DEFAULT_CLUSTER_DATA_DIR = ".agent-factory-cluster";

/** The most nodes one machine is asked to run: each is a whole factory, with its own connections to PostgreSQL and Redis. */
const MAX_NODES = 16;

/** The `serve` flags the cluster sets for each node itself; after `--` they would silently undo its layout. */
const OWN_FLAGS = ["--port", "--host", "--data", "--node-id", "--postgres", "--redis", "--cluster"];

interface ClusterFlags {
  nodes: number;
  postgres?: string;
  redis?: string;
  cluster?: string;
  port: number;
  host: string;
  data: string;
  profiles?: string;
  agentFiles: string[];
  mockScript?: string;
  allowUnsandboxed?: boolean;
  logLevel?: LogLevel;
}

/** `agent-factory cluster`: a local cluster of N `serve` nodes on one machine, sharing one PostgreSQL and one Redis, for development. */
export function clusterCommand(program: Command): void {
  program
    .command("cluster")
    .description("run a local cluster for development: N `serve` nodes on this machine sharing one PostgreSQL and one Redis; prints their URLs and runs until Ctrl-C (see docs/cluster.md)")
    .argument("[serve-args...]", "after `--`: more `serve` flags, given to every node (e.g. -- --chaos --retain-tasks 1d)")
    .option("--nodes <n>", `how many nodes (node-1 … node-N), 1 to ${MAX_NODES}`, intOption("--nodes", 1, MAX_NODES), 3)
    .option("--postgres <url>", "the PostgreSQL every node keeps its store in: postgres://user:password@host:port/db, ?schema=NAME for a schema of its own (also AGENT_FACTORY_POSTGRES_URL)")
    .option("--redis <url>", "the Redis the nodes share their bus and leases on: redis://host:6379[/db] (also AGENT_FACTORY_REDIS_URL)")
    .option("--cluster <name>", "the cluster's name on that Redis (also AGENT_FACTORY_CLUSTER; default: default)")
    .option("--port <base>", "node-1's port; node-i listens on base + i - 1", intOption("--port", 1, 65_535), DEFAULT_CLUSTER_PORT)
    .option("--host <host>", "the address every node binds (anything but loopback needs AGENT_FACTORY_API_KEY)", "127.0.0.1")
    .option("--data <dir>", "node-i's data folder is <dir>/node-i", DEFAULT_CLUSTER_DATA_DIR)
    .option("--profiles <dir>", "every node registers the profile files in this folder at start (serve --profiles)")
    .option("--agent-files <dir>", "a folder process agents' profiles may mount (serve --agent-files); repeatable", (dir: string, dirs: string[]) => [...dirs, dir], [] as string[])
    .option("--mock-script <file>", "scripted answers for the offline mock provider (serve --mock-script)")
    .option("--allow-unsandboxed", "allow profiles with `sandbox: { kind: none }` (serve --allow-unsandboxed)")
    .addOption(new Option("--log-level <level>", "least severe log line the nodes print (serve --log-level)").choices(LOG_LEVELS))
    .action(async (serveArgs: string[], flags: ClusterFlags, command: Command) => {
      const json = command.optsWithGlobals<GlobalOptions>().json === true;
      const postgresUrl = flags.postgres ?? nonEmpty(process.env.AGENT_FACTORY_POSTGRES_URL);
      const redisUrl = flags.redis ?? nonEmpty(process.env.AGENT_FACTORY_REDIS_URL);
      if (postgresUrl === undefined || redisUrl === undefined) {
        const missing = [postgresUrl === undefined ? "--postgres URL (or AGENT_FACTORY_POSTGRES_URL)" : "", redisUrl === undefined ? "--redis URL (or AGENT_FACTORY_REDIS_URL)" : ""].filter((m) => m !== "");
        throw new UsageError(`a cluster needs both PostgreSQL (the store its nodes share) and Redis (their bus and leases): give ${missing.join(" and ")}`);
      }
      // The URLs' shapes and the folders are checked here, before any node starts (each node would say the same, N times).
      if (!/^postgres(ql)?:\/\//.test(postgresUrl)) throw new UsageError(`--postgres must be a PostgreSQL URL (postgres://user:password@host:port/database), not ${redactUrl(postgresUrl)}`);
      const { redisTarget } = await import("../../core/redis-target.ts");
      try {
        redisTarget(redisUrl, flags.cluster ?? nonEmpty(process.env.AGENT_FACTORY_CLUSTER) ?? "default");
      } catch (error) {
        const field = String((error as { field?: unknown }).field);
        throw new UsageError(`${/cluster/i.test(field) ? "--cluster" : "--redis"}: ${error instanceof Error ? error.message : String(error)}`);
      }
      for (const dir of flags.agentFiles) {
        if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--agent-files ${dir}: no such folder`);
      }
      const last = flags.port + flags.nodes - 1;
      if (last > 65_535) throw new UsageError(`--port ${flags.port} leaves no room for ${flags.nodes} nodes: node-${flags.nodes} would need port ${last} (the last is 65535)`);
      if (serveArgs.length > 0 && !process.argv.includes("--")) {
        throw new UsageError(`unexpected argument '${serveArgs[0]}': flags for every node's serve go after \`--\` (agent-factory cluster … -- --chaos)`);
      }
      const owned = serveArgs.find((a) => OWN_FLAGS.includes(a.split("=")[0] as string));
      if (owned !== undefined) {
        throw new UsageError(`${owned.split("=")[0]} after \`--\`: the cluster sets each node's ${OWN_FLAGS.join(", ")} itself; give the cluster's own flags before \`--\``);
      }
      const apiKey = process.env.AGENT_FACTORY_API_KEY;
      if ((apiKey === undefined || apiKey === "") && !["127.0.0.1", "localhost", "::1"].includes(flags.host)) {
        throw new UsageError(`--host ${flags.host} needs AGENT_FACTORY_API_KEY: without a key a node binds loopback only, or anyone on the network could drive it`);
      }
      await checkPorts(flags.host, flags.port, flags.nodes);
      const cluster = flags.cluster ?? nonEmpty(process.env.AGENT_FACTORY_CLUSTER) ?? "default";
      const passed = [
        ...(flags.profiles === undefined ? [] : ["--profiles", flags.profiles]),
        ...flags.agentFiles.flatMap((dir) => ["--agent-files", dir]),
        ...(flags.mockScript === undefined ? [] : ["--mock-script", flags.mockScript]),
        ...(flags.allowUnsandboxed === true ? ["--allow-unsandboxed"] : []),
        ...(flags.logLevel === undefined ? [] : ["--log-level", flags.logLevel]),
        ...serveArgs,
      ];
      process.stderr.write(`store: PostgreSQL ${redactUrl(postgresUrl)}; bus and leases: Redis ${redactUrl(redisUrl)}; data: ${flags.data}/node-*\n`);
      process.exitCode = await runLocalCluster(
        { nodes: flags.nodes, basePort: flags.port, host: flags.host, dataDir: flags.data, postgresUrl, redisUrl, cluster, serveArgs: passed, json, readyTimeoutMs: 60_000, stopGraceMs: 15_000 },
        (nodes) => {
          if (json) {
            // One line: the command keeps running, so a script reads the first line of its stdout.
            process.stdout.write(`${JSON.stringify({ nodes })}\n`);
            return;
          }
          process.stdout.write(`${table(nodes.map((n) => ({ ...n })), ["id", "pid", "url"])}\n`);
          process.stderr.write(`cluster ${cluster}: ${nodes.length} node(s) running; agent-factory --url ${nodes[0]?.url} nodes lists them; Ctrl-C (or kill -INT ${process.pid}) stops them all\n`);
        },
      );
    });
}

/** An environment variable's value, or undefined when it is unset or empty. */
function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
