import { statSync } from "node:fs";
import { dirname } from "node:path";
import { Option, type Command } from "commander";
import type { z } from "zod";
import { allowedOrigins, splitHost } from "../../api/host-guard.ts";
import { DEFAULT_DATA_DIR } from "../../factory/default-data-dir.ts";
import { LOG_LEVELS, type LogLevel } from "../../core/ports/logger.ts";
import type { ModelsConfig, ModelsConfigInput, ProviderConfig, ProviderConfigSchema } from "../../models/models-config.ts";
import { UsageError } from "../context.ts";
import { ECHO_AGENT_PATH } from "../chaos/profile.ts";
import { describeRetention, retentionRuleOption } from "../retention-option.ts";
import type { RetentionOptions, RetentionRule } from "../../state/retention.ts";
import type { ProfileInput } from "../../core/schemas/profile.ts";
import { fractionOption, intOption } from "../flags.ts";
import { redactUrl } from "../../core/redact-url.ts";

/** The server's code, loaded when `serve` runs: client commands would otherwise spend most of their start loading it. */
async function serverModules() {
  const [{ startServer }, { createFactory }, { loadProfileFolder, readDocument }, { parseWith }, { RouteRulesSchema }, { ModelsConfigSchema }, { retentionSettings }, { consoleLogger }, { createPostgresStore }, { createRedisBus }, { createRedisMembership }] = await Promise.all([
    import("../../api/server.ts"),
    import("../../factory/create-factory.ts"),
    import("../../factory/load-profiles.ts"),
    import("../../core/schemas/parse.ts"),
    import("../../models/policy.ts"),
    import("../../models/models-config.ts"),
    import("../../state/retention.ts"),
    import("../../adapters/logger/console-logger.ts"),
    import("../../factory/create-postgres-store.ts"),
    import("../../factory/create-redis-bus.ts"),
    import("../../factory/create-redis-membership.ts"),
  ]);
  return { startServer, createFactory, loadProfileFolder, readDocument, parseWith, RouteRulesSchema, ModelsConfigSchema, retentionSettings, consoleLogger, createPostgresStore, createRedisBus, createRedisMembership };
}

export const DEFAULT_PORT = 7371;

type ProviderConfigInput = z.input<typeof ProviderConfigSchema>;

export function serveCommand(program: Command): void {
  program
    .command("serve")
    .description("run the factory server (embedded SQLite store and in-memory bus, or PostgreSQL and Redis for several nodes)")
    .option("--port <port>", "port to listen on (0 picks a free one)", intOption("--port", 0, 65_535), DEFAULT_PORT)
    .option("--alert-queue-depth <tasks>", "raise alert.queue_depth when this many tasks wait for one pool (default 1000; 0: off)", intOption("--alert-queue-depth", 0, 100_000_000))
    .option("--alert-error-rate <fraction>", "raise alert.error_rate when this share of the last minute's tasks failed (default 0.5; 0: off)", fractionOption("--alert-error-rate"))
    .option("--alert-budget-fraction <fraction>", "raise alert.budget_low when a budget has this share or less left (default 0.1; 0: off)", fractionOption("--alert-budget-fraction"))
    .option("--host <host>", "address to bind (default 127.0.0.1; 0.0.0.0 when AGENT_FACTORY_API_KEY is set)")
    .option("--data <dir>", "data folder (the SQLite file lives here)", DEFAULT_DATA_DIR)
    .option("--postgres <url>", "keep the store in PostgreSQL instead of <data>/factory.db: postgres://user:password@host:port/db, ?schema=NAME for a schema of its own (also AGENT_FACTORY_POSTGRES_URL)")
    .option("--redis <url>", "carry events, crew topics and broadcasts over Redis to every node of the cluster: redis://host:6379[/db] (also AGENT_FACTORY_REDIS_URL)")
    .option("--node-id <id>", "this node's id in its cluster (default: kept in <data>/node-id); a second node under a live id is refused (also AGENT_FACTORY_NODE_ID)")
    .option("--cluster <name>", "the cluster's name: only nodes of the same cluster hear each other on one Redis (also AGENT_FACTORY_CLUSTER)")
    .option("--advertise-url <url>", "where the other nodes reach this one's API (default: http://HOST:PORT when bound to one address; needed with 0.0.0.0) (also AGENT_FACTORY_ADVERTISE_URL)")
    .option("--profiles <dir>", "register every profile file (YAML/JSON) in this folder at start (its files may name agent files in this folder, relative to it)")
    .option("--agent-files <dir>", "a folder whose files and subfolders process agents' profiles may mount (runtime.files); repeatable", (dir: string, dirs: string[]) => [...dirs, dir], [] as string[])
    .option("--allow-egress", "allow profiles with `sandbox: { allowEgress: true }`: their agents share this host's network, loopback included (needs AGENT_FACTORY_API_KEY, so they cannot drive this API)")
    .option("--allow-unsandboxed", "allow profiles with `sandbox: { kind: none }`: their programs run on this host, unsandboxed, as this server's user")
    .option("--chaos", "allow chaos actions (/v1/chaos: kill, freeze, latency) for `agent-factory chaos` (and agent files from the package's examples/agents, for its agent); never in production")
    .option("--allow-empty-store", "start a new empty store when <dir>/factory.db is an empty file (otherwise refused: see docs/storage.md)")
    .option("--retain-tasks <limit>", "finished tasks kept: an age (7d), a count (100000), both (7d,100000) or forever; default 7d,100000", retentionRuleOption("--retain-tasks"))
    .option("--retain-events <limit>", "events kept (crew messages aside), same forms; default 7d,1000000", retentionRuleOption("--retain-events"))
    .option("--retain-messages <limit>", "crew messages kept, same forms; default 7d,100000", retentionRuleOption("--retain-messages"))
    .option("--config <file>", "model settings (YAML/JSON): providers, pricing, rules, budgets, timeouts; see docs/models.md")
    .option("--rules <file>", "model routing rules (YAML or JSON list, first match wins; default: seed 004's five)")
    .option("--openai-base-url <url>", "send every model call to this OpenAI-compatible endpoint (key from OPENAI_API_KEY if set)")
    .option("--openai-model <name>", "with --openai-base-url: the one model every call is sent as (e.g. llama3.2 on Ollama)")
    .option("--mock-script <file>", "scripted answers for the offline mock provider (YAML/JSON; see docs/models.md)")
    .option("--allowed-host <name>", "also answer requests whose Host is this name (a DNS name, a proxy's); repeatable", collectHost, [])
    .option("--cors-origin <origin>", "let pages of this site (e.g. https://app.example) call the API from a browser; repeatable", collectOrigin, [])
    .addOption(new Option("--log-level <level>", "least severe log line printed, the factory's and its agents' (`log`, stderr)").choices(LOG_LEVELS).default("info"))
    .addOption(new Option("--log-format <format>", "text: lines for a person (the default); json: one JSON object a line on stdout (level, time, msg, node, ids), for a log shipper").choices(["text", "json"]).default("text"))
    .option("--otlp-endpoint <url>", "send OpenTelemetry traces (one per task) over OTLP/HTTP to <url>/v1/traces, JSON unless OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf (also OTEL_EXPORTER_OTLP_ENDPOINT, or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as the full URL); default off")
    .action(async (opts: { port: number; host?: string; data: string; profiles?: string; chaos?: boolean; allowEmptyStore?: boolean; retainTasks?: RetentionRule; retainEvents?: RetentionRule; retainMessages?: RetentionRule; rules?: string; config?: string; openaiBaseUrl?: string; openaiModel?: string; mockScript?: string; agentFiles: string[]; allowUnsandboxed?: boolean; allowEgress?: boolean; allowedHost: string[]; corsOrigin: string[]; logLevel: LogLevel; logFormat: "text" | "json"; otlpEndpoint?: string; postgres?: string; redis?: string; cluster?: string; nodeId?: string; advertiseUrl?: string; alertQueueDepth?: number; alertErrorRate?: number; alertBudgetFraction?: number }) => {
      const apiKey = process.env.AGENT_FACTORY_API_KEY;
      const secured = apiKey !== undefined && apiKey.length > 0;
      const host = opts.host ?? (secured ? "0.0.0.0" : "127.0.0.1");
      if (opts.allowEgress === true && !secured) {
        throw new UsageError("--allow-egress needs AGENT_FACTORY_API_KEY: an agent with egress shares this host's loopback and could drive a keyless API");
      }
      // Beyond loopback /v1 must never be open: an environment key, or operator keys already stored
      // (checked once the store is open; the server then never opens /v1, even if every key is revoked).
      const exposed = !secured && host !== "127.0.0.1" && host !== "localhost" && host !== "::1";
      const { startServer, createFactory, loadProfileFolder, readDocument, parseWith, RouteRulesSchema, retentionSettings, consoleLogger, createPostgresStore, createRedisBus, createRedisMembership } = await serverModules();
      const routingRules = opts.rules === undefined ? undefined : parseWith(RouteRulesSchema, await readDocument(opts.rules), `routing rules in ${opts.rules}`);
      const models = await modelsConfig(opts);
      const retention: RetentionOptions = {
        ...(opts.retainTasks === undefined ? {} : { tasks: opts.retainTasks }),
        ...(opts.retainEvents === undefined ? {} : { events: opts.retainEvents }),
        ...(opts.retainMessages === undefined ? {} : { messages: opts.retainMessages }),
      };
      const tracing = tracingOption(opts.otlpEndpoint);
      const json = opts.logFormat === "json" ? (await import("../../adapters/logger/pino-logger.ts")).pinoLogger(opts.logLevel) : undefined;
      const logger = json ?? consoleLogger(opts.logLevel);
      // JSON logs: every line on stdout is a JSON object, the start-up lines too.
      const say = (line: string): void => (json === undefined ? console.log(line) : json.info(line));
      const sayError = (line: string): void => (json === undefined ? console.error(line) : json.error(line));
      // Checked before anything is opened: a bad folder must not leave a store or a lease behind.
      const agentFiles = agentFolders(opts);
      const postgresUrl = opts.postgres ?? nonEmpty(process.env.AGENT_FACTORY_POSTGRES_URL);
      const redisUrl = opts.redis ?? nonEmpty(process.env.AGENT_FACTORY_REDIS_URL);
      const cluster = opts.cluster ?? nonEmpty(process.env.AGENT_FACTORY_CLUSTER) ?? "default";
      if (opts.cluster !== undefined && redisUrl === undefined) throw new UsageError("--cluster names the nodes that share a Redis: give --redis URL (or AGENT_FACTORY_REDIS_URL) too");
      // A node of a cluster shares the cluster's store: on a SQLite file of its own, the others
      // would place crew members and tasks on it that no other node could see or take over.
      if (redisUrl !== undefined && postgresUrl === undefined) {
        throw new UsageError("--redis joins this node to a cluster, whose nodes share one store: give --postgres URL (or AGENT_FACTORY_POSTGRES_URL) too");
      }
      // Both URLs' shapes and the cluster's name are checked before anything opens.
      if (redisUrl !== undefined) {
        const { redisTarget } = await import("../../core/redis-target.ts");
        try {
          redisTarget(redisUrl, cluster);
        } catch (error) {
          flagged(/cluster/i.test(String((error as { field?: unknown }).field)) ? "--cluster" : "--redis")(error);
        }
      }
      // Opened before the factory, so a wrong or unreachable URL fails the start naming it (password hidden).
      const store = postgresUrl === undefined ? undefined : await createPostgresStore({ url: postgresUrl }).catch(flagged("--postgres"));
      const nodeId = opts.nodeId ?? nonEmpty(process.env.AGENT_FACTORY_NODE_ID);
      const advertised = opts.advertiseUrl ?? nonEmpty(process.env.AGENT_FACTORY_ADVERTISE_URL);
      if (advertised !== undefined && !/^https?:\/\/[^/]+\/?$/.test(advertised)) throw new UsageError(`--advertise-url must be http(s)://host:port, not '${advertised}'`);
      // Port 0 asks for any free port; a node must know it before it joins (it tells the others
      // where to reach it), so one is chosen now. Another process could take it in between: the
      // start then fails with "address in use" and is simply retried.
      const port = opts.port === 0 && redisUrl !== undefined ? await freePort(host) : opts.port;
      let bus: Awaited<ReturnType<typeof createRedisBus>> | undefined;
      // Bus errors count in the metrics once the factory exists (the bus is opened before it).
      const busErrors = { count: (): void => {} };
      let membership: Awaited<ReturnType<typeof createRedisMembership>> | undefined;
      try {
        if (redisUrl !== undefined) {
          bus = await createRedisBus({
            url: redisUrl,
            cluster,
            onError: (error) => {
              logger.error("Redis bus", error);
              busErrors.count();
            },
          });
          // The nodes of a cluster hold their leases where they share their bus.
          membership = await createRedisMembership({ url: redisUrl, cluster, onError: (error) => logger.error("node lease", error) });
        }
      } catch (error) {
        await bus?.close();
        await store?.close();
        // A URL or cluster name that cannot be right is the user's flag to fix (exit 2, naming it).
        return flagged(opts.cluster !== undefined && /cluster/i.test(String((error as { field?: unknown }).field)) ? "--cluster" : "--redis")(error);
      }
      const factory = await createFactory({
        dataDir: opts.data,
        ...(store === undefined ? {} : { store }),
        ...(bus === undefined ? {} : { bus }),
        ...(membership === undefined ? {} : { membership }),
        ...(nodeId === undefined ? {} : { nodeId }),
        // The nodes of a cluster share one key: this node calls the others' APIs with it.
        ...(secured ? { nodeApiKey: apiKey } : {}),
        // Where the other nodes (and GET /v1/nodes) reach this one, when the port is known before it listens.
        // (Not for a wildcard bind: 0.0.0.0 is no address another node can reach.)
        ...(advertised !== undefined
          ? { nodeUrl: advertised.replace(/\/$/, "") }
          : port === 0 || host === "0.0.0.0" || host === "::"
            ? {}
            : { nodeUrl: `http://${host.includes(":") ? `[${host}]` : host}:${port}` }),
        allowEmptyStore: opts.allowEmptyStore === true,
        retention,
        chaos: opts.chaos === true,
        models,
        logger,
        agentFiles,
        allowUnsandboxed: opts.allowUnsandboxed === true,
        allowEgress: opts.allowEgress === true,
        alerts: {
          ...(opts.alertQueueDepth === undefined ? {} : { queueDepth: opts.alertQueueDepth }),
          ...(opts.alertErrorRate === undefined ? {} : { errorRate: opts.alertErrorRate }),
          ...(opts.alertBudgetFraction === undefined ? {} : { budgetFraction: opts.alertBudgetFraction }),
        },
        ...(routingRules === undefined ? {} : { routingRules }),
        ...(tracing === undefined ? {} : { tracing }),
      }).catch(async (error: unknown) => {
        // createFactory closes a store it could not start on; the bus and the leases are ours to close.
        await bus?.close();
        await membership?.close();
        throw error;
      });
      busErrors.count = () => factory.recordBusError();
      if (exposed && !(await factory.hasOperatorKeys())) {
        await factory.close({ force: true });
        throw new Error(`refusing to bind ${host} without a key: anyone on the network could drive the factory. Set AGENT_FACTORY_API_KEY, or make an operator key first (agent-factory keys create --role admin, against this server on 127.0.0.1)`);
      }
      if (opts.profiles !== undefined) {
        try {
          const { files, created } = await loadProfileFolder(opts.profiles, (p) => factory.registerProfile(p as ProfileInput)); // a file's content: registerProfile validates it and names the field
          say(`profiles: ${files} file(s) in ${opts.profiles}, ${created} new version(s)`);
        } catch (error) {
          await factory.close();
          throw error;
        }
      }
      const server = await startServer(factory, { port, host, allowedHosts: opts.allowedHost, corsOrigins: opts.corsOrigin, ...(secured ? { apiKey } : {}), requireKey: exposed }).catch(async (error: unknown) => {
        // No API, no factory: a port in use must not leave it running with its store, lock and lease.
        await factory.close({ force: true });
        throw error;
      });
      json?.setNode(factory.nodeId);
      const { agents, tasks } = factory.restored;
      const where = postgresUrl === undefined ? `data: ${opts.data}` : `store: PostgreSQL ${redactUrl(postgresUrl)}`;
      say(`agent-factory listening on ${server.url} (${where}; ${agents} agent(s), ${tasks} unfinished task(s) restored)`);
      if (redisUrl !== undefined) say(`bus: Redis ${redactUrl(redisUrl)}, cluster ${cluster}; node ${factory.nodeId}`);
      const stored = (await factory.listOperatorKeys().catch(() => [])).length;
      say(
        secured
          ? `API key required on /v1 (AGENT_FACTORY_API_KEY${stored > 0 ? ` or one of ${stored} operator key(s)` : ""}); bound to ${host}`
          : stored > 0
            ? `no AGENT_FACTORY_API_KEY set: /v1 needs one of ${stored} operator key(s)${exposed ? ` (bound to ${host}: /v1 stays closed even if every key is revoked)` : ""}`
            : "no AGENT_FACTORY_API_KEY set: listening on 127.0.0.1 only, /v1 needs no key until one is made (agent-factory keys create)",
      );
      say(`dashboard: ${server.url}/ui   API reference: ${server.url}/docs`);
      say(`OpenAPI: ${server.url}/openapi.json   events: ${server.url}/v1/events`);
      say(`models: ${describeProviders(factory.modelsInfo().providers)}`);
      say(`retention: ${describeRetention(retentionSettings(retention))} (--retain-*; docs/storage.md)`);
      if (opts.chaos === true) say(`chaos actions ON: ${server.url}/v1/chaos (kill, freeze, latency)`);
      if (opts.allowEgress === true) say("agents with egress allowed (--allow-egress): profiles with sandbox.allowEgress share this host's network");
      if (opts.allowUnsandboxed === true) say("unsandboxed agents allowed (--allow-unsandboxed): profiles with sandbox.kind none run on this host as this server's user");
      let signals = 0;
      let forced = false;
      const shutdown = (signal: string): void => {
        signals++;
        if (signals === 1) {
          say(`${signal}: shutting down — draining running tasks (send it again to force)`);
          void server.close().then(() => {
            say("stopped; queued tasks and agents are kept for the next start");
            // 128 + signal number, as shells report a process ended by a signal, when forced.
            process.exit(forced ? 128 + (signal === "SIGINT" ? 2 : 15) : 0);
          });
        } else {
          forced = true;
          say(`${signal}: forcing shutdown — running tasks go back to the queue`);
          void server.close({ force: true });
        }
      };
      factory.onFenced((reason) => {
        // Its agents run on another node now; a supervisor (systemd, Kubernetes, `agent-factory cluster`) starts it again as a new member.
        sayError(`error: node ${factory.nodeId} was fenced out of its cluster: ${reason}. Exiting (75) to be restarted [NODE_FENCED]`);
        void server.close({ force: true }).finally(() => process.exit(75));
      });
      process.on("SIGINT", () => shutdown("SIGINT"));
      process.on("SIGTERM", () => shutdown("SIGTERM"));
    });
}

function collectHost(value: string, previous: string[]): string[] {
  if (splitHost(value) === undefined) throw new UsageError(`--allowed-host must be a host name or address with an optional :port, got '${value}'`);
  return [...previous, value];
}

function collectOrigin(value: string, previous: string[]): string[] {
  try {
    allowedOrigins([value]);
  } catch {
    throw new UsageError(`--cors-origin must be an origin such as https://app.example or http://localhost:5173, got '${value}'`);
  }
  return [...previous, value];
}

/**
 * The folders agent files may come from: each `--agent-files` folder, the `--profiles` folder
 * (so its profiles can ship their agents' code beside them), and with `--chaos` the package's
 * example agents (the agent `agent-factory chaos` registers). Each must be a folder.
 */
function agentFolders(opts: { profiles?: string; agentFiles: string[]; chaos?: boolean }): string[] {
  const named: Array<[string, string]> = [
    ...opts.agentFiles.map((dir): [string, string] => ["--agent-files", dir]),
    ...(opts.profiles === undefined ? [] : [["--profiles", opts.profiles] as [string, string]]),
    ...(opts.chaos === true ? [["--chaos", dirname(ECHO_AGENT_PATH)] as [string, string]] : []),
  ];
  for (const [flag, dir] of named) {
    if (statSync(dir, { throwIfNoEntry: false })?.isDirectory() !== true) throw new Error(`${flag} ${dir}: no such folder`);
  }
  return named.map(([, dir]) => dir);
}

/** The server's model settings as `serve` builds them: the config file, then the one-line flags on top of it. */
export async function modelsConfig(opts: { config?: string; openaiBaseUrl?: string; openaiModel?: string; mockScript?: string }): Promise<ModelsConfigInput> {
  const { parseWith, ModelsConfigSchema, readDocument } = await serverModules();
  const fromFile: Partial<ModelsConfig> = opts.config === undefined ? {} : parseWith(ModelsConfigSchema, (await readDocument(opts.config)) ?? {}, `model config in ${opts.config}`);
  const providers: ProviderConfigInput[] = [...(fromFile.providers ?? [])];
  if (opts.openaiModel !== undefined && opts.openaiBaseUrl === undefined) throw new Error("--openai-model needs --openai-base-url");
  if (opts.openaiBaseUrl !== undefined) {
    const key = process.env.OPENAI_API_KEY;
    providers.push({
      name: "openai",
      kind: "openai-compatible",
      baseURL: opts.openaiBaseUrl,
      ...(key === undefined || key === "" ? {} : { apiKeyEnv: "OPENAI_API_KEY" }),
      ...(providers.some((p) => p.serves === "*") ? {} : { serves: "*" as const }),
      ...(opts.openaiModel === undefined ? {} : { model: opts.openaiModel }),
    });
  }
  if (opts.mockScript !== undefined) {
    providers.push({ name: providers.some((p) => p.name === "mock") ? "mock-script" : "mock", kind: "mock", script: opts.mockScript, ...(providers.some((p) => p.serves === "*") ? {} : { serves: "*" as const }) });
  }
  return { ...fromFile, providers };
}

function describeProviders(providers: ReadonlyArray<{ name: string; kind: ProviderConfig["kind"]; baseURL: string | null; servesAll: boolean }>): string {
  if (providers.length === 1 && providers[0]?.kind === "mock" && providers[0].servesAll) return "offline — the mock provider answers every model name (--config, --openai-base-url to use real ones)";
  return providers.map((p) => `${p.name} (${p.kind}${p.baseURL === null ? "" : ` ${p.baseURL}`}${p.servesAll ? ", every other model name" : ""})`).join("; ");
}

/** An environment variable's value, or undefined when it is unset or empty. */
/**
 * Tracing from the flag or the standard OpenTelemetry variables (the flag wins): a base URL whose
 * `/v1/traces` gets the spans, or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as the full URL; the
 * protocol from `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL` (http/json by
 * default; gRPC is not offered). A bad value is the user's to fix: exit 2, naming where it came from.
 */
function tracingOption(flag: string | undefined): { endpoint: string; protocol: "http/json" | "http/protobuf" } | { url: string; protocol: "http/json" | "http/protobuf" } | undefined {
  const env = process.env;
  const source =
    flag !== undefined
      ? { name: "--otlp-endpoint", value: flag, full: false }
      : nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) !== undefined
        ? { name: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", value: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as string, full: true }
        : nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT) !== undefined
          ? { name: "OTEL_EXPORTER_OTLP_ENDPOINT", value: env.OTEL_EXPORTER_OTLP_ENDPOINT as string, full: false }
          : undefined;
  if (source === undefined) return undefined;
  if (!URL.canParse(source.value) || !/^https?:$/.test(new URL(source.value).protocol)) {
    throw new UsageError(`${source.name} must be an http(s) URL (an OTLP/HTTP collector, e.g. http://127.0.0.1:4318), not '${source.value}'`);
  }
  const protocolVar = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) !== undefined ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const protocol = nonEmpty(env[protocolVar]) ?? "http/json";
  if (protocol !== "http/json" && protocol !== "http/protobuf") throw new UsageError(`${protocolVar} must be http/json or http/protobuf (OTLP over HTTP), not '${protocol}'`);
  return source.full ? { url: source.value, protocol } : { endpoint: source.value, protocol };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/** A port free on `host` right now (the kernel's choice for port 0). */
async function freePort(host: string): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** A validation error of what a flag gave becomes a usage error naming the flag (exit 2); others pass on. */
function flagged(flag: string): (error: unknown) => never {
  return (error: unknown): never => {
    if ((error as { code?: unknown }).code === "VALIDATION_FAILED" && error instanceof Error) throw new UsageError(`${flag}: ${error.message}`);
    throw error;
  };
}
