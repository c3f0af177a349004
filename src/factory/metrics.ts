import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Agent } from "../core/agent.ts";
import type { Crew } from "../core/crew.ts";
import type { FactoryEvent } from "../core/events.ts";
import type { LedgerEntry } from "../core/ledger.ts";
import type { HealingStats } from "../core/stats.ts";
import type { Task } from "../core/task.ts";
import { FINAL_TASK_STATES } from "../core/task-states.ts";
import type { BudgetView } from "../models/budget-guard.ts";
import type { PoolView } from "../scheduler/pools/pool-manager.ts";

/** What the metrics read at each scrape (the rest they count as it happens). */
export interface MetricsSources {
  nodeId: string;
  agents(): Iterable<Agent>;
  crews(): Iterable<Crew>;
  pools(): PoolView[];
  healing(): HealingStats;
  budgets(): BudgetView[];
  /** Agents of this node asleep in the store when the metrics start (counted once, then followed by events). */
  hibernatedAtStart(): Promise<number>;
}

/** A model call as the router reports it. */
export interface ModelCallOutcome {
  model: string;
  /** `ok`, or the error code it failed with. */
  outcome: string;
  inputTokens: number;
  outputTokens: number;
  cost: number;
  ms: number;
}

/** Latency buckets, seconds: 100 µs to 2 minutes. */
const LATENCY = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** prom-client's default gauges whose names end in `_total` (promtool: only counters may). */
const MISNAMED_DEFAULTS = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"];

/**
 * The factory's Prometheus metrics (`GET /metrics`), per node (`node` label on every series).
 * What is counted as it happens — tasks, dispatches, model calls, ledger entries, HTTP requests,
 * heals, refusals, alerts — is fed by the wiring's hooks; what is a state — agents, crews,
 * queues, budgets — is read at each scrape, so a scrape costs one pass over this node's agents.
 */
export class FactoryMetrics {
  readonly registry = new Registry();
  /** Agents of this node asleep: counted in the store at the first scrape, then followed by events. */
  readonly #asleep: { atStart: number | undefined; since: number } = { atStart: undefined, since: 0 };

  readonly #tasksSubmitted: Counter;
  readonly #tasksFinished: Counter<"state">;
  readonly #taskSeconds: Histogram<"state">;
  readonly #queueWait: Histogram<"profile">;
  readonly #dispatch: Histogram;
  readonly #modelCalls: Counter<"model" | "outcome">;
  readonly #modelTokens: Counter<"model" | "direction">;
  readonly #modelCost: Counter<"model">;
  readonly #modelSeconds: Histogram<"model">;
  readonly #ledgerEntries: Counter<"kind">;
  readonly #ledgerCredits: Counter<"kind">;
  readonly #httpRequests: Counter<"method" | "route" | "status">;
  readonly #httpSeconds: Histogram<"method" | "route">;
  readonly #scaling: Counter<"profile" | "policy" | "direction">;
  readonly #denied: Counter<"code">;
  readonly #alerts: Counter<"alert">;
  readonly #storeErrors: Counter;
  readonly #busErrors: Counter;
  readonly #adoptions: Counter;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ node: sources.nodeId });
    collectDefaultMetrics({ register: this.registry, prefix: "agent_factory_" });
    for (const name of MISNAMED_DEFAULTS) this.registry.removeSingleMetric(`agent_factory_${name}`);

    const asleep = this.#asleep;
    new Gauge({
      name: "agent_factory_agents",
      help: "Live agents on this node, by state and profile (HIBERNATING: agent_factory_hibernated_agents)",
      labelNames: ["state", "profile"] as const,
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const agent of sources.agents()) {
          const key = `${agent.state}\u0000${agent.profile}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        for (const [key, n] of counts) {
          const [state, profile] = key.split("\u0000") as [string, string];
          this.set({ state, profile }, n);
        }
      },
    });
    new Gauge({
      name: "agent_factory_hibernated_agents",
      help: "Agents of this node asleep in the store (context saved, no runtime)",
      registers,
      async collect() {
        asleep.atStart ??= await sources.hibernatedAtStart().catch(() => 0);
        this.set(Math.max(0, asleep.atStart + asleep.since));
      },
    });
    new Gauge({
      name: "agent_factory_crews",
      help: "Crews this node runs, by state",
      labelNames: ["state"] as const,
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const crew of sources.crews()) counts.set(crew.state, (counts.get(crew.state) ?? 0) + 1);
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });
    // One read of the pools per scrape, shared by the gauges that show it.
    const pools = perScrape(() => sources.pools());
    const perPool = (name: string, help: string, value: (view: PoolView) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ["profile"] as const,
        registers,
        collect() {
          this.reset();
          for (const view of pools()) this.set({ profile: view.profile }, value(view));
        },
      });
    };
    perPool("agent_factory_queue_depth", "Tasks queued for each profile's pool", (v) => v.queued);
    perPool("agent_factory_pool_size", "Crewless live agents of each profile", (v) => v.size);
    perPool("agent_factory_pool_target", "The size each pool is kept at (warm size, forecast or the autoscaler's)", (v) => v.target);
    perPool("agent_factory_pool_utilization_ratio", "Busy share of each pool's agents, 0-1", (v) => v.utilization);

    // One read of the healer's tallies per scrape, shared by the metrics that show it; each
    // brings itself up to date in its own collect, so the first scrape is already complete.
    const healing = perScrape(() => sources.healing());
    const tally = (name: string, help: string, value: (h: HealingStats) => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(value(healing()));
        },
      });
    };
    new Counter({
      name: "agent_factory_heals_total",
      help: "Agents replaced under the same id, by cause",
      labelNames: ["kind"] as const,
      registers,
      collect() {
        this.reset();
        for (const [kind, n] of Object.entries(healing().replaced)) this.inc({ kind }, n);
      },
    });
    tally("agent_factory_agents_given_up_total", "Agents given up on (a crash loop)", (h) => h.givenUp);
    tally("agent_factory_hibernations_total", "Agents put to sleep", (h) => h.hibernated);
    tally("agent_factory_wakes_total", "Agents woken", (h) => h.woken);
    // Recent quantiles the healer keeps, as gauges: a `quantile` label belongs to summaries only.
    const recent = (name: string, help: string, value: (h: HealingStats) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(value(healing()) / 1000);
        },
      });
    };
    recent("agent_factory_heal_detection_p50_seconds", "A silent agent's last sign of life to UNHEALTHY: median of recent heals", (h) => h.detectionMs.p50);
    recent("agent_factory_heal_detection_p99_seconds", "A silent agent's last sign of life to UNHEALTHY: 99th percentile of recent heals", (h) => h.detectionMs.p99);
    recent("agent_factory_heal_replacement_p50_seconds", "UNHEALTHY to the replacement READY: median of recent heals", (h) => h.replacementMs.p50);
    recent("agent_factory_heal_replacement_p99_seconds", "UNHEALTHY to the replacement READY: 99th percentile of recent heals", (h) => h.replacementMs.p99);
    new Gauge({
      name: "agent_factory_agents_watched",
      help: "Agents watched for heartbeats or probes",
      registers,
      collect() {
        this.set(healing().watched);
      },
    });
    new Gauge({
      name: "agent_factory_budget_remaining_credits",
      help: "Credits left under each budget (key: global, crew:ID, agent:ID)",
      labelNames: ["key"] as const,
      registers,
      collect() {
        this.reset();
        for (const b of sources.budgets()) if (typeof b.remaining === "number") this.set({ key: b.key }, b.remaining);
      },
    });

    this.#tasksSubmitted = new Counter({ name: "agent_factory_tasks_submitted_total", help: "Tasks accepted by this node", registers });
    this.#tasksFinished = new Counter({ name: "agent_factory_tasks_finished_total", help: "Tasks that reached a final state on this node", labelNames: ["state"] as const, registers });
    this.#taskSeconds = new Histogram({ name: "agent_factory_task_duration_seconds", help: "Submit to final state", labelNames: ["state"] as const, buckets: LATENCY, registers });
    this.#queueWait = new Histogram({ name: "agent_factory_queue_wait_seconds", help: "Time a task waited in the queue before an agent took it, by the agent's profile", labelNames: ["profile"] as const, buckets: LATENCY, registers });
    this.#dispatch = new Histogram({ name: "agent_factory_dispatch_seconds", help: "A direct dispatch: choosing a free agent, assigning and starting the attempt", buckets: [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01], registers });
    this.#modelCalls = new Counter({ name: "agent_factory_model_calls_total", help: "Model calls through the router, by the model that answered and outcome", labelNames: ["model", "outcome"] as const, registers });
    this.#modelTokens = new Counter({ name: "agent_factory_model_tokens_total", help: "Tokens of model calls, in and out", labelNames: ["model", "direction"] as const, registers });
    this.#modelCost = new Counter({ name: "agent_factory_model_cost_credits_total", help: "Credits model calls cost", labelNames: ["model"] as const, registers });
    this.#modelSeconds = new Histogram({ name: "agent_factory_model_call_duration_seconds", help: "A model call through the router, fallbacks included", labelNames: ["model"] as const, buckets: LATENCY, registers });
    this.#ledgerEntries = new Counter({ name: "agent_factory_ledger_entries_total", help: "Ledger entries this node posted, by kind", labelNames: ["kind"] as const, registers });
    this.#ledgerCredits = new Counter({ name: "agent_factory_ledger_credits_total", help: "Credits moved by the ledger entries this node posted, by kind", labelNames: ["kind"] as const, registers });
    this.#httpRequests = new Counter({ name: "agent_factory_http_requests_total", help: "HTTP requests answered, by route template and status", labelNames: ["method", "route", "status"] as const, registers });
    this.#httpSeconds = new Histogram({ name: "agent_factory_http_request_duration_seconds", help: "HTTP request to response headers", labelNames: ["method", "route"] as const, buckets: LATENCY, registers });
    this.#scaling = new Counter({ name: "agent_factory_autoscaler_decisions_total", help: "Pool size changes, by policy and direction", labelNames: ["profile", "policy", "direction"] as const, registers });
    this.#denied = new Counter({ name: "agent_factory_security_denied_total", help: "Requests refused for who made them (recorded or not)", labelNames: ["code"] as const, registers });
    this.#alerts = new Counter({ name: "agent_factory_alerts_total", help: "Alerts raised, by alert", labelNames: ["alert"] as const, registers });
    this.#storeErrors = new Counter({ name: "agent_factory_store_errors_total", help: "Store writes that failed (retried)", registers });
    this.#busErrors = new Counter({ name: "agent_factory_bus_errors_total", help: "Bus errors (a networked bus: Redis)", registers });
    this.#adoptions = new Counter({ name: "agent_factory_node_adoptions_total", help: "Dead nodes this node took over", registers });
  }

  /** The exposition text and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Each event this node emits: what events say is counted here. */
  onEvent(event: FactoryEvent): void {
    switch (event.type) {
      case "task.state":
        if (event.to === "QUEUED" && event.data?.reason === "submitted") this.#tasksSubmitted.inc();
        break;
      case "agent.state":
        if (event.to === "HIBERNATING") this.#asleep.since++;
        else if (event.from === "HIBERNATING") this.#asleep.since--;
        break;
      case "pool.scaled": {
        const from = Number(event.data?.from ?? 0);
        const to = Number(event.data?.to ?? 0);
        this.#scaling.inc({ profile: String(event.data?.profile ?? ""), policy: String(event.data?.policy ?? ""), direction: to > from ? "up" : to < from ? "down" : "hold" });
        break;
      }
      case "security.denied":
        this.#denied.inc({ code: String(event.data?.code ?? "") }, 1 + Number(event.data?.suppressed ?? 0));
        break;
      case "node.adopted":
        this.#adoptions.inc();
        break;
      default:
        // Each alert counts once, when it fires (its resolution is the same alert ending).
        if (event.type.startsWith("alert.") && event.data?.state === "firing") this.#alerts.inc({ alert: event.type.slice("alert.".length) });
    }
  }

  /** A task reached a final state on this node. */
  taskFinished(task: Task): void {
    if (!FINAL_TASK_STATES.has(task.state)) return;
    this.#tasksFinished.inc({ state: task.state });
    const started = Date.parse(task.createdAt);
    const ended = task.finishedAt === null ? Date.now() : Date.parse(task.finishedAt);
    if (Number.isFinite(started) && ended >= started) this.#taskSeconds.observe({ state: task.state }, (ended - started) / 1000);
  }

  /** An agent took a task after it waited `waitedMs` in the queue (0: dispatched at once). */
  taskAssigned(agent: Agent, waitedMs: number): void {
    this.#queueWait.observe({ profile: agent.profile }, waitedMs / 1000);
  }

  /** A direct dispatch took this long, µs. */
  dispatched(us: number): void {
    this.#dispatch.observe(us / 1_000_000);
  }

  modelCall(call: ModelCallOutcome): void {
    this.#modelCalls.inc({ model: call.model, outcome: call.outcome });
    this.#modelSeconds.observe({ model: call.model }, call.ms / 1000);
    if (call.inputTokens > 0) this.#modelTokens.inc({ model: call.model, direction: "input" }, call.inputTokens);
    if (call.outputTokens > 0) this.#modelTokens.inc({ model: call.model, direction: "output" }, call.outputTokens);
    if (call.cost > 0) this.#modelCost.inc({ model: call.model }, call.cost);
  }

  ledgerPosted(entry: LedgerEntry): void {
    this.#ledgerEntries.inc({ kind: entry.kind });
    this.#ledgerCredits.inc({ kind: entry.kind }, entry.amount);
  }

  /** An answered request: `route` is the matched template (`/v1/agents/{id}`), never the raw path. */
  httpRequest(method: string, route: string, status: number, seconds: number): void {
    this.#httpRequests.inc({ method, route, status: String(status) });
    this.#httpSeconds.observe({ method, route }, seconds);
  }

  storeError(): void {
    this.#storeErrors.inc();
  }

  busError(): void {
    this.#busErrors.inc();
  }
}

/** `read`, called at most once per scrape (reused for 500 ms): the metrics of one scrape that show it share one read. */
function perScrape<T>(read: () => T): () => T {
  let last: { at: number; value: T } | undefined;
  return () => {
    const now = Date.now();
    if (last === undefined || now - last.at > 500) last = { at: now, value: read() };
    return last.value;
  };
}
