// Pins the id and wallet-address formats (seed 000: 0x371_<ROLE>_<32 hex>).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newAgentId, newTaskId, newWalletAddress, roleSegment, WALLET_ADDRESS_PATTERN } from "../../src/core/ids.ts";

describe("ids", () => {
  it("formats a wallet address as 0x371_<ROLE>_<32 lowercase hex>", () => {
    const address = newWalletAddress("ChiefOfStaff");
    assert.match(address, /^0x371_CHIEFOFSTAFF_[0-9a-f]{32}$/);
    assert.match(address, WALLET_ADDRESS_PATTERN);
  });

  it("upper-cases the role and drops characters that are not letters or digits", () => {
    assert.equal(roleSegment("Code_Reviewer2"), "CODEREVIEWER2");
    assert.equal(roleSegment("ceo"), "CEO");
  });

  it("gives 10,000 distinct agent ids and wallet addresses (the random pool refills)", () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newAgentId()));
    const wallets = new Set(Array.from({ length: 10_000 }, () => newWalletAddress("Coder")));
    assert.equal(ids.size, 10_000);
    assert.equal(wallets.size, 10_000);
    for (const id of [...ids].slice(0, 100)) assert.match(id, /^agent_[0-9a-f]{16}$/);
    assert.match(newTaskId(), /^task_[0-9a-f]{20}$/);
  });
});
