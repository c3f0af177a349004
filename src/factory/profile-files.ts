import { isAbsolute, resolve } from "node:path";

/**
 * A profile document with its relative `runtime.files`, `skills[].path` and `mcpServers.N.files` resolved against `folder`, the folder of
 * the file that declared them: the one place a relative path means something. Whoever reads the
 * file (the server for `serve --profiles`, the CLI for `profiles apply -f`) resolves them; the
 * server refuses relative paths that arrive any other way. Anything else is left to the schema.
 */
export function resolveProfileFiles(doc: unknown, folder: string): unknown {
  if (!isObject(doc)) return doc;
  const near = (file: unknown): unknown => (typeof file === "string" && file !== "" && !isAbsolute(file) ? resolve(folder, file) : file);
  let out: Record<string, unknown> = doc;
  if (isObject(doc.runtime) && Array.isArray(doc.runtime.files)) out = { ...out, runtime: { ...doc.runtime, files: doc.runtime.files.map(near) } };
  // Skill packs' folders, the same way.
  if (Array.isArray(doc.skills)) out = { ...out, skills: doc.skills.map((skill: unknown) => (isObject(skill) ? { ...skill, path: near(skill.path) } : skill)) };
  // MCP servers' `files` are mounted by the same rules, so they resolve the same way.
  if (Array.isArray(doc.mcpServers)) {
    out = { ...out, mcpServers: doc.mcpServers.map((server: unknown) => (isObject(server) && Array.isArray(server.files) ? { ...server, files: server.files.map(near) } : server)) };
  }
  return out;
}

/** A crew manifest with each inline member profile (`profile: {…}` or `config`) resolved as `resolveProfileFiles` does. */
export function resolveManifestFiles(doc: unknown, folder: string): unknown {
  if (!isObject(doc) || !Array.isArray(doc.members)) return doc;
  const members = doc.members.map((member: unknown) => {
    if (!isObject(member)) return member;
    const out: Record<string, unknown> = { ...member };
    if (isObject(member.profile)) out.profile = resolveProfileFiles(member.profile, folder);
    if (member.config !== undefined) out.config = resolveProfileFiles(member.config, folder);
    return out;
  });
  return { ...doc, members };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
