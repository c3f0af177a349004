/** A wallet of an agent, a crew, or the system (the outside, the reserve, the providers). */
export interface Wallet {
  address: string;
  ownerKind: "agent" | "crew" | "system";
  ownerId: string;
  /** Credits: always the ledger's sum of the wallet's entries (what is stored here is not read). */
  balance: number;
  /** Achievement tokens; every agent starts with 1000 (seed 000). */
  tokens: number;
  createdAt: string;
}

export const STARTING_TOKENS = 1000;
