// /ready of a node whose lease ran out: 503 node-lapsed, so a load balancer sends work elsewhere until it has joined again.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryMembership } from "../../src/adapters/membership/memory/memory-membership.ts";
import { createApp } from "../../src/api/app.ts";
import { FactoryError } from "../../src/core/errors.ts";
import type { NodeJoin, NodeLease, NodeReport } from "../../src/core/ports/membership.ts";
import { createFactory } from "../../src/factory/create-factory.ts";
import { silentLogger, until } from "../helpers.ts";

/** A membership that grants the first join, then loses the lease and sees the id taken: the node stays lapsed. */
class LosingMembership extends MemoryMembership {
  #joins = 0;
  override async join(node: NodeJoin, leaseMs: number): Promise<NodeLease> {
    if (++this.#joins > 1) throw new FactoryError("NODE_ID_TAKEN", `node id '${node.id}' is held by a live node`, { field: "nodeId" });
    return super.join(node, leaseMs);
  }
  override renew(_lease: NodeLease, _report: NodeReport): Promise<boolean> {
    return Promise.resolve(false);
  }
}

describe("/ready of a lapsed node", { timeout: 20_000 }, () => {
  it("answers 200 ready while the node holds its lease, then 503 node-lapsed once it lost it", async () => {
    const healthy = await createFactory({ dataDir: ":memory:", logger: silentLogger, nodeLease: { leaseMs: 300, renewMs: 100 } });
    try {
      const ready = await createApp(healthy).request("/ready");
      assert.deepEqual([ready.status, ((await ready.json()) as { status: string }).status], [200, "ready"]);
    } finally {
      await healthy.close();
    }
    const factory = await createFactory({ dataDir: ":memory:", logger: silentLogger, membership: new LosingMembership(), nodeLease: { leaseMs: 300, renewMs: 100 } });
    try {
      await until(() => factory.nodeState === "lapsed", "the node to lapse", 5_000);
      const res = await createApp(factory).request("/ready");
      const body = (await res.json()) as { status: string; agents: number };
      assert.deepEqual([res.status, body.status, body.agents], [503, "node-lapsed", 0]);
    } finally {
      await factory.close();
    }
  });
});
