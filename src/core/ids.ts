import { randomBytes } from "node:crypto";

/**
 * Ids are prefixed so a stray id in a log says what it names. Randomness comes from a pooled
 * buffer: one `randomBytes` call per 4 KiB instead of one per id keeps spawn cheap.
 */
const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

function randomHex(bytes: number): string {
  if (offset + bytes > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  const hex = pool.toString("hex", offset, offset + bytes);
  offset += bytes;
  return hex;
}

export const newAgentId = (): string => `agent_${randomHex(8)}`;
export const newCrewId = (): string => `crew_${randomHex(8)}`;
export const newTaskId = (): string => `task_${randomHex(10)}`;
export const newMessageId = (): string => `msg_${randomHex(8)}`;

/** The wallet-address segment for a role: upper case, letters and digits only. */
export function roleSegment(role: string): string {
  return role.toUpperCase().replace(/[^A-Z0-9]/g, "");
}

/** `0x371_<ROLE>_<32 hex chars>`, as seed 000 defines it (16 random bytes). */
export const newWalletAddress = (role: string): string => `0x371_${roleSegment(role)}_${randomHex(16)}`;

/** The pattern every wallet address matches. */
export const WALLET_ADDRESS_PATTERN = /^0x371_[A-Z0-9]+_[0-9a-f]{32}$/;
