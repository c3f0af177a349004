import { z } from "zod";
import { McpServersSchema } from "./mcp-server.ts";
import { NameSchema, ProfileSchema, SCOPES } from "./profile.ts";

/** What network a crew's members get: their own (`private`) or one shared by the crew (`crew`). */
export const CREW_NETWORKS = ["private", "crew"] as const;
export type CrewNetwork = (typeof CREW_NETWORKS)[number];

export const CrewMemberSchema = z
  .strictObject({
    /** A registered profile's name, or an inline profile. */
    profile: z.union([NameSchema, ProfileSchema]).optional(),
    /** An inline profile (same as giving an object as `profile`). */
    config: ProfileSchema.optional(),
    count: z.number().int().min(1).max(10_000).default(1),
    /** Fewer scopes than the profile gives, for these members (a manifest narrows scopes, never widens them). */
    scopes: z.array(z.enum(SCOPES, { error: (issue) => `unknown scope ${JSON.stringify(issue.input)} (known: ${SCOPES.join(", ")})` })).max(64).optional(),
  })
  .refine((m) => (m.profile === undefined) !== (m.config === undefined), {
    message: "give exactly one of 'profile' (a name or an inline profile) and 'config'",
    path: ["profile"],
  });

export const CrewManifestSchema = z
  .strictObject({
    name: NameSchema,
    description: z.string().max(4_000).optional(),
    members: z.array(CrewMemberSchema).min(1).max(1_000),
    /** Credits granted to the crew's wallet once it is ACTIVE. */
    budget: z.number().nonnegative().max(1_000_000_000).optional(),
    /**
     * Where the members run: `local` (default) all on the node that assembles the crew; `spread`
     * round-robin over the cluster's live nodes, this one first (on a single node: all here).
     */
    placement: z.enum(["local", "spread"]).default("local"),
    /**
     * The members' network (process agents in bubblewrap): `private` (default) one network
     * namespace per agent with nothing in it; `crew` one namespace per crew and node, loopback
     * only, shared by the crew's members there, so they reach each other's ports on 127.0.0.1
     * and nothing else (docs/process-agents.md).
     */
    network: z.enum(CREW_NETWORKS, { error: (issue) => `unknown network ${JSON.stringify(issue.input)} (known: ${CREW_NETWORKS.join(", ")})` }).default("private"),
    /**
     * Crew-wide MCP servers (docs/mcp.md): one instance per crew on each node that runs members,
     * in a sandbox of the crew's own (a crew workspace), whose tools every member sees beside its
     * profile's. A name a member's profile also uses fails that member's start, naming both.
     */
    mcpServers: McpServersSchema.optional(),
  })
  .meta({ id: "CrewManifest" });

export type CrewManifestInput = z.input<typeof CrewManifestSchema>;
export type CrewManifest = z.output<typeof CrewManifestSchema>;
