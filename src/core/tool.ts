/** One tool of an agent's MCP server, as the registry lists it (docs/mcp.md). */
export interface ToolInfo {
  /** `server.tool`: unique among an agent's tools. */
  name: string;
  server: string;
  tool: string;
  description: string;
  /** The tool's JSON Schema for its arguments, as the server declared it. */
  inputSchema: Record<string, unknown>;
  agentId: string;
  crewId: string | null;
}

/** An MCP tool's result: its content blocks, whether it is an error, and its structured output if any. */
export interface ToolCallResult {
  content: Array<Record<string, unknown>>;
  isError: boolean;
  structuredContent?: unknown;
}

/** Who asks for a tool call, for the `tool.called` event. */
export type ToolCaller = { kind: "agent" } | { kind: "operator"; keyId: string };

/** An agent's tools as its runtime sees them: listing and calling its own servers' tools. */
export interface ToolAccess {
  /** Its tools, namespaced `server.tool`, as far as its allow-list lets it call them. */
  list(): ToolInfo[];
  /** Calls `server`'s `tool`; a failing tool or server answers `isError: true`, never throws for it. */
  call(server: string, tool: string, args: unknown, signal?: AbortSignal): Promise<ToolCallResult>;
}
