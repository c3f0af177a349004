// The promises of the Membership port (src/core/ports/membership.ts) that every adapter keeps; run by the memory and Redis adapters' test files.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Membership, NodeInfo } from "../../src/core/ports/membership.ts";
import { FactoryError } from "../../src/core/errors.ts";

export interface MembershipUnderTest {
  /** A view of the test's cluster (another node's connection, for a networked adapter; the one instance, for the memory one), or of `cluster` when given. */
  open(cluster?: string): Promise<Membership>;
  /** Closes what `open` opened and removes whatever the adapter left on its server. */
  cleanup(): Promise<void>;
}

const REPORT = { agents: 3, load: 1, capacity: 12 };

/** What `list` shows of a node, its times left out (checked on their own). */
function shape(node: NodeInfo): Omit<NodeInfo, "startedAt" | "leaseUntil"> {
  const { startedAt: _s, leaseUntil: _l, ...rest } = node;
  return rest;
}

export function membershipConformance(name: string, make: () => MembershipUnderTest, options: { timeout?: number; skip?: string | false } = {}): void {
  const t = { timeout: options.timeout ?? 20_000, skip: options.skip ?? false };
  describe(`${name}: Membership conformance`, t, () => {
    const subject = make();
    after(() => subject.cleanup());
    let n = 0;
    /** A node id of its own per test: tests share the cluster. */
    const nodeId = (): string => `node-${++n}-${Math.random().toString(36).slice(2, 8)}`;

    it("lists a joined node alive with its report, its lease ending leaseMs after the join", t, async () => {
      const m = await subject.open();
      const id = nodeId();
      const before = Date.now();
      const lease = await m.join({ id, url: "http://127.0.0.1:7371", report: REPORT }, 3_000);
      const node = (await m.list()).find((x) => x.id === id);
      assert.ok(node !== undefined);
      assert.deepEqual(shape(node), { id, alive: true, agents: 3, load: 1, capacity: 12, url: "http://127.0.0.1:7371" });
      assert.equal(node.startedAt, lease.startedAt);
      const until = Date.parse(node.leaseUntil);
      assert.ok(until > before + 2_500 && until <= Date.now() + 3_000, `leaseUntil ${node.leaseUntil}`);
      await m.leave(lease);
    });

    it("renew extends the lease and records the new report", t, async () => {
      const m = await subject.open();
      const id = nodeId();
      const lease = await m.join({ id, url: null, report: REPORT }, 400);
      await sleep(250);
      assert.equal(await m.renew(lease, { agents: 5, load: 4, capacity: 20 }), true);
      await sleep(250);
      // 500 ms after the join: alive only because of the renewal.
      const node = (await m.list()).find((x) => x.id === id);
      assert.deepEqual(node && shape(node), { id, alive: true, agents: 5, load: 4, capacity: 20, url: null });
      await m.leave(lease);
    });

    it("leave removes the node from the list and frees its id", t, async () => {
      const m = await subject.open();
      const id = nodeId();
      const lease = await m.join({ id, url: null, report: REPORT }, 3_000);
      await m.leave(lease);
      assert.equal((await m.list()).some((x) => x.id === id), false);
      const again = await m.join({ id, url: null, report: REPORT }, 3_000);
      assert.notEqual(again.token, lease.token);
      assert.equal(await m.renew(lease, REPORT), false, "the old lease cannot renew the new one");
      await m.leave(lease);
      assert.equal((await m.list()).find((x) => x.id === id)?.alive, true, "leaving with the old lease leaves the new holder in");
      await m.leave(again);
    });

    it("refuses a second join of a live id with NODE_ID_TAKEN naming the id", t, async () => {
      const first = await subject.open();
      const second = await subject.open();
      const id = nodeId();
      const lease = await first.join({ id, url: null, report: REPORT }, 3_000);
      await assert.rejects(second.join({ id, url: null, report: REPORT }, 3_000), (error: unknown) => {
        assert.ok(error instanceof FactoryError);
        assert.equal(error.code, "NODE_ID_TAKEN");
        assert.equal(error.message, `node id '${id}' is held by a live node of this cluster (joined ${lease.startedAt}); start this node with another --node-id, or stop the other first`);
        assert.equal(error.field, "nodeId");
        return true;
      });
      await first.leave(lease);
    });

    it("a lease not renewed runs out: listed alive: false, renew refused, the id joinable again", t, async () => {
      const first = await subject.open();
      const second = await subject.open();
      const id = nodeId();
      const lease = await first.join({ id, url: null, report: REPORT }, 300);
      const joinedAt = Date.now();
      await sleep(450);
      const dead = (await second.list()).find((x) => x.id === id);
      assert.ok(dead !== undefined, "a node whose lease ran out stays listed");
      assert.equal(dead.alive, false);
      assert.ok(Date.parse(dead.leaseUntil) <= joinedAt + 300 + 50 && Date.parse(dead.leaseUntil) < Date.now(), `leaseUntil ${dead.leaseUntil} is the lease it last had`);
      assert.equal(await first.renew(lease, REPORT), false);
      const again = await second.join({ id, url: null, report: REPORT }, 3_000);
      const back = (await first.list()).find((x) => x.id === id);
      assert.equal(back?.alive, true);
      assert.equal(back?.startedAt, again.startedAt);
      await second.leave(again);
    });

    it("lists several nodes oldest join first", t, async () => {
      const m = await subject.open();
      const other = await subject.open();
      const [a, b] = [nodeId(), nodeId()];
      const la = await m.join({ id: a, url: null, report: REPORT }, 3_000);
      await sleep(5);
      const lb = await other.join({ id: b, url: null, report: { agents: 0, load: 0, capacity: 0 } }, 3_000);
      const ids = (await m.list()).map((x) => x.id).filter((x) => x === a || x === b);
      assert.deepEqual(ids, [a, b]);
      await m.leave(la);
      await other.leave(lb);
    });
  });
}
