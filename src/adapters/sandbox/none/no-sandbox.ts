import type { Sandbox, SandboxLaunch, SandboxRequest } from "../../../core/ports/sandbox.ts";

/**
 * No isolation: the program runs as a plain child process, in its workspace, with only the
 * profile's environment (plus PATH and HOME). Used only when a profile says `sandbox: { kind: none }`.
 */
export class NoSandbox implements Sandbox {
  readonly kind = "none";

  check(): void {}

  launch(request: SandboxRequest): SandboxLaunch {
    return {
      file: request.command[0] as string,
      args: request.command.slice(1),
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: request.workspace, AGENT_ID: request.agentId, AGENT_WORKSPACE: request.workspace, ...request.env },
      cwd: request.cwd ?? request.workspace,
    };
  }
}
