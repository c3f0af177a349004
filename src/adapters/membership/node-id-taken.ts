import { FactoryError } from "../../core/errors.ts";

/** The refusal every membership adapter gives a second holder of an id whose lease is live: one message whatever the backend. */
export function nodeIdTaken(id: string, startedAt: string): FactoryError {
  return new FactoryError("NODE_ID_TAKEN", `node id '${id}' is held by a live node of this cluster (joined ${startedAt}); start this node with another --node-id, or stop the other first`, {
    field: "nodeId",
    details: { nodeId: id, startedAt },
  });
}
