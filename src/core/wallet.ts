/** A wallet of an agent or crew. The ledger (double-entry) arrives with the model router. */
export interface Wallet {
  address: string;
  ownerKind: "agent" | "crew";
  ownerId: string;
  /** Credits (crew budgets land here). */
  balance: number;
  /** Achievement tokens; every agent starts with 1000 (seed 000). */
  tokens: number;
  createdAt: string;
}

export const STARTING_TOKENS = 1000;
