import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";
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
