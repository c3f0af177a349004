import type { Crew } from "../core/crew.ts";
import { Hook } from "../core/hook.ts";
import { FactoryError } from "../core/errors.ts";
import { fromMicro, toMicro, type LedgerEntry } from "../core/ledger.ts";
import type { Store } from "../core/ports/store.ts";
import { parseWith } from "../core/schemas/parse.ts";
import type { Ledger } from "../economics/ledger.ts";
import type { PricingTable } from "../economics/pricing.ts";
import type { AgentRegistry } from "../state/agent-registry.ts";
import type { Journal } from "../state/journal.ts";
import { budgetScopeOf, type BudgetGuard, type BudgetView } from "./budget-guard.ts";
import { BudgetConfigSchema, type ModelsConfig } from "./models-config.ts";
import type { RouteDecision } from "./policy.ts";
import type { ModelRouter } from "./router.ts";

export interface BudgetsDeps {
  guard: BudgetGuard;
  router: ModelRouter;
  ledger: Ledger;
  registry: AgentRegistry;
  /** Live crews (the crew manager satisfies it): a crew wallet's balance against its budget. */
  crews: { get(id: string): Pick<Crew, "walletAddress" | "budget"> | undefined };
  journal: Journal;
  store: Store;
  /** Budgets set at start in the models config (they win over stored ones on credits and period). */
  configured: ModelsConfig["budgets"];
}

/** Budget limits as operators set them, what is left of them, and which model a call would get. */
export class Budgets {
  readonly #deps: BudgetsDeps;

  constructor(deps: BudgetsDeps) {
    this.#deps = deps;
  }

  /** Every budget limit as it stands. */
  list(): BudgetView[] {
    return this.#deps.guard.list();
  }

  /**
   * Sets a budget: `global`, `crew:<id>` or `agent:<id>`, in credits, optionally per period.
   * Kept in the store; what its window has spent survives a restart (summed from the ledger).
   */
  async set(key: string, input: { credits: number; periodMs?: number | null }): Promise<BudgetView> {
    const { guard, store } = this.#deps;
    const budget = parseWith(BudgetConfigSchema, { key, credits: input.credits, periodMs: input.periodMs ?? null }, "budget");
    await this.#requireOwner(budget.key);
    const view = guard.setLimit(budget);
    await store.putBudget({ ...budget, windowStart: new Date(guard.windowStart(budget.key) as number).toISOString() });
    this.changed.emit(budget.key);
    return view;
  }

  async remove(key: string): Promise<void> {
    if (!this.#deps.guard.removeLimit(key)) throw new FactoryError("NOT_FOUND", `no budget '${key}'`, { field: "key" });
    await this.#deps.store.deleteBudget(key);
    this.changed.emit(key);
  }

  /** A model call's usage another node of the cluster stored: spent under the limits this node keeps too. */
  noteRemoteUsage(entry: LedgerEntry): void {
    if (entry.kind === "usage") this.#deps.guard.addSpent({ crewId: entry.crewId, agentId: entry.agentId }, toMicro(entry.amount));
  }

  /** A budget was set or removed here (the other nodes of a cluster reload theirs). */
  readonly changed = new Hook<[key: string]>();

  /**
   * Another node set or removed a budget: every limit as the store holds it now (a removed one
   * goes, configured ones stay), with what its window spent summed again from the ledger.
   */
  async reload(): Promise<void> {
    const { store, guard } = this.#deps;
    const stored = await store.listBudgets();
    const keys = new Set(stored.map((b) => b.key));
    const configured = new Set((this.#deps.configured ?? []).map((b) => b.key));
    for (const view of guard.list()) if (!keys.has(view.key) && !configured.has(view.key)) guard.removeLimit(view.key);
    for (const budget of stored) {
      if (configured.has(budget.key)) continue; // this node's configuration wins, as at start
      const limit = { key: budget.key, credits: budget.credits, periodMs: budget.periodMs };
      // A limit this node keeps already: new credits or period, what it counted spent stays (its
      // own calls, and the others' as they were stored). A new one: spent summed from the ledger.
      if (guard.view(budget.key) !== undefined) {
        guard.setLimit(limit);
        continue;
      }
      const windowStart = Date.parse(budget.windowStart);
      const rows = await store.ledgerReport({ by: "day", kind: "usage", ...budgetScopeOf(budget.key), from: budget.windowStart });
      guard.setLimit(limit, { windowStart, spent: fromMicro(rows.reduce((n, r) => n + toMicro(r.amount), 0)) });
    }
  }

  /** A crew or agent budget names one that exists (live, asleep or ended: its past spend counts). */
  async #requireOwner(key: string): Promise<void> {
    const { crewId, agentId } = budgetScopeOf(key);
    if (crewId !== undefined) await this.#requireCrew(crewId);
    if (agentId !== undefined && this.#deps.registry.get(agentId) === undefined && (await this.#deps.store.getAgent(agentId)) === undefined) {
      throw new FactoryError("AGENT_NOT_FOUND", `no agent with id '${agentId}'`, { field: "key" });
    }
  }

  async #requireCrew(crewId: string): Promise<void> {
    if (this.#deps.crews.get(crewId) !== undefined) return;
    const stored = await this.#deps.journal.read(() => this.#deps.store.getCrew(crewId));
    if (stored === undefined) throw new FactoryError("CREW_NOT_FOUND", `no crew with id '${crewId}'`);
  }

  /**
   * At start: the stored budgets and the configured ones (which win on credits and period), each
   * with what its current window has spent, summed from the ledger. A configured budget keeps
   * its stored window unless its period changed, so a restart never hands out a fresh budget.
   */
  async restore(): Promise<void> {
    const { store, guard } = this.#deps;
    const stored = new Map((await store.listBudgets()).map((b) => [b.key, b] as const));
    const now = Date.now();
    const budgets = new Map<string, { key: string; credits: number; periodMs: number | null; windowStart: number }>();
    for (const b of stored.values()) budgets.set(b.key, { ...b, windowStart: Date.parse(b.windowStart) });
    for (const b of this.#deps.configured ?? []) {
      const before = stored.get(b.key);
      budgets.set(b.key, { ...b, windowStart: before !== undefined && before.periodMs === b.periodMs ? Date.parse(before.windowStart) : now });
    }
    for (const budget of budgets.values()) {
      let windowStart = budget.windowStart;
      if (budget.periodMs !== null && now - windowStart >= budget.periodMs) windowStart = now - ((now - windowStart) % budget.periodMs);
      const rows = await store.ledgerReport({ by: "day", kind: "usage", ...budgetScopeOf(budget.key), from: new Date(windowStart).toISOString() });
      guard.setLimit(budget, { windowStart, spent: fromMicro(rows.reduce((n, r) => n + toMicro(r.amount), 0)) });
      const changed = stored.get(budget.key);
      if (changed === undefined || changed.credits !== budget.credits || changed.periodMs !== budget.periodMs || Date.parse(changed.windowStart) !== windowStart) {
        await store.putBudget({ key: budget.key, credits: budget.credits, periodMs: budget.periodMs, windowStart: new Date(windowStart).toISOString() });
      }
    }
  }

  /**
   * What is left of the tightest budget a call for this crew and agent is under, as a fraction
   * (0–1): the crew wallet against the budget it was given, and every limit that applies. Null
   * when none applies (the rules then treat the budget as full).
   */
  fraction(crewId: string | null, agentId: string | null): number | null {
    const crew = crewId === null ? undefined : this.#deps.crews.get(crewId);
    const wallet = crew !== undefined && crew.budget !== null && crew.budget > 0 ? this.#deps.ledger.balance(crew.walletAddress) / crew.budget : null;
    const limits = this.#deps.guard.remainingFraction({ crewId, agentId });
    if (wallet === null && limits === null) return null;
    return Math.max(0, Math.min(1, wallet ?? 1, limits ?? 1));
  }

  /**
   * Which model a call with this metadata and input size would go to, by which rule and why.
   * For a crew, the remaining budget is its wallet's balance against the budget it was given.
   */
  async route(request: { metadata?: Record<string, unknown>; estimatedInputTokens: number; crewId?: string; agentId?: string }): Promise<RouteDecision & { budgetFraction: number | null }> {
    if (request.crewId !== undefined) await this.#requireCrew(request.crewId);
    const budgetFraction = this.fraction(request.crewId ?? null, request.agentId ?? null);
    const decision = this.#deps.router.explain({ ...(request.metadata === undefined ? {} : { metadata: request.metadata }), estimatedInputTokens: request.estimatedInputTokens, budgetFraction });
    return { ...decision, budgetFraction };
  }

  /** Providers (with their failure counts and cooldowns), prices and routing rules. */
  info(): { providers: ReturnType<ModelRouter["providers"]>; rules: ModelRouter["rules"]; pricing: ReturnType<PricingTable["table"]>; calls: number; uncoveredCredits: number } {
    const router = this.#deps.router;
    return { providers: router.providers(), rules: router.rules, pricing: router.pricing.table(), ...router.stats() };
  }
}
