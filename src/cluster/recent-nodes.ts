import type { NodeInfo } from "../core/ports/membership.ts";

/** How long a read of the cluster's nodes is reused: requests that need another node come in bursts. */
const RECENT_MS = 500;

/**
 * The cluster's nodes as read at most RECENT_MS ago, for finding where another node answers
 * (requests passed on, calls between nodes). Not for noticing expiries, which read the
 * membership every round, nor for `GET /v1/nodes`, which reads it fresh.
 */
export function recentNodes(read: () => Promise<NodeInfo[]>): () => Promise<NodeInfo[]> {
  let last: { at: number; list: Promise<NodeInfo[]> } | undefined;
  return () => {
    const now = Date.now();
    if (last === undefined || now - last.at > RECENT_MS) {
      const list = read();
      // A failed read is not kept: the next caller asks again.
      list.catch(() => (last = undefined));
      last = { at: now, list };
    }
    return last.list;
  };
}
