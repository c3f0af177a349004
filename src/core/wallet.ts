/** A wallet of an agent, a crew, or the system (the outside, the reserve, the providers). */
export interface Wallet {
  address: string;
  ownerKind: "agent" | "crew" | "system";
  ownerId: string;
  /** Credits: always the ledger's sum of the wallet's entries (what is stored here is not read). What model calls are paid with. */
  balance: number;
  /**
   * Achievement tokens (seed 000: every agent starts with 1000): a score, not credits — they
   * pay for nothing. Formerly `tokens`; stored records of that shape are read as this.
   */
  achievementTokens: number;
  createdAt: string;
}

/** Achievement tokens a new agent's wallet starts with (seed 000); credits start at 0. */
export const STARTING_ACHIEVEMENT_TOKENS = 1000;

/** A wallet record as stored: an older one says `tokens` for its achievement tokens. */
export function walletFromRecord(record: Wallet & { tokens?: number }): Wallet {
  const { tokens, ...wallet } = record;
  return { ...wallet, achievementTokens: record.achievementTokens ?? tokens ?? 0 };
}
