import type { Command } from "commander";
import type { Task, TaskSubmit } from "../../client/index.ts";
import { FINAL_TASK_STATES } from "../../core/task-states.ts";
import { cliContext, readFileArg, UsageError } from "../context.ts";
import { details, printError, printJson, table } from "../output.ts";
import { listPage } from "../pages.ts";
import { creditsOption, intOption, parseJsonArg } from "../flags.ts";

const TASK_DETAILS = ["id", "state", "role", "profile", "capabilities", "crewId", "agentId", "parentTaskId", "priority", "attempts", "maxAttempts", "reward", "createdAt", "startedAt", "finishedAt", "usage", "result", "error"];
const FINAL: ReadonlySet<string> = FINAL_TASK_STATES;

/**
 * After a wait: exit 0 if it SUCCEEDED, 1 if it ended otherwise, 124 (as timeout(1)) if it is not
 * final yet; under --json the reason is a JSON error on stderr like any other.
 */
function reportOutcome(task: Task, waitedMs: number, json: boolean): void {
  if (task.state === "SUCCEEDED") return;
  if (FINAL.has(task.state)) {
    const message = `task ${task.id} ended ${task.state}${task.error === undefined ? "" : `: ${task.error.message}`}`;
    if (json) printError({ code: task.error?.code ?? `TASK_${task.state}`, message }, true);
    else console.error(`error: ${message}${task.error === undefined ? "" : ` [${task.error.code}]`}`);
    process.exitCode = 1;
  } else {
    const message = `task ${task.id} is still ${task.state} after ${waitedMs} ms (wait again with: agent-factory task get ${task.id} --wait)`;
    if (json) printError({ code: "WAIT_TIMED_OUT", message }, true);
    else console.error(message);
    process.exitCode = 124;
  }
}

function show(task: Task, json: boolean): void {
  if (json) return printJson(task);
  const usage = task.usage === undefined ? undefined : `${task.usage.calls} model call(s), ${task.usage.inputTokens} tokens in, ${task.usage.outputTokens} out, ${task.usage.cost} credits`;
  console.log(details({ ...task, usage }, TASK_DETAILS));
}

export function taskCommands(program: Command): void {
  const task = program.command("task").description("submit, read and cancel tasks");

  task
    .command("submit")
    .description("submit a task for a role, a profile or capabilities")
    .option("--role <role>", "any agent of this role")
    .option("--profile <name>", "only agents of this profile")
    .option("--capability <cap...>", "only agents with every one of these capabilities")
    .option("--crew <id>", "only members of this crew")
    .option("--input <json>", "the task's input (JSON; plain text is sent as a string)")
    .option("--input-file <path>", "the task's input from a YAML/JSON file")
    .option("--priority <n>", "0 (highest) to 9", intOption("--priority", 0, 9))
    .option("--timeout <ms>", "fail the task after this long", intOption("--timeout", 1, 86_400_000))
    .option("--max-attempts <n>", "runs before it is dead-lettered", intOption("--max-attempts", 1, 100))
    .option("--backoff <ms>", "base delay before a retry (doubles per attempt)", intOption("--backoff", 0, 600_000))
    .option("--affinity <key>", "tasks with the same key go to the same agent")
    .option("--idempotency-key <key>", "a second submit with this key returns the first task")
    .option("--balancer <name>", "round-robin | least-loaded | skill-aware | affinity")
    .option("--agent <id>", "only this agent may run it")
    .option("--reward <credits>", "credits the crew pays the agent that completes it (with --crew)", creditsOption("--reward"))
    .option("--wait [ms]", "wait for the result (default 30000 ms)")
    .action(async (opts: Record<string, unknown>, command: Command) => {
      const { client, json } = cliContext(command);
      if (opts.input !== undefined && opts.inputFile !== undefined) throw new UsageError("give --input or --input-file, not both");
      if (opts.role === undefined && opts.profile === undefined && opts.capability === undefined && opts.agent === undefined) {
        throw new UsageError("say who may run it: --role, --profile, --capability or --agent");
      }
      const input = opts.inputFile !== undefined ? await readFileArg(opts.inputFile as string) : opts.input !== undefined ? parseJsonArg(opts.input as string, "--input") : undefined;
      const body = {
        ...(input === undefined ? {} : { input }),
        ...(opts.role === undefined ? {} : { role: opts.role }),
        ...(opts.profile === undefined ? {} : { profile: opts.profile }),
        ...(opts.capability === undefined ? {} : { capabilities: opts.capability }),
        ...(opts.crew === undefined ? {} : { crewId: opts.crew }),
        ...(opts.priority === undefined ? {} : { priority: opts.priority }),
        ...(opts.timeout === undefined ? {} : { timeoutMs: opts.timeout }),
        ...(opts.maxAttempts === undefined ? {} : { maxAttempts: opts.maxAttempts }),
        ...(opts.backoff === undefined ? {} : { retryBackoffMs: opts.backoff }),
        ...(opts.affinity === undefined ? {} : { affinityKey: opts.affinity }),
        ...(opts.idempotencyKey === undefined ? {} : { idempotencyKey: opts.idempotencyKey }),
        ...(opts.balancer === undefined ? {} : { balancer: opts.balancer }),
        ...(opts.agent === undefined ? {} : { agentId: opts.agent }),
        ...(opts.reward === undefined ? {} : { reward: opts.reward }),
      } as TaskSubmit;
      // Check --wait before submitting, so a typo in it does not leave a task behind.
      const ms = opts.wait === undefined || opts.wait === true ? 30_000 : intOption("--wait", 0, 86_400_000)(String(opts.wait));
      let { task: submitted } = await client.submitTask(body);
      if (opts.wait !== undefined) {
        if (!json) process.stderr.write(`submitted ${submitted.id}; waiting for it…\n`);
        submitted = await client.waitForTask(submitted.id, ms);
        show(submitted, json);
        reportOutcome(submitted, ms, json);
        return;
      }
      if (json) return printJson(submitted);
      console.log(`${submitted.id} ${submitted.state}`);
    });

  task
    .command("get <id>")
    .description("a task's state, result or error")
    .option("--wait [ms]", "wait until it is final (default 30000 ms)")
    .action(async (id: string, opts: { wait?: string | true }, command: Command) => {
      const { client, json } = cliContext(command);
      const found =
        opts.wait === undefined
          ? await client.getTask(id)
          : await client.waitForTask(id, opts.wait === true ? 30_000 : intOption("--wait", 0, 86_400_000)(opts.wait));
      show(found, json);
      if (opts.wait !== undefined) reportOutcome(found, opts.wait === true ? 30_000 : Number(opts.wait), json);
    });

  task
    .command("list")
    .description("tasks, newest first, a page at a time")
    .option("--state <state>", "only this state")
    .option("--crew <id>", "only this crew's tasks")
    .option("--limit <n>", "per page (default 100)", intOption("--limit", 1, 10_000))
    .option("--cursor <cursor>", "the next (older) page, as the previous page said")
    .option("--all", "every page")
    .action(async (opts: { state?: string; crew?: string; limit?: number; cursor?: string; all?: boolean }, command: Command) => {
      const { client, json } = cliContext(command);
      const state = opts.state?.toUpperCase() as Task["state"] | undefined;
      const items = await listPage((cursor) => client.listTasks({ state, crewId: opts.crew, limit: opts.limit, cursor }), opts);
      if (json) return printJson(items);
      console.log(table(items, ["id", "state", "role", "crewId", "agentId", "attempts", "createdAt"]));
    });

  task
    .command("retry <id>")
    .description("re-drive a dead-lettered (DEAD) task with a fresh set of attempts")
    .action(async (id: string, _opts, command: Command) => {
      const { client, json } = cliContext(command);
      const task = await client.retryTask(id);
      if (json) return printJson(task);
      console.log(`${task.id} ${task.state} (re-driven ${task.redrives} time(s))`);
    });

  task
    .command("cancel <id>")
    .description("cancel a queued or running task")
    .action(async (id: string, _opts, command: Command) => {
      const { client, json } = cliContext(command);
      const cancelled = await client.cancelTask(id);
      if (json) return printJson(cancelled);
      console.log(`${cancelled.id} ${cancelled.state}`);
    });
}
