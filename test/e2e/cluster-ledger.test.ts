// Two real `serve` nodes on one PostgreSQL schema and Redis: one ledger. Credits granted through either node reach the wallet's balance on every node; a transfer asked of the node that does not own the paying wallet is passed to the node that does (the only one that debits it), and an overdraft is refused there with 402. A budget set or removed through one node is every node's, and so is a profile registered through one.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { PG_SKIP } from "../adapters/postgres-test-schema.ts";
import { REDIS_SKIP } from "../adapters/redis-test-server.ts";
import { cli, type Server } from "./serve.ts";
import { clusterRun } from "./cluster-run.ts";
import { until } from "../helpers.ts";

const T = { timeout: 60_000, skip: PG_SKIP || REDIS_SKIP };

async function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

async function balance(server: Server, address: string): Promise<number> {
  return ((await (await fetch(`${server.url}/v1/wallets/${address}`)).json()) as { balance: number }).balance;
}

describe("a cluster's ledger", T, () => {
  const run = clusterRun();
  after(() => run.close());

  it("grants through either node reach every node's balance; a transfer goes to the paying wallet's node, which refuses an overdraft", async () => {
    const schema = await run.schema();
    const node = (id: string) => run.node(id);
    const [a, b] = [await node("a"), await node("b")];
    const payer = JSON.parse((await cli(a.url, "--json", "spawn", "-f", "examples/profiles/coder.yaml")).stdout) as { walletAddress: string; nodeId: string };
    const payee = JSON.parse((await cli(b.url, "--json", "spawn", "-f", "examples/profiles/coder.yaml")).stdout) as { walletAddress: string; nodeId: string };
    assert.deepEqual([payer.nodeId, payee.nodeId], ["a", "b"]);

    // Granted through b, to a wallet a owns: a (which alone debits it) sees the credits.
    assert.equal((await post(`${b.url}/v1/ledger/grants`, { wallet: payer.walletAddress, amount: 10 })).status, 201);
    await until(async () => (await balance(a, payer.walletAddress)) === 10, "a sees the grant made through b", 5_000);

    // A transfer asked of b, paid from a's wallet: a does it.
    const moved = await post(`${b.url}/v1/ledger/transfers`, { from: payer.walletAddress, to: payee.walletAddress, amount: 4 });
    assert.deepEqual([moved.status, moved.headers.get("x-agent-factory-node")], [201, "a"]);
    for (const s of [a, b]) {
      await until(async () => (await balance(s, payer.walletAddress)) === 6 && (await balance(s, payee.walletAddress)) === 4, `node ${s.url} sees 6 and 4`, 5_000);
    }
    // More than the payer holds: refused by its node, whichever node was asked.
    const over = await post(`${b.url}/v1/ledger/transfers`, { from: payer.walletAddress, to: payee.walletAddress, amount: 7 });
    assert.equal(over.status, 402);
    assert.equal(((await over.json()) as { error: { code: string } }).error.code, "INSUFFICIENT_CREDITS");
    // A budget set through one node is every node's; removed through another, it is gone from all.
    const put = await fetch(`${a.url}/v1/budgets/global`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ credits: 25 }) });
    assert.equal(put.status, 200);
    const budgetsOf = async (s: Server) => ((await (await fetch(`${s.url}/v1/budgets`)).json()) as { items: Array<{ key: string; credits: number }> }).items.map((x) => [x.key, x.credits]);
    await until(async () => JSON.stringify(await budgetsOf(b)) === JSON.stringify([["global", 25]]), "b keeps the global budget set through a", 5_000);
    assert.equal((await fetch(`${b.url}/v1/budgets/global`, { method: "DELETE" })).status, 204);
    await until(async () => (await budgetsOf(a)).length === 0, "a drops the budget removed through b", 5_000);
    // A profile registered through a can be spawned through b at once (b reads it from the store when a says so).
    const registered = await post(`${a.url}/v1/profiles`, { name: "late-comer", role: "LateComer", runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual" } });
    assert.equal(registered.status, 201);
    await until(async () => (await post(`${b.url}/v1/agents`, { profile: "late-comer" })).status === 201, "b spawns a profile registered through a", 5_000);
    // The stored ledger agrees: 10 granted, 4 moved, nothing else.
    const rows = await schema.query<{ kind: string; micro: number }>("select kind, micro from ledger order by seq");
    assert.deepEqual(rows.map((r) => [r.kind, Number(r.micro)]), [["grant", 10_000_000], ["transfer", 4_000_000]]);
  });
});
