import type { Agent } from "../../core/agent.ts";
import { FactoryError } from "../../core/errors.ts";
import type { AgentHandle, AgentRuntime, AgentServices, RunContext } from "../../core/ports/runtime.ts";
import type { ProfileRecord } from "../../core/schemas/profile.ts";
import { builtinHandlers } from "./builtin-handlers.ts";
import type { AgentContext, FunctionHandler } from "./function-handler.ts";

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
    const name = profile.runtime.handler;
    if (!this.#handlers.has(name)) {
      throw new FactoryError("UNKNOWN_HANDLER", `runtime.handler: no function handler named '${name}' (known: ${this.handlerNames().join(", ")})`, {
        field: "runtime.handler",
      });
    }
  }

  async start(agent: Readonly<Agent>, profile: ProfileRecord, services: AgentServices): Promise<AgentHandle> {
    this.validate(profile);
    const handler = this.#handlers.get(profile.runtime.handler) as FunctionHandler;
    const definition = typeof handler === "function" ? { run: handler } : handler;
    const context: AgentContext = { agent, crew: services.crew, saveContext: services.saveContext };
    await definition.init?.(context);
    let stopped = false;
    return {
      run: async (input: unknown, { task, signal }: RunContext) =>
        definition.run(input, { agent, task, signal, crew: services.crew, saveContext: services.saveContext }),
      signal: async (name: string, payload: unknown) => {
        await definition.signal?.(name, payload, context);
      },
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await definition.stop?.(context);
      },
    };
  }
}
