import { fileURLToPath } from "node:url";
import type { ProfileInput } from "../../core/schemas/profile.ts";

/** The Node echo agent shipped with the project, as an absolute host path (mounted at /agent/echo-agent.mjs). */
export const ECHO_AGENT_PATH = fileURLToPath(new URL("../../../examples/agents/echo-agent.mjs", import.meta.url));
export const DEFAULT_CHAOS_PROFILE = "chaos-worker";

/** The chaos profile: the Node echo agent as a process agent, a manual pool with room for a long queue. */
export function chaosProfile(name: string): ProfileInput {
  return {
    name,
    role: "ChaosWorker",
    description: "Registered by `agent-factory chaos`: the Node echo agent, killed and frozen on purpose.",
    runtime: { kind: "process", command: ["node", "/agent/echo-agent.mjs"], files: [ECHO_AGENT_PATH] },
    pool: { spawnStrategy: "manual", maxSize: 64, queueDepth: 100_000 },
  };
}
