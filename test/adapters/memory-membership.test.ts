// Runs the Membership conformance suite against the in-memory membership, the single-node default.
import { MemoryMembership } from "../../src/adapters/membership/memory/memory-membership.ts";
import { membershipConformance } from "../conformance/membership.conformance.ts";

membershipConformance("memory", () => {
  const one = new MemoryMembership();
  return { open: async () => one, cleanup: async () => {} };
});
