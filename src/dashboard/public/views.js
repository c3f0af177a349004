// The dashboard's views. Each reads what it shows from the API (aggregated or a page at a time,
// never every agent) and re-reads when the live event stream says something it shows changed.
import { html } from "htm/preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { get, streamEvents } from "./api.js";
import { Bars, TimeChart, bucketize } from "./chart.js";

const TASK_STATES = ["QUEUED", "ASSIGNED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "DEAD"];
const PAGE = 50;

const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "—");
const short = (id) => (id ? String(id).slice(0, 14) : "—");
const credits = (n) => (typeof n === "number" ? n.toLocaleString(undefined, { maximumFractionDigits: 4 }) : "—");
const json = (value) => (value === undefined ? "—" : JSON.stringify(value, null, 2));

/** Runs `load` now, again whenever `deps` change, and returns [data, error, reload]. */
function useLoad(load, deps) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (data) => live && setState({ data, error: undefined }),
      (error) => live && setState((s) => ({ data: s.data, error: error.message })),
    );
    return () => {
      live = false;
    };
  }, [...deps, nonce]);
  return [state.data, state.error, () => setNonce((n) => n + 1)];
}

function ErrorLine({ message }) {
  return message === undefined ? null : html`<p class="error" role="alert">${message}</p>`;
}

function Card({ label, value, testId, tone }) {
  return html`<div class=${`card ${tone ?? ""}`}><div class="card-value" data-testid=${testId}>${value ?? "—"}</div><div class="card-label">${label}</div></div>`;
}

/** One line per event, whatever its type (an `alert.*` the page has never heard of too). */
export function EventRow({ event }) {
  const who = [event.agentId && `agent ${short(event.agentId)}`, event.crewId && `crew ${short(event.crewId)}`, event.taskId && `task ${short(event.taskId)}`].filter(Boolean).join(" · ");
  const change = event.from || event.to ? `${event.from ?? "∅"} → ${event.to ?? "∅"}` : "";
  const data = event.data === undefined ? "" : JSON.stringify(event.data);
  return html`<tr class=${event.type.startsWith("alert.") ? "alert-row" : ""}>
    <td class="nowrap">${time(event.at)}</td><td class="nowrap"><code>${event.type}</code></td><td>${who}</td><td class="nowrap">${change}</td><td class="data">${data.length > 160 ? `${data.slice(0, 160)}…` : data}</td>
  </tr>`;
}

export function FleetView({ stats, history, feed, alerts, limited }) {
  if (limited)
    return html`<div class="view"><p class="muted" data-testid="limited">This key is limited to crews: the fleet's counts span every crew, so they are not shown. The Crews and Tasks tabs show your crews' things; their events follow below.</p>
      <section class="panel feed"><h3>Live events of your crews</h3><table data-testid="event-feed"><tbody>${feed.slice(0, 100).map((e, i) => html`<${EventRow} key=${i} event=${e} />`)}</tbody></table></section></div>`;
  if (stats === undefined) return html`<p class="muted">Counting the fleet…</p>`;
  const alive = stats.nodes.filter((n) => n.alive).length;
  const busy = stats.agents.byState.BUSY ?? 0;
  return html`<div class="view" data-testid="fleet-view">
    <div class="cards">
      <${Card} label="agents (live)" value=${stats.agents.total.toLocaleString()} testId="agent-count" />
      <${Card} label="busy" value=${busy.toLocaleString()} />
      <${Card} label="crews" value=${stats.crews.total.toLocaleString()} testId="crew-count" />
      <${Card} label="tasks queued" value=${stats.tasks.queued.toLocaleString()} testId="queued-count" />
      <${Card} label="tasks running" value=${stats.tasks.running.toLocaleString()} testId="running-count" />
      <${Card} label="nodes alive" value=${`${alive} / ${stats.nodes.length}`} />
      <${Card} label="alerts" value=${alerts.length} tone=${alerts.length > 0 ? "warn" : ""} testId="alert-count" />
    </div>
    ${stats.unreachable.length > 0 ? html`<p class="error" role="alert" data-testid="unreachable">Not counted: node${stats.unreachable.length > 1 ? "s" : ""} ${stats.unreachable.join(", ")} did not answer.</p>` : null}
    ${alerts.length > 0
      ? html`<section class="panel alerts" data-testid="alerts"><h3>Alerts</h3><table><tbody>${alerts.slice(0, 10).map((e) => html`<${EventRow} key=${e.seq ?? e.at} event=${e} />`)}</tbody></table></section>`
      : null}
    <div class="grid">
      <${Bars} title="Agents by state" counts=${stats.agents.byState} testId="by-state" />
      <${Bars} title="Agents by profile" counts=${stats.agents.byProfile} testId="by-profile" />
      <${Bars} title="Agents by node" counts=${stats.agents.byNode} />
      <${Bars} title="Agents by crew" counts=${stats.agents.byCrew} extra=${stats.agents.otherCrews} />
    </div>
    <section class="panel">
      <${TimeChart} title="Agents and tasks (since this page opened)" testId="fleet-chart"
        x=${history.x} series=${[{ label: "agents", values: history.agents }, { label: "busy", values: history.busy }, { label: "queued", values: history.queued }, { label: "running", values: history.running }]} />
    </section>
    ${stats.nodes.length > 1
      ? html`<section class="panel"><h3>Nodes</h3><table><thead><tr><th>node</th><th>alive</th><th>agents</th><th>load</th><th>capacity</th></tr></thead>
        <tbody>${stats.nodes.map((n) => html`<tr key=${n.id}><td><code>${n.id}</code></td><td>${n.alive ? "yes" : "no"}</td><td>${n.agents}</td><td>${n.load}</td><td>${n.capacity}</td></tr>`)}</tbody></table></section>`
      : null}
    <section class="panel feed"><h3>Live events</h3>
      <table data-testid="event-feed"><thead><tr><th>at</th><th>type</th><th>about</th><th>change</th><th>data</th></tr></thead>
        <tbody>${feed.slice(0, 100).map((e) => html`<${EventRow} key=${`${e.nodeId ?? ""}${e.seq}${e.at}`} event=${e} />`)}</tbody></table>
    </section>
  </div>`;
}

export function CrewsView({ tick }) {
  const [cursor, setCursor] = useState(undefined);
  const [selected, setSelected] = useState(undefined);
  const [page, error] = useLoad(() => get(`/v1/crews?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`), [cursor, tick]);
  return html`<div class="view split">
    <section class="panel list"><h3>Crews</h3><${ErrorLine} message=${error} />
      <table><thead><tr><th>name</th><th>state</th><th>members</th><th>budget</th></tr></thead>
      <tbody>${(page?.items ?? []).map((c) => html`<tr key=${c.id} class=${selected === c.id ? "selected" : "clickable"} onClick=${() => setSelected(c.id)}><td>${c.name}</td><td>${c.state}</td><td>${c.agentIds.length}</td><td>${credits(c.budget)}</td></tr>`)}</tbody></table>
      <${Pager} cursor=${cursor} next=${page?.nextCursor} onPage=${setCursor} />
    </section>
    ${selected === undefined ? html`<p class="muted">Pick a crew.</p>` : html`<${CrewDetail} key=${selected} id=${selected} tick=${tick} />`}
  </div>`;
}

function CrewDetail({ id, tick }) {
  const [crew, error] = useLoad(() => get(`/v1/crews/${encodeURIComponent(id)}`), [id, tick]);
  const [messages] = useLoad(() => get(`/v1/crews/${encodeURIComponent(id)}/messages?limit=50`), [id, tick]);
  const [context] = useLoad(() => get(`/v1/crews/${encodeURIComponent(id)}/context`), [id, tick]);
  const [budgets] = useLoad(() => get(`/v1/budgets`), [id, tick]);
  const [spend] = useLoad(() => get(`/v1/ledger/report?by=hour&crewId=${encodeURIComponent(id)}`), [id, tick]);
  const budget = budgets?.items?.find((b) => b.key === `crew:${id}`);
  const points = spend?.rows ?? [];
  return html`<section class="panel detail"><${ErrorLine} message=${error} />
    ${crew === undefined ? null : html`<h3>${crew.name} <small>${crew.state}</small></h3>
      <p>wallet <code>${crew.walletAddress}</code> · budget ${budget ? `${credits(budget.remaining)} left of ${credits(budget.credits)} (spent ${credits(budget.spent)})` : credits(crew.budget)} · spent ${credits(spend?.total?.amount)}</p>
      <h4>Members</h4>
      <table><thead><tr><th>name</th><th>profile</th><th>state</th><th>load</th><th>done / failed</th></tr></thead>
      <tbody>${crew.agents.map((a) => html`<tr key=${a.id}><td>${a.name}</td><td>${a.profile}</td><td>${a.state}</td><td>${a.load}/${a.cognitiveLoadLimit}</td><td>${a.stats.completed} / ${a.stats.failed}</td></tr>`)}</tbody></table>
      ${points.length > 0 ? html`<${TimeChart} title="Spend per hour" x=${points.map((r) => Date.parse(`${r.key}:00:00Z`) / 1000)} series=${[{ label: "credits", values: points.map((r) => r.amount) }]} bars=${true} padSec=${3600} />` : null}
      <h4>Bus messages</h4>
      <table><tbody>${(messages?.items ?? []).slice(-50).reverse().map((m, i) => html`<tr key=${i}><td class="nowrap">${time(m.at)}</td><td><code>${m.topic ?? ""}</code></td><td class="data">${JSON.stringify(m.payload ?? m.data ?? m)}</td></tr>`)}</tbody></table>
      <h4>Context</h4><pre>${json(context)}</pre>`}
  </section>`;
}

function Pager({ cursor, next, onPage }) {
  return html`<div class="pager">
    <button disabled=${cursor === undefined} onClick=${() => onPage(undefined)}>newest</button>
    <button disabled=${!next} onClick=${() => onPage(next)}>older →</button>
  </div>`;
}

export function TasksView({ tick, progress }) {
  const [state, setState] = useState("");
  const [crewId, setCrewId] = useState("");
  const [cursor, setCursor] = useState(undefined);
  const [selected, setSelected] = useState(undefined);
  const query = `limit=${PAGE}${state ? `&state=${state}` : ""}${crewId ? `&crewId=${encodeURIComponent(crewId)}` : ""}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
  // The first page follows the live stream; an older page stays put while it is read.
  const [page, error] = useLoad(() => get(`/v1/tasks?${query}`), [query, cursor === undefined ? tick : 0]);
  const items = page?.items ?? [];
  return html`<div class="view split">
    <section class="panel list"><h3>Tasks</h3>
      <div class="filters">
        <label>state <select data-testid="task-state-filter" value=${state} onChange=${(e) => (setCursor(undefined), setState(e.currentTarget.value))}>
          <option value="">all</option>${TASK_STATES.map((s) => html`<option value=${s}>${s}</option>`)}</select></label>
        <label>crew <input placeholder="crew id" value=${crewId} onChange=${(e) => (setCursor(undefined), setCrewId(e.currentTarget.value.trim()))} /></label>
      </div>
      <${ErrorLine} message=${error} />
      <table data-testid="task-table"><thead><tr><th>task</th><th>state</th><th>progress</th><th>attempts</th><th>agent</th><th>created</th></tr></thead>
      <tbody>${items.map((t) => {
        const p = progress.get(t.id);
        return html`<tr key=${t.id} data-task-id=${t.id} class=${selected === t.id ? "selected" : "clickable"} onClick=${() => setSelected(t.id)}>
          <td><code>${short(t.id)}</code>${t.parentTaskId ? html` <small>sub</small>` : null}</td><td class=${`state-${t.state}`}>${t.state}</td>
          <td class="progress">${p && !["SUCCEEDED", "FAILED", "CANCELLED", "DEAD"].includes(t.state) ? `${p.fraction === null ? "…" : `${Math.round(p.fraction * 100)} %`}${p.message ? ` ${p.message}` : ""}` : ""}</td>
          <td>${t.attempts}/${t.maxAttempts}</td><td><code>${short(t.agentId)}</code></td><td class="nowrap">${time(t.createdAt)}</td></tr>`;
      })}</tbody></table>
      <${Pager} cursor=${cursor} next=${page?.nextCursor} onPage=${setCursor} />
    </section>
    ${selected === undefined ? html`<p class="muted">Pick a task.</p>` : html`<${TaskDetail} key=${selected} id=${selected} tick=${tick} siblings=${items} onPick=${setSelected} />`}
  </div>`;
}

function TaskDetail({ id, tick, siblings, onPick }) {
  const [task, error] = useLoad(() => get(`/v1/tasks/${encodeURIComponent(id)}`), [id, tick]);
  const [history, setHistory] = useState([]);
  // The task's own events, replayed from the start: its attempts (each RUNNING, on which agent), its progress, its end.
  useEffect(() => {
    const seen = [];
    return streamEvents(`?taskId=${encodeURIComponent(id)}&after=0`, { onEvent: (e) => (seen.push(e), setHistory([...seen])), once: false });
  }, [id]);
  if (task === undefined) return html`<section class="panel detail"><${ErrorLine} message=${error} /></section>`;
  const attempts = history.filter((e) => e.type === "task.state" && e.to === "RUNNING");
  const children = siblings.filter((t) => t.parentTaskId === id);
  return html`<section class="panel detail" data-testid="task-detail"><${ErrorLine} message=${error} />
    <h3><code>${task.id}</code> <small class=${`state-${task.state}`}>${task.state}</small></h3>
    <p>${task.role ?? task.profile ?? "any"} · crew ${short(task.crewId)} · priority ${task.priority} · attempts ${task.attempts}/${task.maxAttempts}
      ${task.traceId ? html` · trace <code data-testid="trace-id">${task.traceId}</code>` : null}
      ${task.usage ? ` · ${task.usage.calls} model calls, ${task.usage.inputTokens + task.usage.outputTokens} tokens, ${credits(task.usage.cost)} credits` : ""}</p>
    ${task.parentTaskId ? html`<p>parent: <a href="#" onClick=${(e) => (e.preventDefault(), onPick(task.parentTaskId))}><code>${task.parentTaskId}</code></a></p>` : null}
    ${children.length > 0 ? html`<h4>Sub-tasks</h4><ul class="tree">${children.map((c) => html`<li key=${c.id}><a href="#" onClick=${(e) => (e.preventDefault(), onPick(c.id))}><code>${short(c.id)}</code></a> ${c.state}</li>`)}</ul>` : null}
    <h4>Attempts</h4>
    <ol>${attempts.map((e, i) => html`<li key=${i}>${time(e.at)} on agent <code>${short(e.agentId)}</code></li>`)}</ol>
    <h4>${task.error ? "Error" : "Result"}</h4><pre>${json(task.error ?? task.result)}</pre>
    <h4>Input</h4><pre>${json(task.input)}</pre>
    <h4>History</h4>
    <table><tbody>${history.map((e, i) => html`<${EventRow} key=${i} event=${e} />`)}</tbody></table>
  </section>`;
}

export function PoolsView({ tick }) {
  const [pools, error] = useLoad(() => get("/v1/pools"), [tick]);
  const items = pools?.items ?? [];
  const chart = useMemo(() => {
    const decisions = items.flatMap((p) => p.decisions.map((d) => ({ ...d, profile: p.profile, t: Date.parse(d.at) / 1000 })));
    const scaled = items.filter((p) => p.decisions.length > 0);
    // Each pool's target as steps: its size before its first decision, each decision's new size,
    // and the target now — so even one decision draws as a change.
    const now = Date.now() / 1000;
    const points = scaled.map((p) => {
      const own = decisions.filter((d) => d.profile === p.profile).sort((a, b) => a.t - b.t);
      return new Map([[own[0].t - 1, own[0].from], ...own.map((d) => [d.t, d.to]), [now, p.target]]);
    });
    const x = [...new Set(points.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
    const series = scaled.map((p, i) => ({ label: `${p.profile} target`, values: x.map((t) => points[i].get(t) ?? null) }));
    return { x, series, decisions: decisions.sort((a, b) => b.t - a.t) };
  }, [pools]);
  return html`<div class="view">
    <section class="panel"><h3>Pools</h3><${ErrorLine} message=${error} />
      <table data-testid="pool-table"><thead><tr><th>profile</th><th>strategy</th><th>size</th><th>target</th><th>spawning</th><th>in crews</th><th>queued</th><th>running</th><th>utilization</th><th>wait p50 / p99</th></tr></thead>
      <tbody>${items.map((p) => html`<tr key=${p.profile}><td>${p.profile} <small>v${p.version}</small></td><td>${p.spawnStrategy}</td><td>${p.size}</td><td>${p.target}</td><td>${p.spawning}</td><td>${p.inCrews}</td><td>${p.queued}</td><td>${p.running}</td>
        <td><span class="bar small"><span style=${{ width: `${Math.round(100 * p.utilization)}%` }}></span></span> ${Math.round(100 * p.utilization)} %</td><td>${p.wait.p50Ms} / ${p.wait.p99Ms} ms</td></tr>`)}</tbody></table>
    </section>
    <section class="panel">
      ${chart.series.length > 0 ? html`<${TimeChart} title="Scaling decisions: target size over time" x=${chart.x} series=${chart.series} stepped=${true} testId="scaling-chart" />` : html`<p class="muted">No scaling decision yet.</p>`}
      <table><tbody>${chart.decisions.slice(0, 30).map((d, i) => html`<tr key=${i}><td class="nowrap">${time(d.at)}</td><td>${d.profile}</td><td>${d.policy}</td><td>${d.from} → ${d.to}</td><td>${d.reason}</td></tr>`)}</tbody></table>
    </section>
  </div>`;
}

/** Hourly rows of a report as one series over `x` (the union of hours). */
function hourly(rows) {
  return new Map(rows.map((r) => [Date.parse(`${r.key}:00:00Z`) / 1000, r.amount]));
}

export function LedgerView({ tick }) {
  const [models, modelsError] = useLoad(() => get("/v1/models"), [tick]);
  const [budgets] = useLoad(() => get("/v1/budgets"), [tick]);
  const [data, error] = useLoad(async () => {
    const [byModel, byCrew, byHour] = await Promise.all([get("/v1/ledger/report?by=model"), get("/v1/ledger/report?by=crew"), get("/v1/ledger/report?by=hour")]);
    // Over time for the few largest: one hourly report each, never one per model or crew.
    const topModels = byModel.rows.filter((r) => r.key !== null).slice(0, 4);
    const topCrews = byCrew.rows.filter((r) => r.key !== null).slice(0, 4);
    const [modelHours, crewHours] = await Promise.all([
      Promise.all(topModels.map((r) => get(`/v1/ledger/report?by=hour&model=${encodeURIComponent(r.key)}`))),
      Promise.all(topCrews.map((r) => get(`/v1/ledger/report?by=hour&crewId=${encodeURIComponent(r.key)}`))),
    ]);
    return { byModel, byCrew, byHour, topModels, topCrews, modelHours, crewHours };
  }, [tick]);
  const overTime = (reports, labels) => {
    const maps = reports.map((r) => hourly(r.rows));
    const x = [...new Set(maps.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
    return { x, series: maps.map((m, i) => ({ label: labels[i], values: x.map((t) => m.get(t) ?? 0) })) };
  };
  const total = data === undefined ? undefined : overTime([data.byHour], ["all"]);
  const perModel = data === undefined ? undefined : overTime(data.modelHours, data.topModels.map((r) => r.key));
  const perCrew = data === undefined ? undefined : overTime(data.crewHours, data.topCrews.map((r) => r.key));
  return html`<div class="view">
    <${ErrorLine} message=${error ?? modelsError} />
    ${data === undefined ? null : html`<div class="cards">
      <${Card} label="spent (all time)" value=${credits(data.byHour.total.amount)} testId="spent-total" />
      <${Card} label="model calls (usage entries)" value=${data.byHour.total.entries.toLocaleString()} />
      <${Card} label="tokens in / out" value=${`${data.byHour.total.tokensIn.toLocaleString()} / ${data.byHour.total.tokensOut.toLocaleString()}`} />
    </div>
    <div class="grid">
      <section class="panel"><${TimeChart} title="Spend per hour" x=${total.x} series=${total.series} bars=${true} padSec=${3600} testId="spend-chart" /></section>
      <section class="panel">${perModel.series.length > 0 ? html`<${TimeChart} title="Spend per hour by model" x=${perModel.x} series=${perModel.series} padSec=${3600} testId="spend-by-model-chart" />` : html`<p class="muted">No model spend yet.</p>`}</section>
      <section class="panel">${perCrew.series.length > 0 ? html`<${TimeChart} title="Spend per hour by crew" x=${perCrew.x} series=${perCrew.series} padSec=${3600} />` : html`<p class="muted">No crew spend yet.</p>`}</section>
      <${Bars} title="Spend by model (credits, all time)" counts=${Object.fromEntries(data.byModel.rows.map((r) => [r.key ?? "", r.amount]))} />
      <${Bars} title="Spend by crew (credits, all time)" counts=${Object.fromEntries(data.byCrew.rows.map((r) => [r.key ?? "", r.amount]))} />
    </div>`}
    <section class="panel"><h3>Budgets</h3>
      <table><thead><tr><th>budget</th><th>limit</th><th>spent</th><th>reserved</th><th>remaining</th><th>resets</th></tr></thead>
      <tbody>${(budgets?.items ?? []).map((b) => html`<tr key=${b.key} class=${b.remaining < 0.1 * b.credits ? "warn" : ""}><td><code>${b.key}</code></td><td>${credits(b.credits)}</td><td>${credits(b.spent)}</td><td>${credits(b.reserved)}</td><td>${credits(b.remaining)}</td><td>${b.resetsAt ? time(b.resetsAt) : "never"}</td></tr>`)}</tbody></table>
    </section>
    ${models === undefined ? null : html`<section class="panel"><h3>Models</h3>
      <table><thead><tr><th>provider</th><th>kind</th><th>calls</th><th>failures</th><th>cooling down until</th></tr></thead>
      <tbody>${models.providers.map((p) => html`<tr key=${p.name}><td>${p.name}</td><td>${p.kind}</td><td>${p.calls}</td><td>${p.failures}</td><td>${p.coolingDownUntil ? time(p.coolingDownUntil) : "—"}</td></tr>`)}</tbody></table>
      <h4>Routing rules</h4>
      <table><tbody>${models.rules.map((r) => html`<tr key=${r.name}><td>${r.name}</td><td><code>${JSON.stringify(r.when)}</code></td><td>${r.model}</td><td>${r.fallbacks.join(", ")}</td></tr>`)}</tbody></table>
    </section>`}
  </div>`;
}

/** A heal, as the event stream tells it: an agent found unhealthy, or a dead node's agents adopted. */
export const isHeal = (e) => (e.type === "agent.state" && e.to === "UNHEALTHY") || e.type === "node.adopted";

export function HealingView({ stats, heals }) {
  const h = stats?.health;
  const chart = useMemo(() => bucketize(heals, (e) => (e.type === "node.adopted" ? "node adopted" : "agent unhealthy")), [heals]);
  return html`<div class="view">
    ${h === undefined ? null : html`<div class="cards">
      <${Card} label="watched" value=${h.watched} />
      <${Card} label="replaced: lost" value=${h.replaced.lost} testId="replaced-lost" />
      <${Card} label="replaced: silent" value=${h.replaced.silent} />
      <${Card} label="replaced: stuck" value=${h.replaced.stuck} />
      <${Card} label="replaced: quality" value=${h.replaced.quality} />
      <${Card} label="given up" value=${h.givenUp} tone=${h.givenUp > 0 ? "warn" : ""} />
      <${Card} label="detection p50 / p99" value=${`${h.detectionMs.p50} / ${h.detectionMs.p99} ms`} />
      <${Card} label="replacement p50 / p99" value=${`${h.replacementMs.p50} / ${h.replacementMs.p99} ms`} />
      <${Card} label="hibernated / woken" value=${`${h.hibernated} / ${h.woken}`} />
    </div>`}
    <section class="panel"><${TimeChart} title="Heals per minute (last hour, from the event stream)" x=${chart.x} series=${chart.series.length > 0 ? chart.series : [{ label: "heals", values: chart.x.map(() => 0) }]} bars=${true} testId="heal-chart" /></section>
    <section class="panel"><h3>Recent heals</h3><table data-testid="heal-list"><tbody>${heals.slice(-50).reverse().map((e, i) => html`<${EventRow} key=${i} event=${e} />`)}</tbody></table></section>
  </div>`;
}
