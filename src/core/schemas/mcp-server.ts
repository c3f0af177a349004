import { z } from "zod";

/**
 * A server's name namespaces its tools (`fs.read_text_file`, and `fs__read_text_file` for a
 * model, whose tool names may not hold dots): letters, digits and '-' only, so neither a '.' nor
 * a '__' in a name can make two servers' tools look alike.
 */
export const McpServerNameSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9-]{0,31}$/, "must be 1-32 letters, digits or '-', starting with a letter (it prefixes the server's tool names)");

const EnvNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a variable name");

/**
 * One MCP server an agent uses (docs/mcp.md). Either a `command` — a stdio server started inside
 * the agent's sandbox, seeing the agent's /workspace, with `files` mounted read-only at
 * `/agent/<name>` as a process agent's are — or a `url` — a Streamable HTTP server, with
 * `headers` whose `${env:NAME}` parts are read from the factory's environment when it connects.
 */
export const McpServerSchema = z
  .strictObject({
    name: McpServerNameSchema,
    /** The program and its arguments, as the server sees the sandbox's filesystem. */
    command: z.array(z.string().min(1).max(4_096)).min(1).max(256).optional(),
    /** Its environment (the factory's own is not passed on). */
    env: z.record(EnvNameSchema, z.string().max(32_768)).optional(),
    /** Host files or folders mounted read-only at /agent/<name> (the same rules as a process agent's `runtime.files`). */
    files: z.array(z.string().min(1).max(4_096)).max(64).optional(),
    /** A Streamable HTTP server's URL. */
    url: z.url({ protocol: /^https?$/, error: "must be an http or https URL" }).max(4_096).optional(),
    /** HTTP headers sent to a `url` server; `${env:NAME}` is replaced by the factory's environment variable NAME. */
    headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,128}$/, "must be a header name"), z.string().max(8_192)).optional(),
    /** How long the server has to start and answer `initialize` and `tools/list`. */
    startTimeoutMs: z.number().int().min(100).max(600_000).default(15_000),
  })
  .superRefine((server, ctx) => {
    if ((server.command === undefined) === (server.url === undefined)) {
      ctx.addIssue({ code: "custom", path: ["command"], message: "give exactly one of 'command' (a stdio server) and 'url' (a Streamable HTTP server)" });
    }
    if (server.url !== undefined) {
      for (const field of ["env", "files"] as const) if (server[field] !== undefined) ctx.addIssue({ code: "custom", path: [field], message: `only a stdio server (one with 'command') takes '${field}'` });
    }
    if (server.command !== undefined && server.headers !== undefined) ctx.addIssue({ code: "custom", path: ["headers"], message: "only a url server takes 'headers'" });
  });
export type McpServerSpec = z.output<typeof McpServerSchema>;

/** A profile's or manifest's servers: names unique (they namespace the tools). */
export const McpServersSchema = z
  .array(McpServerSchema)
  .max(32)
  .superRefine((servers, ctx) => {
    const seen = new Map<string, number>();
    for (const [i, server] of servers.entries()) {
      const first = seen.get(server.name);
      if (first !== undefined) ctx.addIssue({ code: "custom", path: [i, "name"], message: `'${server.name}' is already the name of server ${first}: names namespace the tools and must be unique` });
      else seen.set(server.name, i);
    }
  });

/** A tool pattern: `server.tool`, where `*` matches any run of characters (`fs.*`, `*.read_*`). */
const ToolPatternSchema = z.string().regex(/^[A-Za-z0-9*-]+\.[A-Za-z0-9_*.\-/]+$/, "must be 'server.tool', where '*' matches anything (e.g. 'fs.*')");

/**
 * Which of its servers' tools an agent may call, whoever asks (the agent itself, or an operator
 * acting with its rights). Absent `allow`: every tool of its servers.
 */
export const ToolPolicySchema = z.strictObject({
  allow: z.array(ToolPatternSchema).max(256).optional(),
  /** How long one tool call may run without news; each progress notification starts the wait again. */
  timeoutMs: z.number().int().min(10).max(3_600_000).default(60_000),
  /** How long one tool call may run at most, progress or not. */
  maxTotalTimeoutMs: z.number().int().min(10).max(86_400_000).default(600_000),
});
export type ToolPolicy = z.output<typeof ToolPolicySchema>;
