import type { Command } from "commander";
import { FactoryClient } from "./client.ts";

export interface GlobalOptions {
  url: string;
  apiKey?: string;
  json?: boolean;
}

/** The client and output mode for a subcommand, from the root's global options. */
export function cliContext(command: Command): { client: FactoryClient; json: boolean } {
  const opts = command.optsWithGlobals<GlobalOptions>();
  return { client: new FactoryClient(opts.url, opts.apiKey), json: opts.json === true };
}

/** Parses a whole number option, naming the flag when it is not one. */
export function intOption(flag: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got '${value}'`);
    return n;
  };
}

/** A mistake in how the command was called; printed without a stack, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
