import type { StoreWrite } from "./ports/store.ts";

/**
 * A batch as store adapters apply it: only the last write of each record counts (records are
 * whole), in the order of its last appearance. Shared so every adapter keys records alike.
 */
export function lastWritePerRecord(writes: readonly StoreWrite[]): StoreWrite[] {
  const last = new Map<string, StoreWrite>();
  let appended = 0;
  for (const w of writes) {
    // Events are put once each and never rewritten, so each is its own record: keyed by its
    // place, not its seq, because a store that numbers them itself (PostgreSQL shared by
    // several nodes) renumbers the events of a batch it retries, and a renumbered event may then
    // carry the seq a newer one was given by its node.
    const key =
      w.kind === "event"
        ? `event#${appended++}`
        : w.kind === "context"
          ? `context:${w.crewId}:${w.key}`
          : w.kind === "profile"
            ? `profile:${w.value.name}:${w.value.version}`
            : w.kind === "wallet"
              ? `wallet:${w.value.address}`
              : `${w.kind}:${w.value.id}`;
    last.delete(key);
    last.set(key, w);
  }
  return [...last.values()];
}
