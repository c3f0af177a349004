import { spawn, type ChildProcess } from "node:child_process";
import type { JSONRPCMessage, Transport } from "@modelcontextprotocol/client";
import type { SandboxLaunch } from "../core/ports/sandbox.ts";

/** How much of a server's stderr is kept, to quote when it fails to start or dies. */
const STDERR_KEEP = 4_000;

/**
 * The MCP SDK's stdio transport, for a program started through a `Sandbox` launch: the SDK's own
 * `StdioClientTransport` spawns a plain command and cannot hand the launcher the descriptors
 * bubblewrap needs (the prepared user namespace, the opened files), so this spawns the launch as
 * the process runtime does and speaks MCP's stdio framing (one JSON-RPC message per line) over
 * its stdio. Only the SDK's types are imported here: the SDK itself loads when a server starts.
 */
export class SandboxedStdioTransport implements Transport {
  readonly #launch: SandboxLaunch;
  /** What arrived after the last newline. */
  #pending = "";
  #child: ChildProcess | undefined;
  #stderr = "";
  #closed = false;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  constructor(launch: SandboxLaunch) {
    this.#launch = launch;
  }

  /** The last of what the server wrote to stderr (its complaint when it fails). */
  get stderr(): string {
    return this.#stderr.trim();
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  start(): Promise<void> {
    const launch = this.#launch;
    return new Promise((resolve, reject) => {
      // Its own process group, as an agent's: a Ctrl-C reaches the factory, which stops servers in order.
      const child = spawn(launch.file, launch.args, { env: launch.env, cwd: launch.cwd, stdio: ["pipe", "pipe", "pipe", ...(launch.fds ?? [])], detached: true });
      this.#child = child;
      child.once("error", (error) => {
        reject(error);
        this.onerror?.(error);
      });
      child.once("spawn", () => resolve());
      child.once("close", () => {
        this.#child = undefined;
        if (this.#closed) return;
        this.#closed = true;
        this.onclose?.();
      });
      child.stdin!.on("error", (error) => this.onerror?.(error));
      child.stdout!.setEncoding("utf8");
      child.stdout!.on("data", (text: string) => {
        const lines = (this.#pending + text).split("\n");
        this.#pending = lines.pop() ?? "";
        for (const line of lines) {
          if (line.trim() === "") continue;
          let message: unknown;
          try {
            message = JSON.parse(line);
          } catch (error) {
            // A server that prints anything else on stdout is misbehaving; the client hears of it, the line goes.
            this.onerror?.(error as Error);
            continue;
          }
          if (typeof message === "object" && message !== null && (message as { jsonrpc?: unknown }).jsonrpc === "2.0") this.onmessage?.(message as JSONRPCMessage);
          else this.onerror?.(new Error(`not a JSON-RPC 2.0 message: ${line.slice(0, 200)}`));
        }
      });
      child.stderr!.setEncoding("utf8");
      child.stderr!.on("data", (text: string) => {
        this.#stderr = (this.#stderr + text).slice(-STDERR_KEEP);
      });
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      const stdin = this.#child?.stdin;
      if (stdin == null || this.#closed) {
        reject(new Error("the MCP server is not running"));
        return;
      }
      if (stdin.write(`${JSON.stringify(message)}\n`)) resolve();
      else stdin.once("drain", () => resolve());
    });
  }

  /** Ends the server: stdin closed, then SIGTERM to its process group, SIGKILL if it lingers. */
  async close(): Promise<void> {
    const child = this.#child;
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = "";
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((resolve) => child.once("close", () => resolve()));
      child.stdin?.end();
      const signal = (name: NodeJS.Signals): void => {
        try {
          // The group: a server's own children (a shell, an npx) go with it.
          process.kill(-child.pid!, name);
        } catch {
          // Already gone.
        }
      };
      signal("SIGTERM");
      const timer = setTimeout(() => signal("SIGKILL"), 2_000);
      await gone;
      clearTimeout(timer);
    }
    this.onclose?.();
  }
}
