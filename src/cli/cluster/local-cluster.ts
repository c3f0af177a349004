// `agent-factory cluster`'s supervisor: N real `serve` processes on one machine, their output prefixed, their readiness awaited, their ends reported.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { UsageError } from "../context.ts";

/** What `agent-factory cluster` starts, its flags validated. */
export interface LocalClusterOptions {
  /** How many nodes: `node-1` … `node-N`. */
  nodes: number;
  /** node-i listens on basePort + i - 1. */
  basePort: number;
  /** The address every node binds. */
  host: string;
  /** node-i keeps its data folder (agents' workspaces, its node id) in dataDir/node-i. */
  dataDir: string;
  postgresUrl: string;
  redisUrl: string;
  cluster: string;
  /** More `serve` arguments, given to every node. */
  serveArgs: readonly string[];
  /** Under --json stdout holds only the nodes' document, so the nodes' own output goes to stderr. */
  json: boolean;
  /** How long a node may take from its start to answering GET /ready with 200. */
  readyTimeoutMs: number;
  /** After SIGTERM, how long a node may drain before it is killed (SIGKILL). */
  stopGraceMs: number;
}

/** One node as the command prints it. */
export interface ClusterNodeInfo {
  id: string;
  pid: number;
  url: string;
}

/** How many lines of a node's output a failed start shows. */
const LAST_LINES = 15;

interface Child {
  id: string;
  url: string;
  process: ChildProcess;
  /** The latest lines it printed, stdout and stderr together, for a failed start's message. */
  lines: string[];
  /** The first `error: …` line it printed: what a failed start is about, even when usage help follows it. */
  error?: string;
  /** Set once it exited: how, as the report says it ("code 1", "signal SIGKILL"). */
  ended?: string;
  exited: Promise<void>;
}

/**
 * Checks that every port of the range is free on `host` before anything starts, so a taken
 * port is named up front instead of surfacing as one node's failed start among the others'.
 */
export async function checkPorts(host: string, basePort: number, nodes: number): Promise<void> {
  for (let i = 0; i < nodes; i++) {
    const port = basePort + i;
    const free = await new Promise<string | undefined>((resolve) => {
      const server = createServer();
      server.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
    });
    if (free !== undefined) {
      const why = free === "EADDRINUSE" ? "is in use" : free === "EACCES" ? "needs privileges" : `cannot be bound (${free})`;
      throw new UsageError(`port ${port} (for node-${i + 1}) on ${host} ${why}: the ${nodes} node(s) need ports ${basePort}-${basePort + nodes - 1}; pick another base with --port`);
    }
  }
}

/**
 * Starts the nodes, waits until each answers GET /ready, hands them to `ready`, and then supervises
 * them: a node that ends unasked is reported and the others keep running; SIGINT, SIGTERM or
 * SIGHUP stops them all (SIGTERM, then SIGKILL after the grace; a second signal forwards a second
 * SIGTERM, which makes `serve` force its shutdown). Resolves with the exit code once every node is
 * gone: 0 when a signal asked for it, 1 when they all ended by themselves. A node that fails to
 * start stops the others and rejects with its last lines.
 */
export async function runLocalCluster(options: LocalClusterOptions, ready: (nodes: ClusterNodeInfo[]) => void): Promise<number> {
  const progress = (line: string): void => void process.stderr.write(`${line}\n`);
  const children: Child[] = [];
  let stopping = false;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = (signal: NodeJS.Signals | undefined): void => {
    const live = children.filter((c) => c.ended === undefined);
    if (stopping) {
      if (signal !== undefined) progress(`${signal}: forcing — the nodes requeue their running tasks`);
      for (const c of live) c.process.kill("SIGTERM");
      return;
    }
    stopping = true;
    if (signal !== undefined) progress(`${signal}: stopping ${live.length} node(s) (SIGTERM; SIGKILL after ${options.stopGraceMs / 1_000} s; send it again to force)`);
    for (const c of live) c.process.kill("SIGTERM");
    killTimer = setTimeout(() => {
      for (const c of children.filter((x) => x.ended === undefined)) {
        progress(`${c.id} (pid ${c.process.pid}) did not stop within ${options.stopGraceMs / 1_000} s: SIGKILL`);
        c.process.kill("SIGKILL");
      }
    }, options.stopGraceMs);
  };
  const onSignal = (signal: NodeJS.Signals): void => stop(signal);
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of signals) process.on(s, onSignal);
  const cleanUp = (): void => {
    for (const s of signals) process.off(s, onSignal);
    clearTimeout(killTimer);
  };
  const allGone = async (): Promise<void> => {
    await Promise.all(children.map((c) => c.exited));
  };

  try {
    progress(`starting ${options.nodes} node(s) of cluster ${options.cluster}…`);
    // node-1 first, alone: on a new schema it runs the migrations, which the others then find done.
    const first = startNode(options, 1, children);
    await waitReady(first, options, () => stopping);
    if (!stopping) progress(`${first.id} ready at ${first.url} (pid ${first.process.pid})`);
    const rest = Array.from({ length: stopping ? 0 : options.nodes - 1 }, (_, i) => startNode(options, i + 2, children));
    await Promise.all(
      rest.map(async (c) => {
        await waitReady(c, options, () => stopping);
        if (!stopping) progress(`${c.id} ready at ${c.url} (pid ${c.process.pid})`);
      }),
    );
    // node-1 may have ended while the others started: the cluster printed as ready would list a dead node.
    const gone = stopping ? undefined : children.find((c) => c.ended !== undefined);
    if (gone !== undefined) throw new Error(`${gone.id} (pid ${gone.process.pid}) exited with ${gone.ended} while the others started${gone.error === undefined ? "" : ` — ${gone.error}`}${lastLines(gone)}`);
  } catch (error) {
    stop(undefined);
    await allGone();
    cleanUp();
    throw error;
  }
  if (stopping) {
    // A signal came while the nodes were starting: they are stopping; nothing to print as ready.
    await allGone();
    for (const c of children) progress(`${c.id} (pid ${c.process.pid}) stopped (${c.ended})`);
    cleanUp();
    return 0;
  }

  ready(children.map((c) => ({ id: c.id, pid: c.process.pid as number, url: c.url })));
  let unasked = 0;
  for (const c of children) {
    void c.exited.then(() => {
      if (stopping) return progress(`${c.id} (pid ${c.process.pid}) stopped (${c.ended})`);
      unasked++;
      const left = children.filter((x) => x.ended === undefined).length;
      progress(`${c.id} (pid ${c.process.pid}) exited: ${c.ended}${left === 0 ? "; no node is left" : `; ${left} node(s) still running`}`);
    });
  }
  await allGone();
  // Let the exit reports above print before the caller does.
  await new Promise((resolve) => setImmediate(resolve));
  cleanUp();
  return stopping ? 0 : unasked > 0 ? 1 : 0;
}

/** Spawns node-i: the same Node executable and CLI entry as this command, so it works from a checkout and once installed. */
function startNode(options: LocalClusterOptions, index: number, children: Child[]): Child {
  const id = `node-${index}`;
  const port = options.basePort + index - 1;
  const args = [
    // The runtime flags this CLI runs under (a --conditions, say), less a debugger's: N nodes cannot share its port.
    ...process.execArgv.filter((a) => !a.startsWith("--inspect")),
    process.argv[1] as string,
    "serve",
    "--port", String(port),
    "--host", options.host,
    "--data", join(options.dataDir, id),
    "--node-id", id,
    "--postgres", options.postgresUrl,
    "--redis", options.redisUrl,
    "--cluster", options.cluster,
    ...options.serveArgs,
  ];
  const env = { ...process.env };
  // The flags above name each node's own; a shell's values must not reach it through these.
  for (const name of ["AGENT_FACTORY_NODE_ID", "AGENT_FACTORY_POSTGRES_URL", "AGENT_FACTORY_REDIS_URL", "AGENT_FACTORY_CLUSTER"]) delete env[name];
  // Its own process group: a terminal's Ctrl-C reaches this command alone, which stops each node once,
  // instead of every node seeing it too and taking this command's SIGTERM as a second signal (force).
  const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const shownHost = options.host === "0.0.0.0" || options.host === "::" ? "127.0.0.1" : options.host.includes(":") ? `[${options.host}]` : options.host;
  const node: Child = {
    id,
    url: `http://${shownHost}:${port}`,
    process: child,
    lines: [],
    exited: new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        node.ended = signal === null ? `code ${code}` : `signal ${signal}`;
        resolve();
      });
    }),
  };
  // A spawn that fails (no such executable) emits error and then exit; the exit reports it.
  child.once("error", (error) => remember(node, `could not start: ${error.message}`));
  const relay = (stream: NodeJS.ReadableStream, to: NodeJS.WriteStream): void => {
    createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
      remember(node, line);
      to.write(`[${id}] ${line}\n`);
    });
  };
  relay(child.stdout as NodeJS.ReadableStream, options.json ? process.stderr : process.stdout);
  relay(child.stderr as NodeJS.ReadableStream, process.stderr);
  children.push(node);
  return node;
}

function remember(node: Child, line: string): void {
  if (node.error === undefined && line.startsWith("error: ")) node.error = line;
  node.lines.push(line);
  if (node.lines.length > LAST_LINES) node.lines.shift();
}

/** Polls GET /ready until it answers 200; rejects naming the node and its last lines if it exits or runs out of time first. */
async function waitReady(node: Child, options: LocalClusterOptions, stopping: () => boolean): Promise<void> {
  const deadline = Date.now() + options.readyTimeoutMs;
  for (;;) {
    if (stopping()) return;
    if (node.ended !== undefined) {
      // Its last lines may still be on their way through the pipe.
      await new Promise((resolve) => setTimeout(resolve, 50));
      throw new Error(`${node.id} (pid ${node.process.pid}) failed to start: exited with ${node.ended}${node.error === undefined ? "" : ` — ${node.error}`}${lastLines(node)}`);
    }
    if (Date.now() > deadline) throw new Error(`${node.id} (pid ${node.process.pid}) did not answer ${node.url}/ready within ${options.readyTimeoutMs / 1_000} s${lastLines(node)}`);
    try {
      const response = await fetch(`${node.url}/ready`, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await Promise.race([new Promise((resolve) => setTimeout(resolve, 200)), node.exited]);
  }
}

function lastLines(node: Child): string {
  if (node.lines.length === 1 && node.lines[0] === node.error) return "";
  return node.lines.length === 0 ? " (it printed nothing)" : `; its last lines:\n${node.lines.map((l) => `  ${l}`).join("\n")}`;
}
