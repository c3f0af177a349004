import { randomBytes } from "node:crypto";
import { createLocalJWKSet, jwtVerify, SignJWT } from "jose";
import type { SigningKeys } from "./signing-keys.ts";

import type { AgentToken } from "../core/ports/runtime.ts";

export interface AgentTokensOptions {
  keys: SigningKeys;
  /** `iss`: who signed (default `agent-factory`). */
  issuer: string;
  /** `aud`: who accepts it (default `agent-factory`). */
  audience: string;
  /** How long a token is valid (default 15 minutes). */
  lifetimeMs: number;
  now?: () => number;
}

/** The audience of nodes' credentials: no agent token is one (their audience is another). */
const NODES_AUDIENCE = "agent-factory:nodes";
/** How long a node's credential is valid. */
const NODE_TOKEN_MS = 120_000;

/**
 * Each agent's identity for whoever it calls: a short-lived JWT signed by the factory (EdDSA):
 * `sub` the agent's id, `crew` its crew (or null), `scopes` its profile's, `iss`, `aud`, `iat`,
 * `exp`, `jti`. Anyone verifies it with the public keys at `/.well-known/jwks.json`.
 */
export class AgentTokens {
  readonly #options: AgentTokensOptions;

  constructor(options: AgentTokensOptions) {
    this.#options = options;
  }

  get lifetimeMs(): number {
    return this.#options.lifetimeMs;
  }

  /**
   * A node's credential for calling another node of its cluster (a crew member placed there, a
   * signal, a member's model call): signed with the cluster's shared key, for the nodes'
   * audience, valid two minutes. Nodes need no shared secret of their own besides the store.
   */
  async issueNode(nodeId: string): Promise<AgentToken> {
    const now = (this.#options.now ?? Date.now)();
    const cached = this.#nodeToken;
    if (cached !== undefined && cached.nodeId === nodeId && Date.parse(cached.token.expiresAt) - now > NODE_TOKEN_MS / 2) return cached.token;
    const { kid, key } = await this.#options.keys.signer();
    const expires = Math.floor((now + NODE_TOKEN_MS) / 1000);
    const token = await new SignJWT({ node: nodeId })
      .setProtectedHeader({ alg: "EdDSA", kid, typ: "JWT" })
      .setSubject(`node:${nodeId}`)
      .setIssuer(this.#options.issuer)
      .setAudience(NODES_AUDIENCE)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(expires)
      .sign(key);
    const issued = { token, expiresAt: new Date(expires * 1000).toISOString() };
    this.#nodeToken = { nodeId, token: issued };
    return issued;
  }

  /** The node a credential from `issueNode` names, or undefined for anything else (not a JWT, another audience, expired, not ours). */
  async verifyNode(token: string): Promise<string | undefined> {
    const bearer = await this.identify(token);
    return bearer?.kind === "node" ? bearer.node : undefined;
  }

  /** What an agent token names (its agent, crew and scopes), or undefined for anything else (a node's credential included). */
  async verify(token: string): Promise<{ agentId: string; crewId: string | null; scopes: string[] } | undefined> {
    const bearer = await this.identify(token);
    return bearer?.kind === "agent" ? bearer : undefined;
  }

  /**
   * Who a bearer signed with the factory's keys is — a node of the cluster (its credential's
   * audience is the nodes') or an agent (the agents' audience) — checked with one verification;
   * undefined for anything else (not a JWT, expired, signed by another key, another audience).
   */
  async identify(token: string): Promise<{ kind: "node"; node: string } | { kind: "agent"; agentId: string; crewId: string | null; scopes: string[] } | undefined> {
    if (token.split(".").length !== 3) return undefined;
    const { issuer, audience, keys } = this.#options;
    let payload: Awaited<ReturnType<typeof jwtVerify>>["payload"];
    try {
      ({ payload } = await jwtVerify(token, createLocalJWKSet({ keys: await keys.published() }), { issuer, audience: [audience, NODES_AUDIENCE], algorithms: ["EdDSA"] }));
    } catch {
      return undefined;
    }
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (audiences.includes(NODES_AUDIENCE)) return typeof payload.node === "string" ? { kind: "node", node: payload.node } : undefined;
    if (typeof payload.sub !== "string" || payload.sub.startsWith("node:")) return undefined;
    const crewId = typeof payload.crew === "string" ? payload.crew : null;
    const scopes = Array.isArray(payload.scopes) ? payload.scopes.filter((x): x is string => typeof x === "string") : [];
    return { kind: "agent", agentId: payload.sub, crewId, scopes };
  }

  #nodeToken: { nodeId: string; token: AgentToken } | undefined;

  async issue(agent: { id: string; crewId: string | null; scopes: readonly string[] }): Promise<AgentToken> {
    const { keys, issuer, audience, lifetimeMs } = this.#options;
    const now = (this.#options.now ?? Date.now)();
    const { kid, key } = await keys.signer();
    const expires = Math.floor((now + lifetimeMs) / 1000);
    const token = await new SignJWT({ crew: agent.crewId, scopes: [...agent.scopes] })
      .setProtectedHeader({ alg: "EdDSA", kid, typ: "JWT" })
      .setSubject(agent.id)
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(expires)
      .setJti(randomBytes(12).toString("base64url"))
      .sign(key);
    return { token, expiresAt: new Date(expires * 1000).toISOString() };
  }
}
