import type { Command } from "commander";
import { cliContext, type GlobalOptions } from "../context.ts";

/**
 * `agent-factory mcp`: the factory as an MCP server over stdio, for desktop MCP clients that start
 * a command. It forwards `tools/list` and `tools/call` to the server's `/mcp` with the operator
 * key, so the tools, their checks and their answers are the server's own; stdout carries only
 * JSON-RPC, and everything else (a server that is down, a refused key) goes to stderr.
 */
export function mcpCommand(program: Command): void {
  program
    .command("mcp")
    .description("serve the factory over MCP on stdio (for desktop MCP clients), forwarding to the server at --url (its /mcp) with --key")
    .option("--key <key>", "operator key (default: --api-key or $AGENT_FACTORY_API_KEY)")
    .action(async (opts: { key?: string }, command: Command) => {
      // Checks --url as every command does (a URL, no credentials in it, no /v1).
      cliContext(command);
      const globals = command.optsWithGlobals<GlobalOptions>();
      const { serveMcpStdio } = await import("../mcp-stdio.ts");
      await serveMcpStdio({ url: globals.url, apiKey: opts.key ?? globals.apiKey });
    });
}
