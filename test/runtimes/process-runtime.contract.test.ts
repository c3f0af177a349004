// Runs the AgentRuntime contract against the process runtime: the contract agent as a real Node program
// in the real bubblewrap sandbox, started cold, and again leased from a warm sandbox.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { BubblewrapSandbox } from "../../src/adapters/sandbox/bubblewrap/bubblewrap-sandbox.ts";
import { AgentFiles, agentFileFolders } from "../../src/runtimes/process/agent-files.ts";
import { ProcessRuntime } from "../../src/runtimes/process/process-runtime.ts";
import { agentOf, profileRecord, RecordedServices, runtimeContract, type RuntimeContract } from "../conformance/runtime.conformance.ts";
import { processesWith, tempDir, until } from "../helpers.ts";

const fixtures = resolve(import.meta.dirname, "../fixtures");
const profile = profileRecord({
  name: "contract",
  role: "Contract",
  cognitiveLoadLimit: 4,
  // `node` running a file under /agent is what a warm sandbox can take over; inside, node is the host's /usr/bin/node.
  runtime: { kind: "process", command: ["node", "/agent/contract-agent.mjs"], files: [join(fixtures, "contract-agent.mjs")] },
  // Short, so the liveness case hears several heartbeats quickly.
  health: { heartbeatIntervalMs: 100 },
});

/** Each test's runtime, over a fresh workspace root; `warm`: its first agent is leased from a ready warm sandbox. */
function contract(warm: boolean): RuntimeContract {
  let workspaces = "";
  return {
    kind: "process",
    variant: warm ? "leased from warm sandboxes" : "started cold",
    async create() {
      const root = tempDir("af-contract-");
      workspaces = join(root.path, "workspaces");
      const runtime = new ProcessRuntime({
        sandboxes: [new BubblewrapSandbox()],
        workspaceRoot: workspaces,
        hidden: [root.path],
        agentFiles: new AgentFiles(agentFileFolders([fixtures]), [root.path]),
        // Cold: no warm sandboxes, so stats count only the agents. Warm: one, refilled after each lease.
        warmPerKind: warm ? 1 : 0,
      });
      if (warm) {
        // The first start is cold and leaves a warm sandbox starting; once it is ready, the test's first start leases it.
        const primer = await runtime.start(agentOf(profile), profile, new RecordedServices());
        await until(() => (runtime.stats().warmReady as number) === 1, "a warm sandbox ready", 20_000);
        await primer.stop();
      }
      return {
        runtime,
        profile,
        async cleanup({ started }) {
          // The warm run is about leases: its first start must have been one.
          if (warm && started > 0) assert.ok((runtime.stats().warmLeases as number) >= 1, "the first start leased the warm sandbox");
          await runtime.close();
          // Nothing outlives the runtime: no sandbox names this runtime's folder any more.
          await until(() => processesWith(root.path).length === 0, `no process left under ${root.path}`, 10_000);
          root.cleanup();
        },
      };
    },
    expect: {
      echo: (text) => ({ echoed: text }),
      // A JSON-RPC error answer is TASK_FAILED with the agent's message; `data.retryable: false` makes it final (json-rpc-channel.ts).
      failure: (message, retryable) => ({ code: "TASK_FAILED", message, nonRetryable: !retryable }),
      // The abort reaches the agent as task/cancel; the agent's answer (the fixture's final "cancelled") settles the run.
      aborted: () => ({ code: "TASK_FAILED", message: "cancelled", nonRetryable: true }),
      progress: (message, fraction, text) => ({ calls: [[message, fraction]], result: { echoed: text } }),
      liveness: "heartbeat",
      pid: true,
      optional: { kill: true, suspend: true, freeze: true, close: true, forget: true, stats: true },
    },
    can: {
      signals: true,
      context: true,
      // Each line of stderr is an info line of its log.
      logs: { line: (message) => ["info", message] },
      die: {
        crashed: { run: { code: "AGENT_LOST", message: "the agent process exited with code 3", nonRetryable: false }, lost: "process exited with code 3" },
        killed: { lost: "process killed by SIGKILL" },
      },
      keeps: { kept: (agentId) => existsSync(join(workspaces, agentId)) },
      stats: {
        // Cold: the agents' processes only. Warm: plus the one warm sandbox refilled after the lease (ready or still starting).
        exact: (agents) => ({ processes: agents + (warm ? 1 : 0), malformedLines: 0, ...(warm ? {} : { warmReady: 0, warmLeases: 0 }) }),
      },
    },
  };
}

runtimeContract(contract(false));
runtimeContract(contract(true));
