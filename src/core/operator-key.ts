/**
 * Operator keys: named credentials for people and programs that drive the factory's API, each
 * with a role and, optionally, the crews it is limited to. The secret is never stored: only its
 * sha256 (a 256-bit random secret needs no slow hash), compared in constant time.
 */

/** Roles, weakest first: each may do everything the ones before it may. */
export const OPERATOR_ROLES = ["viewer", "operator", "admin"] as const;

/** `viewer` reads; `operator` also changes everything but keys and server settings; `admin` does everything. */
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** Whether a key of role `have` may call an operation that needs `need`. */
export function roleAllows(have: OperatorRole, need: OperatorRole): boolean {
  return OPERATOR_ROLES.indexOf(have) >= OPERATOR_ROLES.indexOf(need);
}

/** A key as the API shows it: never its secret. */
export interface OperatorKey {
  id: string;
  name: string;
  role: OperatorRole;
  /** The crews the key is limited to; null: every crew and everything crewless. */
  crews: string[] | null;
  createdAt: string;
}

/** A key as stored: its secret only as a hash. */
export interface StoredOperatorKey extends OperatorKey {
  /** sha256 of the secret, hex. */
  secretHash: string;
}
