import type { Agent } from "../core/agent.ts";
import { closestNames } from "../core/closest-names.ts";
import { FactoryError } from "../core/errors.ts";
import type { LaneTarget } from "../scheduler/lane.ts";

/** Something that could serve a task: a profile (as an agent of it would be) or an agent. */
export type TargetCandidate = Pick<Agent, "role" | "profile" | "capabilities">;

/**
 * The NO_SUCH_TARGET (422) error for a task that none of `candidates` (profiles and agents
 * outside crews, or the members of its crew) could serve: it names each part of the target
 * that nothing has, with the closest known names, or says that no single one has them together.
 */
export function noSuchTargetError(target: LaneTarget, candidates: readonly TargetCandidate[]): FactoryError {
  const who = target.crewId === null ? "no profile or agent outside crews" : `no member of crew ${target.crewId}`;
  const wanted = [
    ...(target.role === null ? [] : [`role '${target.role}'`]),
    ...(target.profile === null ? [] : [`profile '${target.profile}'`]),
    ...(target.capabilities.length === 0 ? [] : [`capabilities [${target.capabilities.join(", ")}]`]),
  ].join(", ");
  const problems: string[] = [];
  const closest: Record<string, string[]> = {};
  let field: string | undefined;
  const unknown = (kind: "role" | "profile" | "capability", at: string, name: string, known: Set<string>): void => {
    field ??= at;
    const near = closestNames(name, known);
    closest[at] = near;
    const hint =
      near.length > 0
        ? `did you mean ${near.map((n) => `'${n}'`).join(" or ")}?`
        : known.size === 0
          ? `there is none yet`
          : `known: ${[...known].sort().slice(0, 5).map((n) => `'${n}'`).join(", ")}${known.size > 5 ? ", …" : ""}`;
    problems.push(`${who} has ${kind} '${name}' (${hint})`);
  };
  if (target.role !== null && !candidates.some((c) => c.role === target.role)) unknown("role", "role", target.role, new Set(candidates.map((c) => c.role)));
  if (target.profile !== null && !candidates.some((c) => c.profile === target.profile)) unknown("profile", "profile", target.profile, new Set(candidates.map((c) => c.profile)));
  for (const [i, capability] of target.capabilities.entries()) {
    if (!candidates.some((c) => c.capabilities.includes(capability))) unknown("capability", `capabilities.${i}`, capability, new Set(candidates.flatMap((c) => c.capabilities)));
  }
  if (problems.length === 0) problems.push(`${who} has all of them together`);
  return new FactoryError("NO_SUCH_TARGET", `nothing could ever serve this task (${wanted}): ${problems.join("; ")}`, {
    ...(field === undefined ? {} : { field }),
    details: { target: { crewId: target.crewId, role: target.role, profile: target.profile, capabilities: [...target.capabilities] }, closest },
  });
}
