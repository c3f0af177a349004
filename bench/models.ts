/**
 * Model router, budget and ledger benchmarks (issue 6).
 *
 * - `budget`: rounds of 1,000 concurrent model calls (the mock provider, 1–20 ms each) against a
 *   wallet of N credits, through the real router, budget guard and SQLite ledger: how much was
 *   spent against N, every round. The peer, in the same process on the same calls, is the
 *   check-then-spend guard LiteLLM's users report bypassed by concurrency (read what was spent,
 *   call if it is under the budget, add the cost after).
 * - `router`: what routing costs per call: sequential calls through the router (rules, reserve,
 *   call, settle, three ledger entries) against the AI SDK's `generateText` on the same mock
 *   model without it; then llm agent tasks through the whole factory (dispatch, one model call,
 *   ledger, task record), durable in SQLite.
 *
 *   node --expose-gc bench/models.ts --case budget|router [--quick]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createSqliteStore } from "../src/adapters/store/sqlite/sqlite-store.ts";
import { PROVIDERS_WALLET, RESERVE_WALLET } from "../src/core/ledger.ts";
import { Ledger } from "../src/economics/ledger.ts";
import { PricingTable } from "../src/economics/pricing.ts";
import { Journal } from "../src/state/journal.ts";
import { createFactory } from "../src/index.ts";
import { BudgetGuard } from "../src/models/budget-guard.ts";
import { ModelsConfigSchema } from "../src/models/models-config.ts";
import { MockProvider } from "../src/models/providers/mock-provider.ts";
import { MockScriptSchema } from "../src/models/providers/mock-script.ts";
import { ModelRouter } from "../src/models/router.ts";
import { withTempDir } from "./spawn.ts";
import { check, formatNumber, metric, perSecond, summarize, type Metric } from "./stats.ts";

export const MODEL_CASE_NAMES = ["budget", "router"] as const;
export type ModelCaseName = (typeof MODEL_CASE_NAMES)[number];

const now = (): number => performance.now();
const gc = (globalThis as { gc?: () => void }).gc;
const log = (line: string): void => void process.stderr.write(`  ${line}\n`);
const WALLET = "0x371_CREW_bench";
const CALLS = 1_000;
/** The budget: enough for about a quarter of the calls. */
const BUDGET = 50;

/** A deterministic "random" latency and token count per call (the same for ours and the peer). */
const latencyOf = (i: number): number => 1 + ((i * 7_919) % 20);
const outputOf = (i: number): number => 20 + ((i * 104_729) % 80);
/**
 * When call i of a round starts, 0–49 ms in: round 0 starts every call in the same tick (every
 * reservation before any settlement, the hardest case), later rounds interleave reservations
 * with settlements in a different order each (a seeded generator, the same for ours and the peer).
 */
function arrivals(round: number): number[] {
  let seed = round * 2_654_435_761 + 1;
  return Array.from({ length: CALLS }, () => {
    if (round === 0) return 0;
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed % 50;
  });
}
const after = (ms: number): Promise<void> => (ms === 0 ? Promise.resolve() : new Promise((r) => setTimeout(r, ms)));

async function budgetCase({ quick }: { quick: boolean }): Promise<{ title: string; metrics: Metric[]; details: Record<string, unknown> }> {
  const rounds = quick ? 5 : 30;
  return withTempDir(async (dir) => {
    const store = await createSqliteStore({ filename: join(dir, "budget.db") });
    const journal = new Journal(store, (e) => log(String(e)));
    const ledger = new Ledger(journal);
    const spentOurs: number[] = [];
    const spentPeer: number[] = [];
    const allowedOurs: number[] = [];
    const allowedPeer: number[] = [];
    const roundMs: number[] = [];
    // Replies keyed by prompt: call i asks "call i", and gets its latency and output size.
    const script = MockScriptSchema.parse({
      rules: Array.from({ length: CALLS }, (_, i) => ({ when: { prompt: `^call ${i}$` }, reply: { text: "ok", latencyMs: latencyOf(i), usage: { outputTokens: outputOf(i) } } })),
    });
    const mock = new MockProvider({ script });
    const pricing = new PricingTable({}, { input: 1, output: 2 });
    for (let round = 0; round < rounds; round++) {
      const wallet = `${WALLET}_${round}`;
      ledger.grant(wallet, BUDGET);
      const router = new ModelRouter({
        providers: [mock],
        pricing,
        rules: [{ name: "one", when: {}, model: "mock:bench", fallbacks: [] }],
        guard: new BudgetGuard(ledger),
        callTimeoutMs: 10_000,
        cooldown: { failures: 3, ms: 0 },
        maxOutputTokens: 100,
        // The server's default: calls that do not fit yet wait this long for holds to settle.
        budgetWaitMs: ModelsConfigSchema.parse({}).budgetWaitMs,
      });
      const providersBefore = ledger.balance(PROVIDERS_WALLET);
      const start = arrivals(round);
      const t0 = now();
      const results = await Promise.allSettled(
        Array.from({ length: CALLS }, async (_, i) => {
          await after(start[i] as number);
          return router.call({ messages: [{ role: "user", content: `call ${i}` }], payer: wallet, scope: { crewId: null, agentId: null } });
        }),
      );
      roundMs.push(now() - t0);
      const refused = results.filter((r) => r.status === "rejected");
      if (refused.some((r) => (r.reason as { code?: string }).code !== "BUDGET_EXCEEDED")) throw new Error("a call failed for another reason than the budget");
      spentOurs.push(ledger.balance(PROVIDERS_WALLET) - providersBefore);
      allowedOurs.push(results.length - refused.length);
      if (ledger.balance(RESERVE_WALLET) !== 0) throw new Error("credits left in the reserve after a round");

      // The peer: check what was spent, call if under budget, add the real cost afterwards.
      let spent = 0;
      let allowed = 0;
      await Promise.all(
        Array.from({ length: CALLS }, async (_, i) => {
          await after(start[i] as number);
          if (spent >= BUDGET) return;
          allowed++;
          await new Promise((r) => setTimeout(r, latencyOf(i)));
          spent += pricing.cost("mock:bench", Math.ceil(`call ${i}`.length / 4), outputOf(i));
        }),
      );
      spentPeer.push(spent);
      allowedPeer.push(allowed);
    }
    await journal.commit();
    journal.close();
    await store.close();
    const over = spentOurs.filter((s) => s > BUDGET + 1e-9).length;
    const ours = summarize(spentOurs);
    const peer = summarize(spentPeer);
    log(`budget: ours spent max ${ours.max.toFixed(3)} of ${BUDGET}; check-then-spend max ${peer.max.toFixed(3)} (${(peer.max / BUDGET).toFixed(1)}×)`);
    return {
      title: `Budget under concurrency: ${formatNumber(CALLS)} concurrent calls against ${BUDGET} credits, ${rounds} rounds`,
      metrics: [
        check("budget.heldRounds", "rounds that spent at most the budget (ours)", rounds - over, rounds, "rounds"),
        metric("budget.ours.max", "  most spent in a round (ours), credits", ours.max, "credits"),
        metric("budget.ours.usedFraction", "  budget used, worst round (ours: all calls at once)", ours.min / BUDGET, "×"),
        metric("budget.ours.usedFraction.p50", "  budget used, p50 of rounds (ours)", ours.p50 / BUDGET, "×"),
        metric("budget.ours.calls", "  calls allowed per round (ours), p50", summarize(allowedOurs).p50, "calls"),
        metric("budget.peer.max", "peer (check-then-spend): most spent in a round, credits", peer.max, "credits"),
        metric("budget.peer.factor", "  peer overspend: most spent ÷ budget", peer.max / BUDGET, "×"),
        metric("budget.peer.calls", "  calls allowed per round (peer), p50", summarize(allowedPeer).p50, "calls"),
        metric("budget.peer.factor.p50", "  peer overspend, p50 of rounds", peer.p50 / BUDGET, "×"),
        metric("budget.round.p50", "1,000 calls reserved, made, settled and journaled, p50", summarize(roundMs).p50, "ms"),
      ],
      details: { spentOurs, spentPeer, allowedOurs, allowedPeer, roundMs },
    };
  });
}

async function routerCase({ quick }: { quick: boolean }): Promise<{ title: string; metrics: Metric[]; details: Record<string, unknown> }> {
  const n = quick ? 2_000 : 10_000;
  const tasks = quick ? 2_000 : 10_000;
  return withTempDir(async (dir) => {
    const { generateText } = await import("ai");
    const mock = new MockProvider();
    const model = mock.languageModel("mock:bench");
    const messages = [{ role: "user" as const, content: "hello there" }];
    // Warm both paths.
    for (let i = 0; i < 200; i++) await generateText({ model, messages, maxRetries: 0, maxOutputTokens: 100 });
    const bare: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = now();
      await generateText({ model, messages, maxRetries: 0, maxOutputTokens: 100 });
      bare.push((now() - t0) * 1_000);
    }
    const store = await createSqliteStore({ filename: join(dir, "router.db") });
    const journal = new Journal(store, (e) => log(String(e)));
    const ledger = new Ledger(journal);
    ledger.grant(WALLET, 1_000_000);
    const router = new ModelRouter({
      providers: [mock],
      pricing: new PricingTable({}, { input: 1, output: 2 }),
      rules: [
        { name: "confidential", when: { metadata: { confidential: true } }, model: "mock:local", fallbacks: [] },
        { name: "default", when: {}, model: "mock:bench", fallbacks: ["mock:other"] },
      ],
      guard: new BudgetGuard(ledger),
      callTimeoutMs: 10_000,
      cooldown: { failures: 3, ms: 30_000 },
      maxOutputTokens: 100,
    });
    const routed: number[] = [];
    for (let i = 0; i < 200; i++) await router.call({ messages, payer: WALLET, scope: { crewId: null, agentId: null } });
    for (let i = 0; i < n; i++) {
      const t0 = now();
      await router.call({ messages, payer: WALLET, scope: { crewId: "c", agentId: "a" }, taskId: "t" });
      routed.push((now() - t0) * 1_000);
    }
    await journal.commit();
    journal.close();
    await store.close();

    // Whole tasks: an llm agent per core's worth of concurrency, one model call per task.
    const factory = await createFactory({ dataDir: join(dir, "factory"), logger: { info: () => {}, warn: () => {}, error: (m) => log(m) } });
    factory.registerProfile({ name: "thinker", role: "Thinker", cognitiveLoadLimit: 50, runtime: { kind: "llm", systemPrompt: "You answer.", tools: [], maxOutputTokens: 100 }, pool: { spawnStrategy: "manual", queueDepth: 10_000 } });
    const { crew } = await factory.assembleCrew({ name: "bench", budget: 1_000_000, members: [{ profile: "thinker", count: 4 }] });
    gc?.();
    const t0 = now();
    const window = 200;
    let next = 0;
    let succeeded = 0;
    await Promise.all(
      Array.from({ length: window }, async () => {
        while (next < tasks) {
          next++;
          const task = await factory.submitTask({ role: "Thinker", crewId: crew.id, input: "hello" });
          const done = await factory.waitForTask(task.id, 60_000);
          if (done.state === "SUCCEEDED" && done.usage?.calls === 1) succeeded++;
        }
      }),
    );
    const taskMs = now() - t0;
    const usage = await factory.listLedger({ crewId: crew.id, kinds: ["usage"], limit: 10_000 });
    await factory.close();
    const b = summarize(bare);
    const r = summarize(routed);
    log(`router: generateText p50 ${b.p50.toFixed(0)} µs, routed p50 ${r.p50.toFixed(0)} µs; ${formatNumber(perSecond(tasks, taskMs))} llm tasks/s`);
    return {
      title: "Routing cost per call (mock provider, no latency) and llm tasks end to end",
      metrics: [
        metric("router.bare.p50", "AI SDK generateText on the mock, no router, p50", b.p50, "µs"),
        metric("router.routed.p50", "through the router (rules, reserve, call, settle, 3 ledger entries), p50", r.p50, "µs"),
        metric("router.overhead.p50", "  routing's own cost per call, p50", r.p50 - b.p50, "µs"),
        metric("router.routed.p99", "  through the router, p99", r.p99, "µs"),
        metric("router.tasks.rate", `llm tasks (1 model call each), ${window} in flight, stored`, perSecond(tasks, taskMs), "tasks/s"),
        check("router.tasks.ok", "  tasks SUCCEEDED with their usage recorded", succeeded, tasks, "tasks"),
        check("router.tasks.usage", "  usage entries in the ledger (first 10,000)", usage.length, Math.min(tasks, 10_000), "entries"),
      ],
      details: { calls: n, tasks },
    };
  });
}

export async function runModelCase(name: ModelCaseName, options: { quick: boolean }) {
  const start = now();
  const result = name === "budget" ? await budgetCase(options) : await routerCase(options);
  return { name, ...result, durationMs: now() - start, gcExposed: gc !== undefined };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { case: { type: "string" }, quick: { type: "boolean", default: false } } });
  if (!MODEL_CASE_NAMES.includes(values.case as ModelCaseName)) {
    process.stderr.write(`usage: node --expose-gc bench/models.ts --case ${MODEL_CASE_NAMES.join("|")} [--quick]\n`);
    process.exit(2);
  }
  const result = await runModelCase(values.case as ModelCaseName, { quick: values.quick });
  if (process.send !== undefined) process.send(result, undefined, {}, () => process.disconnect());
  else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
