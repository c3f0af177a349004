// Warm sandbox bootstrap for Node agents: waits, already running, for `warm/specialize`, writes
// the agent's files to /agent, sets its environment and imports its main file in this process,
// so a leased agent starts without a new runtime. stdin/stdout stay the agent's.
import { writeFileSync } from "node:fs";
import { join } from "node:path";

process.stdout.write(`${JSON.stringify({ jsonrpc: "2.0", method: "warm/ready", params: { pid: process.pid } })}\n`);
let buffer = "";
const onData = async (chunk) => {
  buffer += chunk;
  const newline = buffer.indexOf("\n");
  if (newline === -1) return;
  process.stdin.off("data", onData);
  process.stdin.pause();
  const message = JSON.parse(buffer.slice(0, newline));
  const rest = buffer.slice(newline + 1);
  const { files, env, cwd, argv } = message.params;
  for (const [name, content] of Object.entries(files)) writeFileSync(join("/agent", name), content);
  Object.assign(process.env, env);
  process.chdir(cwd);
  process.argv = [process.argv[0], ...argv];
  process.stdout.write(`${JSON.stringify({ jsonrpc: "2.0", id: message.id, result: null })}\n`);
  if (rest.length > 0) process.stdin.unshift(Buffer.from(rest));
  await import(argv[0]);
};
process.stdin.setEncoding("utf8");
process.stdin.on("data", onData);
