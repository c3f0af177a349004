import type { Command } from "commander";
import { isFactoryError } from "../core/errors.ts";
import { FactoryClient } from "../client/index.ts";

export interface GlobalOptions {
  url: string;
  apiKey?: string;
  json?: boolean;
}

/** The client and output mode for a subcommand, from the root's global options. */
export function cliContext(command: Command): { client: FactoryClient; json: boolean } {
  const opts = command.optsWithGlobals<GlobalOptions>();
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    throw new UsageError(`--url must be a URL such as http://127.0.0.1:7371, got '${opts.url}'`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`--url must be http:// or https://, got '${opts.url}'`);
  if (url.username !== "" || url.password !== "") {
    // Never echoed: the password is hidden in the message.
    throw new UsageError(`--url must not carry a user or password (${url.protocol}//***@${url.host}${url.pathname}); give the API key with --api-key or AGENT_FACTORY_API_KEY`);
  }
  if (/^\/v1\/?$/.test(url.pathname)) throw new UsageError(`--url is the server's address without /v1 (the CLI adds it): ${url.origin}`);
  return { client: new FactoryClient({ baseUrl: opts.url, apiKey: opts.apiKey }), json: opts.json === true };
}

/** Reads a YAML/JSON file named on the command line; a missing, empty or broken file is a usage error naming it. */
export async function readFileArg(path: string): Promise<unknown> {
  let doc: unknown;
  try {
    // The YAML parser loads only when a command reads a file.
    const { readDocument } = await import("../factory/load-profiles.ts");
    doc = await readDocument(path);
  } catch (error) {
    throw new UsageError(isFactoryError(error) ? error.message : String(error));
  }
  if (doc === null || doc === undefined) throw new UsageError(`${path} is empty`);
  return doc;
}

/** A mistake in how the command was called; printed without a stack, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
