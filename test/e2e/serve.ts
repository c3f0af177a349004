// What the end-to-end tests share: the real `agent-factory serve` as a child process, and an environment without the developer's key or URL.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "..", "..");
export const BIN = "bin/agent-factory.js";

/** No child may pick up a key or URL from the developer's shell. */
export const ENV: NodeJS.ProcessEnv = { ...process.env };
delete ENV.AGENT_FACTORY_API_KEY;
delete ENV.AGENT_FACTORY_URL;
delete ENV.AGENT_FACTORY_POSTGRES_URL;
delete ENV.AGENT_FACTORY_REDIS_URL;
delete ENV.AGENT_FACTORY_CLUSTER;
delete ENV.AGENT_FACTORY_NODE_ID;
for (const name of Object.keys(ENV)) if (name.startsWith("OTEL_")) delete ENV[name];

export interface Server {
  child: ChildProcess;
  url: string;
  /** Everything the server printed so far. */
  stdout: () => string;
  /** Everything the server wrote to stderr so far. */
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `agent-factory serve --port 0 …args`; resolves once it printed its URL (it accepts
 * requests then). `started` sees the server before that, so a test can always clean it up.
 */
export function startServe(args: readonly string[], started: (server: Server) => void = () => {}, env: NodeJS.ProcessEnv = ENV): Promise<Server> {
  const child = spawn(process.execPath, [BIN, "serve", "--port", "0", ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once("exit", (code, signal) => done({ code, signal })));
  const server: Server = { child, url: "", stdout: () => out, stderr: () => err, exited };
  started(server);
  return new Promise<Server>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`server did not start in 15 s\nstdout: ${out}\nstderr: ${err}`)), 15_000);
    child.stderr.on("data", (chunk: string) => (err += chunk));
    child.stdout.on("data", (chunk: string) => {
      out += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match !== null && server.url === "") {
        clearTimeout(timer);
        server.url = match[1] as string;
        ready(server);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      if (server.url === "") fail(new Error(`server exited (${code ?? signal}) before listening\nstdout: ${out}\nstderr: ${err}`));
    });
  });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI against `url`; never rejects: the exit code is part of the answer. */
export function cli(url: string, ...args: string[]): Promise<CliResult> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, "--url", url, ...args], { cwd: ROOT, env: ENV, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      done({ code, stdout, stderr });
    });
  });
}
