// The promises every Store adapter keeps; run by each adapter's test file.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { Agent } from "../../src/core/agent.ts";
import type { Crew } from "../../src/core/crew.ts";
import type { Store, StoreWrite } from "../../src/core/ports/store.ts";
import type { LedgerEntry } from "../../src/core/ledger.ts";
import type { Task } from "../../src/core/task.ts";

export interface StoreUnderTest {
  store: Store;
  /** Closes and reopens the same database (for durability checks). */
  reopen?(): Promise<Store>;
  cleanup(): Promise<void>;
}

const now = (offsetMs = 0): string => new Date(Date.UTC(2026, 0, 1) + offsetMs).toISOString();

export function agent(id: string, patch: Partial<Agent> = {}): Agent {
  return {
    id,
    name: "coder",
    profile: "coder",
    profileVersion: 1,
    role: "Coder",
    capabilities: ["ts"],
    scopes: [],
    cognitiveLoadLimit: 1,
    state: "READY",
    crewId: null,
    nodeId: "node-a",
    walletAddress: `0x371_CODER_${id.padEnd(32, "0").slice(0, 32)}`,
    spawnedAt: now(),
    load: 0,
    stats: { completed: 0, failed: 0 },
    restarts: 0,
    health: { lastHeartbeatAt: null, missed: 0, successRate: 1, latencyMs: null, samples: 0, suspect: null },
    pid: null,
    lastSignal: null,
    context: {},
    updatedAt: now(),
    ...patch,
  };
}

export function task(id: string, patch: Partial<Task> = {}): Task {
  return {
    id,
    state: "QUEUED",
    input: { n: id },
    role: "Coder",
    profile: null,
    capabilities: [],
    crewId: null,
    priority: 5,
    timeoutMs: null,
    maxAttempts: 1,
    attempts: 0,
    retryBackoffMs: 200,
    retryAt: null,
    redrives: 0,
    traceId: null,
    affinityKey: null,
    idempotencyKey: null,
    balancer: null,
    targetAgentId: null,
    agentId: null,
    createdAt: now(),
    startedAt: null,
    finishedAt: null,
    updatedAt: now(),
    ...patch,
  };
}

/** A ledger entry of `amount` credits; the rest as `patch` says (null otherwise). */
function ledgerEntry(seq: number, kind: LedgerEntry["kind"], debit: string, credit: string, amount: number, patch: Partial<LedgerEntry> = {}): LedgerEntry {
  return { id: `le_${seq}`, seq, at: now(seq), kind, debit, credit, amount, crewId: null, agentId: null, taskId: null, reservationId: null, model: null, tokensIn: null, tokensOut: null, memo: null, ...patch };
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export function crew(id: string, patch: Partial<Crew> = {}): Crew {
  return { id, name: "team", description: null, state: "ACTIVE", agentIds: [], budget: null, walletAddress: "0x371_CREW_x", createdAt: now(), updatedAt: now(), ...patch };
}

export function storeConformance(adapter: string, open: () => Promise<StoreUnderTest>): void {
  describe(`Store conformance: ${adapter}`, () => {
    let sut: StoreUnderTest;
    beforeEach(async () => {
      sut = await open();
    });
    afterEach(async () => {
      await sut.cleanup();
    });

    it("migrates idempotently", async () => {
      await sut.store.migrate();
      await sut.store.migrate();
      assert.deepEqual(await sut.store.listProfiles(), []);
    });

    it("upserts records whole: the last write of an id wins, within a batch and across batches", async () => {
      await sut.store.apply([
        { kind: "agent", value: agent("a1", { state: "PROVISIONING" }) },
        { kind: "agent", value: agent("a1", { state: "WARMING" }) },
      ]);
      assert.equal((await sut.store.getAgent("a1"))?.state, "WARMING");
      await sut.store.apply([{ kind: "agent", value: agent("a1", { state: "READY", load: 0, stats: { completed: 3, failed: 1 }, health: { lastHeartbeatAt: null, missed: 0, successRate: 0.75, latencyMs: 12, samples: 4, suspect: null } }) }]);
      const stored = await sut.store.getAgent("a1");
      assert.equal(stored?.state, "READY");
      assert.deepEqual(stored?.stats, { completed: 3, failed: 1 });
      assert.deepEqual(stored?.health, { lastHeartbeatAt: null, missed: 0, successRate: 0.75, latencyMs: 12, samples: 4, suspect: null });
      assert.equal(await sut.store.getAgent("missing"), undefined);
    });

    it("keeps the node that runs an agent, and gives an agent stored before nodes existed nodeId ''", async () => {
      await sut.store.apply([{ kind: "agent", value: agent("n1", { nodeId: "node-b" }) }]);
      assert.equal((await sut.store.getAgent("n1"))?.nodeId, "node-b");
      const { nodeId: _gone, ...legacy } = agent("n2");
      await sut.store.apply([{ kind: "agent", value: legacy as Agent }]);
      assert.equal((await sut.store.getAgent("n2"))?.nodeId, "");
      assert.deepEqual((await sut.store.listAgents({})).filter((a) => a.id === "n1" || a.id === "n2").map((a) => [a.id, a.nodeId]).sort(), [["n1", "node-b"], ["n2", ""]]);
    });

    it("filters agents by state, role and crew, newest first", async () => {
      await sut.store.apply([
        { kind: "agent", value: agent("a1", { spawnedAt: now(1) }) },
        { kind: "agent", value: agent("a2", { spawnedAt: now(2), state: "TERMINATED" }) },
        { kind: "agent", value: agent("a3", { spawnedAt: now(3), role: "Reviewer", crewId: "c1" }) },
      ]);
      assert.deepEqual((await sut.store.listAgents({})).map((a) => a.id), ["a3", "a2", "a1"]);
      assert.deepEqual((await sut.store.listAgents({ states: ["TERMINATED"] })).map((a) => a.id), ["a2"]);
      assert.deepEqual((await sut.store.listAgents({ role: "Reviewer" })).map((a) => a.id), ["a3"]);
      assert.deepEqual((await sut.store.listAgents({ crewId: "c1" })).map((a) => a.id), ["a3"]);
      assert.deepEqual((await sut.store.listAgents({ limit: 1 })).map((a) => a.id), ["a3"]);
    });

    it("keeps every profile version, ignoring a re-write of one", async () => {
      const base = { role: "Coder", capabilities: [], cognitiveLoadLimit: 1, runtime: { kind: "function" as const, handler: "echo" }, scopes: [], pool: { maxSize: 16, warmSize: 3, idleTimeoutMs: 1, spawnRatePerSec: 1, healthIntervalMs: 10, stuckThresholdMs: 10, queueDepth: 1, balancer: "least-loaded" as const, spawnStrategy: "manual" as const }, health: { heartbeatIntervalMs: 1000, missedHeartbeats: 3, minSuccessRate: 0.5, qualityWindow: 20 } };
      await sut.store.apply([
        { kind: "profile", value: { ...base, name: "p", version: 1, createdAt: now() } },
        { kind: "profile", value: { ...base, name: "p", version: 2, createdAt: now(1), cognitiveLoadLimit: 4 } },
      ]);
      await sut.store.apply([{ kind: "profile", value: { ...base, name: "p", version: 1, createdAt: now(), cognitiveLoadLimit: 99 } }]);
      const profiles = await sut.store.listProfiles();
      assert.deepEqual(profiles.map((p) => [p.version, p.cognitiveLoadLimit]), [[1, 1], [2, 4]]);
    });

    it("lists tasks by state and crew, oldest first", async () => {
      await sut.store.apply([
        { kind: "task", value: task("t2", { createdAt: now(2) }) },
        { kind: "task", value: task("t1", { createdAt: now(1), state: "SUCCEEDED", result: { ok: true } }) },
        { kind: "task", value: task("t3", { createdAt: now(3), crewId: "c1" }) },
      ]);
      assert.deepEqual((await sut.store.listTasks({})).map((t) => t.id), ["t1", "t2", "t3"]);
      assert.deepEqual((await sut.store.listTasks({ states: ["QUEUED"] })).map((t) => t.id), ["t2", "t3"]);
      assert.deepEqual((await sut.store.listTasks({ crewId: "c1" })).map((t) => t.id), ["t3"]);
      assert.deepEqual((await sut.store.getTask("t1"))?.result, { ok: true });
    });

    it("pages tasks, agents and crews newest first from a (time, id) position; ties in one millisecond go by id", async () => {
      await sut.store.apply([
        { kind: "task", value: task("t1", { createdAt: now(1) }) },
        { kind: "task", value: task("t2b", { createdAt: now(2) }) },
        { kind: "task", value: task("t2a", { createdAt: now(2) }) },
        { kind: "task", value: task("t3", { createdAt: now(3), state: "SUCCEEDED" }) },
        { kind: "agent", value: agent("a1", { spawnedAt: now(1) }) },
        { kind: "agent", value: agent("a2b", { spawnedAt: now(2) }) },
        { kind: "agent", value: agent("a2a", { spawnedAt: now(2) }) },
        { kind: "crew", value: crew("c1", { createdAt: now(1) }) },
        { kind: "crew", value: crew("c2", { createdAt: now(2) }) },
      ]);
      assert.deepEqual((await sut.store.listTasks({ newestFirst: true })).map((t) => t.id), ["t3", "t2b", "t2a", "t1"]);
      assert.deepEqual((await sut.store.listTasks({})).map((t) => t.id), ["t1", "t2a", "t2b", "t3"]);
      assert.deepEqual((await sut.store.listTasks({ newestFirst: true, after: { at: now(2), id: "t2b" }, limit: 1 })).map((t) => t.id), ["t2a"]);
      assert.deepEqual((await sut.store.listTasks({ newestFirst: true, after: { at: now(3), id: "t3" }, states: ["QUEUED"] })).map((t) => t.id), ["t2b", "t2a", "t1"]);
      assert.deepEqual((await sut.store.listTasks({ after: { at: now(2), id: "t2a" } })).map((t) => t.id), ["t2b", "t3"]);
      assert.deepEqual((await sut.store.listAgents({})).map((a) => a.id), ["a2b", "a2a", "a1"]);
      assert.deepEqual((await sut.store.listAgents({ after: { at: now(2), id: "a2b" } })).map((a) => a.id), ["a2a", "a1"]);
      assert.deepEqual((await sut.store.listCrews({ after: { at: now(2), id: "c2" } })).map((c) => c.id), ["c1"]);
      assert.deepEqual((await sut.store.listCrews({ after: { at: now(1), id: "c1" } })).map((c) => c.id), []);
    });

    it("stores crews, wallets and crew context (set, overwrite, delete)", async () => {
      await sut.store.apply([
        { kind: "crew", value: crew("c1") },
        { kind: "wallet", value: { address: "0x371_CREW_x", ownerKind: "crew", ownerId: "c1", balance: 500, achievementTokens: 0, createdAt: now() } },
        { kind: "context", crewId: "c1", key: "plan", value: { step: 1 }, deleted: false },
        { kind: "context", crewId: "c1", key: "goal", value: "ship", deleted: false },
        { kind: "context", crewId: "c2", key: "plan", value: "other crew", deleted: false },
      ]);
      await sut.store.apply([
        { kind: "context", crewId: "c1", key: "plan", value: { step: 2 }, deleted: false },
        { kind: "context", crewId: "c1", key: "goal", value: null, deleted: true },
        { kind: "crew", value: crew("c1", { state: "PAUSED" }) },
      ]);
      assert.deepEqual(await sut.store.getContext("c1"), { plan: { step: 2 } });
      assert.deepEqual(await sut.store.getContext("c2"), { plan: "other crew" });
      assert.equal((await sut.store.getCrew("c1"))?.state, "PAUSED");
      assert.deepEqual((await sut.store.listCrews({ states: ["PAUSED"] })).map((c) => c.id), ["c1"]);
      assert.equal((await sut.store.getWallet("0x371_CREW_x"))?.balance, 500);
    });

    it("finds a task by its idempotency key, and refuses a second task with the same key", async () => {
      await sut.store.apply([{ kind: "task", value: task("k1", { idempotencyKey: "order-42" }) }, { kind: "task", value: task("k2") }]);
      assert.equal((await sut.store.getTaskByIdempotencyKey("order-42"))?.id, "k1");
      assert.equal(await sut.store.getTaskByIdempotencyKey("order-43"), undefined);
      await assert.rejects(sut.store.apply([{ kind: "task", value: task("k3", { idempotencyKey: "order-42" }) }]));
      assert.equal(await sut.store.getTask("k3"), undefined);
    });

    it("keeps events in seq order and filters them", async () => {
      await sut.store.apply([
        { kind: "event", value: { seq: 2, type: "crew.message", at: now(), crewId: "c1", data: { topic: "a" } } },
        { kind: "event", value: { seq: 1, type: "agent.state", at: now(), agentId: "a1", from: "READY", to: "BUSY" } },
        { kind: "event", value: { seq: 3, type: "crew.message", at: now(), crewId: "c2" } },
      ]);
      assert.equal(await sut.store.lastEventSeq(), 3);
      assert.deepEqual((await sut.store.listEvents({})).map((e) => e.seq), [1, 2, 3]);
      assert.deepEqual((await sut.store.listEvents({ afterSeq: 1 })).map((e) => e.seq), [2, 3]);
      assert.deepEqual((await sut.store.listEvents({ crewId: "c1", types: ["crew.message"] })).map((e) => e.seq), [2]);
      assert.deepEqual((await sut.store.listEvents({ limit: 2 })).map((e) => e.seq), [1, 2]);
      assert.deepEqual((await sut.store.listEvents({ types: ["crew.*"] })).map((e) => e.seq), [2, 3]);
      assert.deepEqual((await sut.store.listEvents({ types: ["agent.state", "crew.*"] })).map((e) => e.seq), [1, 2, 3]);
      assert.deepEqual((await sut.store.listEvents({ types: [] })).map((e) => e.seq), [1, 2, 3]);
      assert.deepEqual((await sut.store.listEvents({ agentId: "a1" })).map((e) => e.seq), [1]);
    });

    it("writes a batch of 5,000 rows in one apply", async () => {
      const writes = Array.from({ length: 5_000 }, (_, i) => ({ kind: "agent" as const, value: agent(`bulk${i}`) }));
      await sut.store.apply(writes);
      assert.equal((await sut.store.listAgents({ limit: 10_000 })).length, 5_000);
    });

    it("applies a batch atomically: a failing write leaves nothing of the batch", async () => {
      const bad = agent("b2");
      (bad as unknown as { state: unknown }).state = null; // violates NOT NULL
      await assert.rejects(sut.store.apply([{ kind: "agent", value: agent("b1") }, { kind: "agent", value: bad }]));
      assert.equal(await sut.store.getAgent("b1"), undefined);
    });

    it("refuses a whole mixed batch when one write breaks a rule: no task, event, context or ledger entry of it is kept", async () => {
      await sut.store.apply([{ kind: "ledger", value: ledgerEntry(1, "grant", "SYS", "W1", 5) }]);
      await assert.rejects(
        sut.store.apply([
          { kind: "task", value: task("m1") },
          { kind: "event", value: { seq: 1, type: "crew.message", at: now(), crewId: "c1" } },
          { kind: "context", crewId: "c1", key: "plan", value: 1, deleted: false },
          { kind: "ledger", value: ledgerEntry(2, "grant", "SYS", "W1", 1, { id: "le_1" }) }, // ids are unique
        ]),
      );
      assert.equal(await sut.store.getTask("m1"), undefined);
      assert.equal(await sut.store.lastEventSeq(), 0);
      assert.deepEqual(await sut.store.getContext("c1"), {});
      assert.deepEqual((await sut.store.listLedger({})).map((e) => e.seq), [1]);
    });

    it("keeps a re-written event or ledger entry once, and refuses a batch with a different one under a seq already taken", async () => {
      const event = { seq: 1, type: "crew.message" as const, at: now(), crewId: "c1", data: { n: 1 } };
      await sut.store.apply([{ kind: "event", value: event }, { kind: "ledger", value: ledgerEntry(1, "grant", "SYS", "W1", 5) }]);
      // A batch retried after its commit's answer was lost: the same event and entry again.
      await sut.store.apply([{ kind: "event", value: { ...event, data: { n: 1 } } }, { kind: "ledger", value: ledgerEntry(1, "grant", "SYS", "W1", 5) }, { kind: "task", value: task("retried") }]);
      // Another writer that counted from the same last seq: nothing of its batch is kept.
      await assert.rejects(sut.store.apply([{ kind: "task", value: task("other-node") }, { kind: "ledger", value: ledgerEntry(1, "grant", "SYS", "W2", 7, { id: "le_other" }) }]), {
        message: "ledger entry seq 1 is already taken by another entry (le_1): two writers numbered alike, and this batch would lose one",
      });
      await assert.rejects(sut.store.apply([{ kind: "task", value: task("other-node") }, { kind: "event", value: { ...event, data: { n: 2 } } }]), {
        message: "event seq 1 is already taken by another event: two writers numbered alike, and this batch would lose one",
      });
      assert.equal(await sut.store.getTask("other-node"), undefined);
      assert.equal((await sut.store.getTask("retried"))?.state, "QUEUED");
      assert.deepEqual((await sut.store.listEvents({})).map((e) => e.data), [{ n: 1 }]);
      assert.deepEqual((await sut.store.listLedger({})).map((e) => e.id), ["le_1"]);
      assert.equal((await sut.store.ledgerTotals()).balances.get("W2"), undefined);
    });

    it("keeps what was written, not the caller's objects: changing a written or a read record changes nothing stored", async () => {
      const written = task("copy", { input: { n: 1 } });
      const value = { step: 1 };
      await sut.store.apply([{ kind: "task", value: written }, { kind: "context", crewId: "c1", key: "plan", value, deleted: false }]);
      (written.input as { n: number }).n = 2;
      written.state = "RUNNING";
      value.step = 2;
      const read = await sut.store.getTask("copy");
      assert.deepEqual(read?.input, { n: 1 });
      // assert.deepEqual above has narrowed read.input to { n: number }.
      assert.ok(read !== undefined);
      read.input.n = 3;
      (await sut.store.getContext("c1")).plan = "changed";
      assert.equal((await sut.store.getTask("copy"))?.state, "QUEUED");
      assert.deepEqual((await sut.store.getTask("copy"))?.input, { n: 1 });
      assert.deepEqual(await sut.store.getContext("c1"), { plan: { step: 1 } });
    });

    it("keeps ledger entries append-only, filters them, and sums balances exactly in micro-credits", async () => {
      const entry = (seq: number, kind: LedgerEntry["kind"], debit: string, credit: string, amount: number, crewId: string | null = null): LedgerEntry => ({
        id: `le_${seq}`,
        seq,
        at: now(seq),
        kind,
        debit,
        credit,
        amount,
        crewId,
        agentId: null,
        taskId: null,
        reservationId: null,
        model: null,
        tokensIn: null,
        tokensOut: null,
        memo: null,
      });
      await sut.store.apply([
        { kind: "ledger", value: entry(1, "grant", "SYS", "W1", 10, "c1") },
        { kind: "ledger", value: entry(2, "transfer", "W1", "W2", 0.000001) },
        { kind: "ledger", value: entry(3, "transfer", "W1", "W2", 0.1) },
      ]);
      // Re-applying an entry (a retried batch) changes nothing.
      await sut.store.apply([{ kind: "ledger", value: entry(3, "transfer", "W1", "W2", 0.1) }]);
      assert.deepEqual((await sut.store.listLedger({})).map((e) => e.seq), [1, 2, 3]);
      assert.deepEqual((await sut.store.listLedger({ wallet: "W2" })).map((e) => e.seq), [2, 3]);
      assert.deepEqual((await sut.store.listLedger({ crewId: "c1" })).map((e) => e.seq), [1]);
      assert.deepEqual((await sut.store.listLedger({ kinds: ["grant"] })).map((e) => e.seq), [1]);
      assert.deepEqual((await sut.store.listLedger({ afterSeq: 1, limit: 1 })).map((e) => e.seq), [2]);
      const totals = await sut.store.ledgerTotals();
      assert.deepEqual(Object.fromEntries(totals.balances), { SYS: -10_000_000, W1: 9_899_999, W2: 100_001 });
      assert.equal(totals.lastSeq, 3);
    });

    it("reports usage per agent, crew, model and UTC period, summed exactly, largest first (periods oldest first), filtered by kind, crew, agent, model and range", async () => {
      const usage = (seq: number, amount: number, atMs: number, patch: Partial<LedgerEntry>): LedgerEntry =>
        ledgerEntry(seq, "usage", "RES", "PROV", amount, { at: now(atMs), reservationId: `r${seq}`, ...patch });
      await sut.store.apply([
        { kind: "ledger", value: ledgerEntry(1, "grant", "SYS", "W1", 100, { crewId: "c1" }) },
        { kind: "ledger", value: ledgerEntry(2, "reservation", "W1", "RES", 5, { crewId: "c1", agentId: "a1", model: "m1", reservationId: "r3" }) },
        { kind: "ledger", value: usage(3, 1.5, 10 * 60_000, { crewId: "c1", agentId: "a1", model: "m1", tokensIn: 100, tokensOut: 50 }) },
        { kind: "ledger", value: ledgerEntry(4, "release", "RES", "W1", 3.5, { crewId: "c1", agentId: "a1", model: "m1", reservationId: "r3" }) },
        { kind: "ledger", value: usage(5, 0.25, HOUR_MS + 5 * 60_000, { crewId: "c1", agentId: "a2", model: "m2", tokensIn: 10, tokensOut: 5 }) },
        { kind: "ledger", value: usage(6, 0.000001, DAY_MS, { crewId: "c2", agentId: "a3", model: "m1", tokensIn: 1, tokensOut: 0 }) },
        { kind: "ledger", value: usage(7, 2, 31 * DAY_MS, { crewId: "c2", agentId: "a3", model: "m1", tokensIn: 200, tokensOut: 100 }) },
        // Usage that names no agent and no model (and no token counts): its key is null.
        { kind: "ledger", value: usage(8, 0.25, HOUR_MS + 30 * 60_000, { crewId: "c1" }) },
      ]);
      const report = (query: Parameters<typeof sut.store.ledgerReport>[0]) => sut.store.ledgerReport(query);
      const row = (key: string | null, entries: number, amount: number, tokensIn: number, tokensOut: number) => ({ key, entries, amount, tokensIn, tokensOut });
      assert.deepEqual(await report({ by: "agent" }), [row("a3", 2, 2.000001, 201, 100), row("a1", 1, 1.5, 100, 50), row("a2", 1, 0.25, 10, 5), row(null, 1, 0.25, 0, 0)]);
      assert.deepEqual(await report({ by: "crew" }), [row("c2", 2, 2.000001, 201, 100), row("c1", 3, 2, 110, 55)]);
      assert.deepEqual(await report({ by: "model" }), [row("m1", 3, 3.500001, 301, 150), row("m2", 1, 0.25, 10, 5), row(null, 1, 0.25, 0, 0)]);
      assert.deepEqual(await report({ by: "hour" }), [
        row("2026-01-01T00", 1, 1.5, 100, 50),
        row("2026-01-01T01", 2, 0.5, 10, 5),
        row("2026-01-02T00", 1, 0.000001, 1, 0),
        row("2026-02-01T00", 1, 2, 200, 100),
      ]);
      assert.deepEqual(await report({ by: "day" }), [row("2026-01-01", 3, 2, 110, 55), row("2026-01-02", 1, 0.000001, 1, 0), row("2026-02-01", 1, 2, 200, 100)]);
      assert.deepEqual(await report({ by: "month" }), [row("2026-01", 4, 2.000001, 111, 55), row("2026-02", 1, 2, 200, 100)]);
      // Other kinds, and filters.
      assert.deepEqual(await report({ by: "crew", kind: "grant" }), [row("c1", 1, 100, 0, 0)]);
      assert.deepEqual(await report({ by: "agent", kind: "reservation" }), [row("a1", 1, 5, 0, 0)]);
      assert.deepEqual(await report({ by: "model", crewId: "c1" }), [row("m1", 1, 1.5, 100, 50), row("m2", 1, 0.25, 10, 5), row(null, 1, 0.25, 0, 0)]);
      assert.deepEqual(await report({ by: "month", agentId: "a3" }), [row("2026-01", 1, 0.000001, 1, 0), row("2026-02", 1, 2, 200, 100)]);
      assert.deepEqual(await report({ by: "agent", model: "m1" }), [row("a3", 2, 2.000001, 201, 100), row("a1", 1, 1.5, 100, 50)]);
      // `from` is inclusive, `to` exclusive.
      assert.deepEqual(await report({ by: "day", from: now(HOUR_MS + 5 * 60_000), to: now(31 * DAY_MS) }), [row("2026-01-01", 2, 0.5, 10, 5), row("2026-01-02", 1, 0.000001, 1, 0)]);
      assert.deepEqual(await report({ by: "agent", kind: "attribution" }), []);
    });

    it("finds the reservations that usage and release entries have not fully settled", async () => {
      await sut.store.apply([
        { kind: "ledger", value: ledgerEntry(1, "grant", "SYS", "W1", 100) },
        { kind: "ledger", value: ledgerEntry(2, "grant", "SYS", "W2", 100) },
        // r1: settled (usage and release); r2: never settled; r3: settled halfway (usage, no release); r4: all released.
        { kind: "ledger", value: ledgerEntry(3, "reservation", "W1", "RES", 5, { reservationId: "r1" }) },
        { kind: "ledger", value: ledgerEntry(4, "reservation", "W1", "RES", 3, { reservationId: "r2", crewId: "c1", agentId: "a1", taskId: "t1", model: "m1" }) },
        { kind: "ledger", value: ledgerEntry(5, "reservation", "W2", "RES", 2, { reservationId: "r3", agentId: "a2", model: "m2" }) },
        { kind: "ledger", value: ledgerEntry(6, "reservation", "W2", "RES", 1, { reservationId: "r4" }) },
        { kind: "ledger", value: ledgerEntry(7, "usage", "RES", "PROV", 1.5, { reservationId: "r1" }) },
        { kind: "ledger", value: ledgerEntry(8, "release", "RES", "W1", 3.5, { reservationId: "r1" }) },
        { kind: "ledger", value: ledgerEntry(9, "usage", "RES", "PROV", 0.5, { reservationId: "r3" }) },
        { kind: "ledger", value: ledgerEntry(10, "release", "RES", "W2", 1, { reservationId: "r4" }) },
      ]);
      assert.deepEqual(await sut.store.openReservations(), [
        { reservationId: "r2", wallet: "W1", micro: 3_000_000, crewId: "c1", agentId: "a1", taskId: "t1", model: "m1" },
        { reservationId: "r3", wallet: "W2", micro: 1_500_000, crewId: null, agentId: "a2", taskId: null, model: "m2" },
      ]);
      await sut.store.apply([{ kind: "ledger", value: ledgerEntry(11, "release", "RES", "W2", 1.5, { reservationId: "r3" }) }]);
      assert.deepEqual((await sut.store.openReservations()).map((r) => r.reservationId), ["r2"]);
    });

    it("keeps budget limits: put (insert, then overwrite), list in key order, delete", async () => {
      await sut.store.putBudget({ key: "global", credits: 1_000, periodMs: 86_400_000, windowStart: "2026-01-01T00:00:00.000Z" });
      await sut.store.putBudget({ key: "crew:c1", credits: 0.000001, periodMs: null, windowStart: "2026-01-02T00:00:00.000Z" });
      await sut.store.putBudget({ key: "global", credits: 2_500.5, periodMs: 3_600_000, windowStart: "2026-01-03T00:00:00.000Z" });
      assert.deepEqual(await sut.store.listBudgets(), [
        { key: "crew:c1", credits: 0.000001, periodMs: null, windowStart: "2026-01-02T00:00:00.000Z" },
        { key: "global", credits: 2_500.5, periodMs: 3_600_000, windowStart: "2026-01-03T00:00:00.000Z" },
      ]);
      await sut.store.deleteBudget("crew:c1");
      await sut.store.deleteBudget("crew:absent");
      assert.deepEqual((await sut.store.listBudgets()).map((b) => b.key), ["global"]);
    });

    it("keeps operator keys: put, list oldest first with crews as given (null: unlimited), delete says whether one was there", async () => {
      const hash = (c: string) => c.repeat(64);
      await sut.store.putOperatorKey({ id: "k2", name: "dashboard", role: "viewer", crews: null, createdAt: "2026-01-02T00:00:00.000Z", secretHash: hash("a") });
      await sut.store.putOperatorKey({ id: "k1", name: "team-a tools", role: "operator", crews: ["crew_a", "crew_b"], createdAt: "2026-01-01T00:00:00.000Z", secretHash: hash("b") });
      await sut.store.putOperatorKey({ id: "k3", name: "root", role: "admin", crews: null, createdAt: "2026-01-02T00:00:00.000Z", secretHash: hash("c") });
      assert.deepEqual(await sut.store.listOperatorKeys(), [
        { id: "k1", name: "team-a tools", role: "operator", crews: ["crew_a", "crew_b"], createdAt: "2026-01-01T00:00:00.000Z", secretHash: hash("b") },
        { id: "k2", name: "dashboard", role: "viewer", crews: null, createdAt: "2026-01-02T00:00:00.000Z", secretHash: hash("a") },
        { id: "k3", name: "root", role: "admin", crews: null, createdAt: "2026-01-02T00:00:00.000Z", secretHash: hash("c") },
      ]);
      assert.equal(await sut.store.deleteOperatorKey("k2"), true);
      assert.equal(await sut.store.deleteOperatorKey("k2"), false);
      assert.equal(await sut.store.deleteOperatorKey("absent"), false);
      assert.deepEqual((await sut.store.listOperatorKeys()).map((k) => k.id), ["k1", "k3"]);
    });

    it("prunes finished tasks by when they finished and by count, oldest first, in batches; unfinished tasks stay", async () => {
      const MIN = 60_000;
      await sut.store.apply([
        // Finished at minutes 1..5 (created long before: age counts from the finish).
        ...[1, 2, 3, 4, 5].map((m) => ({ kind: "task" as const, value: task(`done${m}`, { state: m === 5 ? ("DEAD" as const) : ("SUCCEEDED" as const), createdAt: now(), finishedAt: now(m * MIN), idempotencyKey: `key${m}` }) })),
        { kind: "task", value: task("queued", { createdAt: now() }) },
        { kind: "task", value: task("running", { state: "RUNNING", createdAt: now() }) },
      ]);
      const ids = async () => (await sut.store.listTasks({})).map((t) => t.id).sort();
      // By age, at most `limit` per call: minutes 1 and 2 first, then 3 (finished before 3.5 min).
      assert.equal(await sut.store.prune({ kind: "tasks", before: now(3.5 * MIN), limit: 2 }), 2);
      assert.deepEqual(await ids(), ["done3", "done4", "done5", "queued", "running"]);
      assert.equal(await sut.store.prune({ kind: "tasks", before: now(3.5 * MIN), limit: 2 }), 1);
      assert.equal(await sut.store.prune({ kind: "tasks", before: now(3.5 * MIN), limit: 2 }), 0);
      // A pruned task's idempotency key is free again.
      assert.equal(await sut.store.getTaskByIdempotencyKey("key1"), undefined);
      assert.equal((await sut.store.getTaskByIdempotencyKey("key4"))?.id, "done4");
      // By count: the newest finished one stays, whatever the unfinished ones.
      assert.equal(await sut.store.prune({ kind: "tasks", keep: 1, limit: 100 }), 1);
      assert.deepEqual(await ids(), ["done5", "queued", "running"]);
      assert.equal(await sut.store.prune({ kind: "tasks", keep: 0, before: now(60 * MIN), limit: 100 }), 1);
      assert.deepEqual(await ids(), ["queued", "running"]);
      assert.equal(await sut.store.prune({ kind: "tasks", keep: 0, before: now(60 * MIN), limit: 100 }), 0);
    });

    it("prunes events and crew messages each by their own limits, oldest first; ledger entries are never pruned", async () => {
      const SEC = 1_000;
      const events: StoreWrite[] = [];
      for (let seq = 1; seq <= 12; seq++) {
        events.push({ kind: "event" as const, value: seq % 3 === 0 ? { seq, type: "crew.message" as const, at: now(seq * SEC), crewId: "c1", data: { n: seq } } : { seq, type: "agent.state" as const, at: now(seq * SEC), agentId: "a1", from: "READY", to: "BUSY" } });
      }
      await sut.store.apply([...events, { kind: "ledger", value: ledgerEntry(1, "grant", "SYS", "W1", 5) }, { kind: "ledger", value: ledgerEntry(2, "grant", "SYS", "W1", 1) }]);
      const seqs = async () => (await sut.store.listEvents({})).map((e) => e.seq);
      // Events (not messages) written before second 5.5: 1, 2, 4, 5; messages stay.
      assert.equal(await sut.store.prune({ kind: "events", before: now(5.5 * SEC), limit: 3 }), 3);
      assert.equal(await sut.store.prune({ kind: "events", before: now(5.5 * SEC), limit: 3 }), 1);
      assert.equal(await sut.store.prune({ kind: "events", before: now(5.5 * SEC), limit: 3 }), 0);
      assert.deepEqual(await seqs(), [3, 6, 7, 8, 9, 10, 11, 12]);
      // Only the newest 2 events: 7 and 8 go, 10 and 11 stay.
      assert.equal(await sut.store.prune({ kind: "events", keep: 2, limit: 100 }), 2);
      assert.deepEqual(await seqs(), [3, 6, 9, 10, 11, 12]);
      // Messages by count, then by age.
      assert.equal(await sut.store.prune({ kind: "messages", keep: 3, limit: 100 }), 1);
      assert.deepEqual(await seqs(), [6, 9, 10, 11, 12]);
      assert.equal(await sut.store.prune({ kind: "messages", before: now(10 * SEC), limit: 100 }), 2);
      assert.deepEqual(await seqs(), [10, 11, 12]);
      assert.equal(await sut.store.prune({ kind: "messages", keep: 0, limit: 100 }), 1);
      assert.equal(await sut.store.prune({ kind: "events", keep: 0, limit: 100 }), 2);
      assert.deepEqual(await seqs(), []);
      // The ledger is never pruned.
      assert.deepEqual((await sut.store.listLedger({})).map((e) => e.seq), [1, 2]);
      assert.equal((await sut.store.ledgerTotals()).balances.get("W1"), 6_000_000);
    });

    it("keeps signing keys, newest first; a kid already kept stays as it was", async () => {
      const key = (kid: string, at: number) => ({ kid, createdAt: now(at), publicJwk: { kty: "OKP", crv: "Ed25519", x: kid }, privateJwk: { kty: "OKP", crv: "Ed25519", x: kid, d: `secret-${kid}` } });
      assert.deepEqual(await sut.store.listSigningKeys(), []);
      await sut.store.putSigningKey(key("k1", 1));
      await sut.store.putSigningKey(key("k2", 2));
      await sut.store.putSigningKey({ ...key("k1", 3), privateJwk: { d: "replaced" } });
      const kept = await sut.store.listSigningKeys();
      assert.deepEqual(kept.map((k) => k.kid), ["k2", "k1"]);
      assert.deepEqual(kept[1], key("k1", 1));
    });

    it("keeps what was applied across a close and reopen", async (t) => {
      if (sut.reopen === undefined) return t.skip("this adapter has no durable backing to reopen");
      await sut.store.apply([{ kind: "task", value: task("durable") }]);
      sut.store = await sut.reopen();
      assert.equal((await sut.store.getTask("durable"))?.state, "QUEUED");
    });
  });
}
