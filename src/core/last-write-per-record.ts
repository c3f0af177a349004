import type { StoreWrite } from "./ports/store.ts";

/**
 * A batch as store adapters apply it: only the last write of each record counts (records are
 * whole), in the order of its last appearance. Shared so every adapter keys records alike.
 */
export function lastWritePerRecord(writes: readonly StoreWrite[]): StoreWrite[] {
  const last = new Map<string, StoreWrite>();
  for (const w of writes) {
    const key =
      w.kind === "context"
        ? `context:${w.crewId}:${w.key}`
        : w.kind === "profile"
          ? `profile:${w.value.name}:${w.value.version}`
          : w.kind === "wallet"
            ? `wallet:${w.value.address}`
            : w.kind === "event" || w.kind === "ledger"
              ? `${w.kind}:${w.value.seq}`
              : `${w.kind}:${w.value.id}`;
    last.delete(key);
    last.set(key, w);
  }
  return [...last.values()];
}
