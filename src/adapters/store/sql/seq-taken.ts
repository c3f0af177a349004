/**
 * The refusal of a batch whose event or ledger entry has a seq that a different one already
 * holds: two writers numbered alike (two nodes counting from the same last seq). Shared by the
 * SQL and memory stores so callers read the same words from either.
 */
export function seqTaken(table: "events" | "ledger", seq: number, theirs: string | undefined): Error {
  const what = table === "ledger" ? `ledger entry seq ${seq} is already taken by another entry (${String(theirs)})` : `event seq ${seq} is already taken by another event`;
  return new Error(`${what}: two writers numbered alike, and this batch would lose one`);
}
