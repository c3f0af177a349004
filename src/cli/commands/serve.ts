import type { Command } from "commander";
import type { z } from "zod";
import { DEFAULT_DATA_DIR } from "../../factory/default-data-dir.ts";
import type { ModelsConfig, ModelsConfigInput, ProviderConfig, ProviderConfigSchema } from "../../models/models-config.ts";
import { intOption } from "../context.ts";

/** The server's code, loaded when `serve` runs: client commands would otherwise spend most of their start loading it. */
async function serverModules() {
  const [{ startServer }, { createFactory }, { loadProfileFolder, readDocument }, { parseWith }, { RouteRulesSchema }, { ModelsConfigSchema }] = await Promise.all([
    import("../../api/server.ts"),
    import("../../factory/create-factory.ts"),
    import("../../factory/load-profiles.ts"),
    import("../../core/schemas/parse.ts"),
    import("../../models/policy.ts"),
    import("../../models/models-config.ts"),
  ]);
  return { startServer, createFactory, loadProfileFolder, readDocument, parseWith, RouteRulesSchema, ModelsConfigSchema };
}

export const DEFAULT_PORT = 7371;

type ProviderConfigInput = z.input<typeof ProviderConfigSchema>;

export function serveCommand(program: Command): void {
  program
    .command("serve")
    .description("run the factory server (embedded SQLite store, in-memory bus)")
    .option("--port <port>", "port to listen on (0 picks a free one)", intOption("--port", 0, 65_535), DEFAULT_PORT)
    .option("--host <host>", "address to bind (default 127.0.0.1; 0.0.0.0 when AGENT_FACTORY_API_KEY is set)")
    .option("--data <dir>", "data folder (the SQLite file lives here)", DEFAULT_DATA_DIR)
    .option("--profiles <dir>", "register every profile file (YAML/JSON) in this folder at start")
    .option("--chaos", "allow chaos actions (/v1/chaos: kill, freeze, latency) for `agent-factory chaos`; never in production")
    .option("--config <file>", "model settings (YAML/JSON): providers, pricing, rules, budgets, timeouts; see docs/models.md")
    .option("--rules <file>", "model routing rules (YAML or JSON list, first match wins; default: seed 004's five)")
    .option("--openai-base-url <url>", "send every model call to this OpenAI-compatible endpoint (key from OPENAI_API_KEY if set)")
    .option("--openai-model <name>", "with --openai-base-url: the one model every call is sent as (e.g. llama3.2 on Ollama)")
    .option("--mock-script <file>", "scripted answers for the offline mock provider (YAML/JSON; see docs/models.md)")
    .action(async (opts: { port: number; host?: string; data: string; profiles?: string; chaos?: boolean; rules?: string; config?: string; openaiBaseUrl?: string; openaiModel?: string; mockScript?: string }) => {
      const apiKey = process.env.AGENT_FACTORY_API_KEY;
      const secured = apiKey !== undefined && apiKey.length > 0;
      const host = opts.host ?? (secured ? "0.0.0.0" : "127.0.0.1");
      if (!secured && host !== "127.0.0.1" && host !== "localhost" && host !== "::1") {
        throw new Error(`refusing to bind ${host} without AGENT_FACTORY_API_KEY: anyone on the network could drive the factory`);
      }
      const { startServer, createFactory, loadProfileFolder, readDocument, parseWith, RouteRulesSchema } = await serverModules();
      const routingRules = opts.rules === undefined ? undefined : parseWith(RouteRulesSchema, await readDocument(opts.rules), `routing rules in ${opts.rules}`);
      const models = await modelsConfig(opts);
      const factory = await createFactory({ dataDir: opts.data, chaos: opts.chaos === true, models, ...(routingRules === undefined ? {} : { routingRules }) });
      if (opts.profiles !== undefined) {
        try {
          const { files, created } = await loadProfileFolder(opts.profiles, (p) => factory.registerProfile(p));
          console.log(`profiles: ${files} file(s) in ${opts.profiles}, ${created} new version(s)`);
        } catch (error) {
          await factory.close();
          throw error;
        }
      }
      const server = await startServer(factory, { port: opts.port, host, ...(secured ? { apiKey } : {}) });
      const { agents, tasks } = factory.restored;
      console.log(`agent-factory listening on ${server.url} (data: ${opts.data}; ${agents} agent(s), ${tasks} unfinished task(s) restored)`);
      console.log(
        secured
          ? `API key required on /v1 (AGENT_FACTORY_API_KEY); bound to ${host}`
          : "no AGENT_FACTORY_API_KEY set: listening on 127.0.0.1 only, /v1 needs no key",
      );
      console.log(`OpenAPI: ${server.url}/openapi.json   events: ${server.url}/v1/events`);
      console.log(`models: ${describeProviders(factory.modelsInfo().providers)}`);
      if (opts.chaos === true) console.log(`chaos actions ON: ${server.url}/v1/chaos (kill, freeze, latency)`);
      let signals = 0;
      let forced = false;
      const shutdown = (signal: string): void => {
        signals++;
        if (signals === 1) {
          console.log(`${signal}: shutting down — draining running tasks (send it again to force)`);
          void server.close().then(() => {
            console.log("stopped; queued tasks and agents are kept for the next start");
            // 128 + signal number, as shells report a process ended by a signal, when forced.
            process.exit(forced ? 128 + (signal === "SIGINT" ? 2 : 15) : 0);
          });
        } else {
          forced = true;
          console.log(`${signal}: forcing shutdown — running tasks go back to the queue`);
          void server.close({ force: true });
        }
      };
      process.on("SIGINT", () => shutdown("SIGINT"));
      process.on("SIGTERM", () => shutdown("SIGTERM"));
    });
}

/** The config file, then the one-line flags on top of it. */
async function modelsConfig(opts: { config?: string; openaiBaseUrl?: string; openaiModel?: string; mockScript?: string }): Promise<ModelsConfigInput> {
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
