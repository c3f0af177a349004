import type { Agent } from "../../core/agent.ts";
import { FactoryError } from "../../core/errors.ts";
import type { AgentHandle, AgentRuntime, AgentServices, RunContext } from "../../core/ports/runtime.ts";
import type { ProfileRecord } from "../../core/schemas/profile.ts";
import { builtinHandlers } from "./builtin-handlers.ts";
import type { AgentContext, FunctionAgentDefinition, FunctionHandler } from "./function-handler.ts";

/**
 * Agents whose body is a function in the factory's process: an agent costs one small object,
 * which is what makes fleets of 100k agents affordable.
 */
export class FunctionRuntime implements AgentRuntime {
  readonly kind = "function";
  readonly #handlers: ReadonlyMap<string, FunctionHandler>;

  constructor(handlers: Readonly<Record<string, FunctionHandler>> = {}) {
    this.#handlers = new Map(Object.entries({ ...builtinHandlers, ...handlers }));
  }

  /** Names of the handlers profiles may use. */
  handlerNames(): string[] {
    return [...this.#handlers.keys()].sort();
  }

  validate(profile: Pick<ProfileRecord, "runtime">): void {
    if (profile.runtime.kind !== "function") throw new FactoryError("VALIDATION_FAILED", "runtime.kind: not a function runtime", { field: "runtime.kind" });
    const name = profile.runtime.handler;
    if (!this.#handlers.has(name)) {
      throw new FactoryError("UNKNOWN_HANDLER", `runtime.handler: no function handler named '${name}' (known: ${this.handlerNames().join(", ")})`, {
        field: "runtime.handler",
      });
    }
  }

  async start(agent: Readonly<Agent>, profile: ProfileRecord, services: AgentServices): Promise<AgentHandle> {
    this.validate(profile);
    const definition = this.#definition((profile.runtime as { handler: string }).handler);
    const handle = new FunctionAgentHandle(agent, definition, services);
    if (definition.init !== undefined) await definition.init(handle.context());
    return handle;
  }

  readonly #definitions = new Map<string, FunctionAgentDefinition>();

  /** One definition object per handler, shared by every agent that uses it. */
  #definition(name: string): FunctionAgentDefinition {
    let definition = this.#definitions.get(name);
    if (definition === undefined) {
      const handler = this.#handlers.get(name) as FunctionHandler;
      definition = typeof handler === "function" ? { run: handler } : handler;
      this.#definitions.set(name, definition);
    }
    return definition;
  }
}

/**
 * A started function agent: three references and prototype methods, so 100,000s of agents
 * cost little (closures per agent would cost several hundred bytes each).
 */
class FunctionAgentHandle implements AgentHandle {
  readonly #agent: Readonly<Agent>;
  readonly #definition: FunctionAgentDefinition;
  readonly #services: AgentServices;
  #stopped = false;

  constructor(agent: Readonly<Agent>, definition: FunctionAgentDefinition, services: AgentServices) {
    this.#agent = agent;
    this.#definition = definition;
    this.#services = services;
  }

  context(): AgentContext {
    const services = this.#services;
    return { agent: this.#agent, crew: services.crew, saveContext: (context) => services.saveContext(context) };
  }

  get liveness(): "probe" | undefined {
    return this.#definition.probe === undefined ? undefined : "probe";
  }

  async probe(): Promise<boolean> {
    return (await this.#definition.probe?.(this.context())) !== false;
  }

  async run(input: unknown, { task, signal }: RunContext): Promise<unknown> {
    const services = this.#services;
    return this.#definition.run(input, {
      agent: this.#agent,
      task,
      signal,
      crew: services.crew,
      saveContext: (context) => services.saveContext(context),
      progress: (message, fraction) => services.progress(task.id, message, fraction),
      token: async () => (await services.token?.())?.token,
      tools: {
        list: () => services.tools?.list() ?? [],
        call: (server, tool, args) => {
          if (services.tools === undefined) return Promise.reject(new FactoryError("TOOL_NOT_FOUND", `agent ${this.#agent.id} has no MCP servers (its profile declares no mcpServers)`, { field: "server" }));
          return services.tools.call(server, tool, args ?? {}, signal);
        },
      },
    });
  }

  async signal(name: string, payload: unknown): Promise<void> {
    await this.#definition.signal?.(name, payload, this.context());
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#definition.stop?.(this.context());
  }
}
