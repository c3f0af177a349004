// Runs the AgentRuntime contract against the function runtime, with the contract agent as an in-process handler.
import { FunctionRuntime } from "../../src/runtimes/function/function-runtime.ts";
import { profileRecord, runtimeContract } from "../conformance/runtime.conformance.ts";
import { contractFunctionAgent } from "../fixtures/contract-function-agent.ts";

/** A function agent is a handler in the factory's process: it has no process, workspace or stream of its own. */
const inProcess = "a function agent runs in the factory's process";

runtimeContract({
  kind: "function",
  async create() {
    return {
      runtime: new FunctionRuntime({ contract: contractFunctionAgent }),
      profile: profileRecord({ name: "contract", role: "Contract", cognitiveLoadLimit: 4, runtime: { kind: "function", handler: "contract" } }),
      async cleanup() {},
    };
  },
  expect: {
    echo: (text) => ({ echoed: text }),
    // A thrown FactoryError keeps its code and retry control (function-handler.ts).
    failure: (message, retryable) => ({ code: "TASK_FAILED", message, nonRetryable: !retryable }),
    // The handler honours its signal by answering with its reason, which reaches the dispatcher unchanged.
    aborted: (reason) => ({ code: reason.code, message: reason.message, nonRetryable: false }),
    progress: (message, fraction, text) => ({ calls: [[message, fraction]], result: { echoed: text } }),
    liveness: "probe",
    pid: false,
    optional: { kill: false, suspend: false, freeze: false, close: false, forget: false, stats: false },
  },
  can: {
    signals: true,
    context: true,
    logs: { lacks: `${inProcess}: a handler has no log stream (HandlerContext has no log; it reports through progress)` },
    die: { lacks: `${inProcess}: it cannot die without the factory, so there is no loss to report` },
    keeps: { lacks: `${inProcess}: it holds nothing a woken agent needs but its saved context` },
    stats: { lacks: `${inProcess}: its handles cost one small object each, with nothing to count` },
  },
});
