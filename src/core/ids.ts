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

/** A W3C trace id: 32 hex digits, not all zero (the lower half is the task's root span id, see `rootSpanIdOf`). */
export function newTraceId(): string {
  for (;;) {
    const id = randomHex(16);
    if (!/^0+$/.test(id.slice(16)) && !/^0+$/.test(id.slice(0, 16))) return id;
  }
}

/** A W3C span id: 16 hex digits, not all zero. */
export function newSpanId(): string {
  for (;;) {
    const id = randomHex(8);
    if (!/^0+$/.test(id)) return id;
  }
}

/**
 * A task's root span id, derived from its trace id (its lower 64 bits): any node that ends the
 * task, or records a child of its root, knows the root's id from the one field the task carries.
 */
export const rootSpanIdOf = (traceId: string): string => traceId.slice(16);
