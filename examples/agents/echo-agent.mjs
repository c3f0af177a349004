// A process agent in Node.js (no dependencies): JSON-RPC 2.0, one message per line on stdio.
// task/run input {"text": ...} -> {"reversed": ..., "by": "node"}; {"ms": N} waits N ms first
// (and honours task/cancel); {"crash": true} exits mid-task. See docs/process-agents.md.
import { createInterface } from "node:readline";

const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const cancelled = new Set();
let heartbeat;

async function run({ taskId, input }) {
  const data = input ?? {};
  if (data.crash) process.exit(3);
  for (let waited = 0; waited < (data.ms ?? 0); waited += 10) {
    if (cancelled.has(taskId)) throw Object.assign(new Error("cancelled"), { retryable: false });
    await new Promise((r) => setTimeout(r, 10));
  }
  send({ jsonrpc: "2.0", method: "progress", params: { taskId, fraction: 1 } });
  return { reversed: String(data.text ?? "").split("").reverse().join(""), by: "node" };
}

for await (const line of createInterface({ input: process.stdin })) {
  let message;
  try {
    message = JSON.parse(line);
  } catch {
    continue;
  }
  const { id, method, params } = message;
  if (method === "initialize") {
    // The factory says how often it wants to hear from us (default 1 s).
    heartbeat = setInterval(() => send({ jsonrpc: "2.0", method: "heartbeat", params: {} }), params?.heartbeatIntervalMs || 1000);
    send({ jsonrpc: "2.0", id, result: { ready: true } });
  }
  else if (method === "task/run") {
    run(params).then(
      (result) => send({ jsonrpc: "2.0", id, result }),
      (error) => send({ jsonrpc: "2.0", id, error: { code: -32000, message: error.message, data: { retryable: error.retryable !== false } } }),
    );
  } else if (method === "task/cancel") cancelled.add(params?.taskId);
  else if (method === "shutdown") {
    send({ jsonrpc: "2.0", id, result: null });
    clearInterval(heartbeat);
    process.exit(0);
  } else if (id !== undefined) send({ jsonrpc: "2.0", id, error: { code: -32601, message: `method not found: ${method}` } });
}
