// The dashboard's shell: sign-in, the live event stream, the fleet counts, and the tabs.
import { html, render } from "htm/preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { clearKey, get, getKey, keyRequired, setKey, streamEvents, takeKeyFromFragment, Unauthorized } from "./api.js";
import { CrewsView, FleetView, HealingView, LedgerView, PoolsView, TasksView, isHeal } from "./views.js";

const TABS = [
  ["fleet", "Fleet"],
  ["crews", "Crews"],
  ["tasks", "Tasks"],
  ["pools", "Pools"],
  ["ledger", "Models & ledger"],
  ["healing", "Healing"],
];
const FEED = 300;
const HISTORY = 600;
/** Events are applied in batches: a fleet of 100,000 agents can emit thousands a second. */
const FLUSH_MS = 200;
/** After events, the counts are re-read at most this often. */
const STATS_MS = 500;
/** After events, the open view re-reads its page at most this often (a busy fleet must not turn into a request storm). */
const VIEW_MS = 750;

function SignIn({ onKey, refused }) {
  const [value, setValue] = useState("");
  return html`<form class="signin" data-testid="key-prompt" onSubmit=${(e) => (e.preventDefault(), value.trim() && onKey(value.trim()))}>
    <h2>Agent Factory</h2>
    <p>This factory needs an operator key (a viewer key is enough). It stays in this tab only.</p>
    ${refused ? html`<p class="error" role="alert">That key was refused.</p>` : null}
    <input type="password" name="key" autocomplete="off" placeholder="afk_…" value=${value} onInput=${(e) => setValue(e.currentTarget.value)} autofocus />
    <button type="submit">Sign in</button>
    <p class="muted">Or open <code>/ui#key=YOUR_KEY</code>.</p>
  </form>`;
}

function Dashboard({ onUnauthorized }) {
  const [tab, setTab] = useState("fleet");
  const [stats, setStats] = useState(undefined);
  const [history, setHistory] = useState({ x: [], agents: [], busy: [], queued: [], running: [] });
  const [feed, setFeed] = useState([]);
  const [alerts, setAlerts] = useState([]);
  const [heals, setHeals] = useState([]);
  const [progress, setProgress] = useState(new Map());
  const [tick, setTick] = useState(0);
  const [connected, setConnected] = useState(false);
  const [error, setError] = useState(undefined);
  const [limited, setLimited] = useState(false);
  const pending = useRef([]);
  const statsDue = useRef(false);
  const viewDue = useRef(false);

  const fail = (e) => (e instanceof Unauthorized ? onUnauthorized() : setError(e.message));
  const limitedRef = useRef(false);
  const applyStats = (s) => {
    setStats(s);
    setError(undefined);
    setHistory((h) => {
      const keep = (a, v) => [...a, v].slice(-HISTORY);
      return { x: keep(h.x, Date.parse(s.at) / 1000), agents: keep(h.agents, s.agents.total), busy: keep(h.busy, s.agents.byState.BUSY ?? 0), queued: keep(h.queued, s.tasks.queued), running: keep(h.running, s.tasks.running) };
    });
  };
  const loadStats = () => (limitedRef.current ? Promise.resolve() : get("/v1/stats").then(applyStats, fail));

  useEffect(() => {
    let stopStream = () => {};
    let stopped = false;
    const timers = [];
    const follow = (query) => {
      const stop = streamEvents(query, {
        onEvent: (event) => pending.current.push(event),
        onReady: () => setConnected(true),
        onError: (e) => (setConnected(false), fail(e)),
      });
      const previous = stopStream;
      stopStream = () => (previous(), stop());
    };
    void get("/v1/stats").then(
      (s) => {
        if (stopped) return;
        applyStats(s);
        // Start the feed with the last few hundred events (a replay), then follow live.
        follow(`?after=${Math.max(0, s.lastEventSeq - FEED)}`);
      },
      async (e) => {
        if (e.status !== 403) return fail(e);
        // A crew-limited key: the fleet's counts span every crew, so they are not its to read; its
        // crews' events are, one stream per crew (the stream needs a crewId for such a key).
        limitedRef.current = true;
        setLimited(true);
        const crews = await get("/v1/crews?limit=20").catch(() => ({ items: [] }));
        if (!stopped) for (const crew of crews.items) follow(`?crewId=${encodeURIComponent(crew.id)}`);
      },
    );
    timers.push(
      setInterval(() => {
        const batch = pending.current;
        if (batch.length === 0) return;
        pending.current = [];
        const newest = batch.slice().reverse();
        setFeed((f) => [...newest, ...f].slice(0, FEED));
        const newAlerts = newest.filter((e) => e.type.startsWith("alert."));
        if (newAlerts.length > 0) setAlerts((a) => [...newAlerts, ...a].slice(0, 100));
        const newHeals = batch.filter(isHeal);
        if (newHeals.length > 0) setHeals((h) => [...h, ...newHeals].slice(-1000));
        const progressed = batch.filter((e) => e.type === "task.progress" && e.taskId);
        if (progressed.length > 0)
          setProgress((p) => {
            const next = new Map(p);
            for (const e of progressed) next.set(e.taskId, { fraction: e.data?.fraction ?? null, message: e.data?.message ?? null, at: e.at });
            // Bounded: the latest few thousand tasks' progress is all a page shows.
            while (next.size > 5000) next.delete(next.keys().next().value);
            return next;
          });
        statsDue.current = true;
        viewDue.current = true;
      }, FLUSH_MS),
      setInterval(() => {
        if (viewDue.current) {
          viewDue.current = false;
          setTick((t) => t + 1);
        }
      }, VIEW_MS),
      setInterval(() => {
        if (statsDue.current) {
          statsDue.current = false;
          void loadStats();
        }
      }, STATS_MS),
      // Counts that change without an event (heartbeats, dispatch latency) still move.
      setInterval(() => void loadStats(), 5000),
    );
    return () => {
      stopped = true;
      stopStream();
      timers.forEach(clearInterval);
    };
  }, []);

  const view =
    tab === "fleet" ? html`<${FleetView} stats=${stats} history=${history} feed=${feed} alerts=${alerts} limited=${limited} />`
    : tab === "crews" ? html`<${CrewsView} tick=${tick} />`
    : tab === "tasks" ? html`<${TasksView} tick=${tick} progress=${progress} />`
    : tab === "pools" ? html`<${PoolsView} tick=${tick} />`
    : tab === "ledger" ? html`<${LedgerView} tick=${Math.floor(tick / 10)} />`
    : html`<${HealingView} stats=${stats} heals=${heals} />`;
  return html`<div class="shell">
    <header>
      <h1>Agent Factory</h1>
      <nav>${TABS.map(([id, label]) => html`<button class=${tab === id ? "active" : ""} data-tab=${id} onClick=${() => setTab(id)}>${label}${id === "fleet" && alerts.length > 0 ? html` <span class="badge">${alerts.length}</span>` : null}</button>`)}</nav>
      <span class=${connected ? "live on" : "live"} data-testid="live" title=${connected ? "following the event stream" : "not connected"}>${connected ? "● live" : "○ connecting"}</span>
      ${stats ? html`<span class="muted">node <code>${stats.nodeId}</code></span>` : null}
      ${getKey() !== null ? html`<button class="link" onClick=${() => (clearKey(), location.reload())}>sign out</button>` : null}
      <a href="/docs" target="_blank" rel="noopener">API</a>
    </header>
    ${error === undefined || limited ? null : html`<p class="error" role="alert">${error}</p>`}
    <main>${view}</main>
  </div>`;
}

function App() {
  const [phase, setPhase] = useState("checking");
  const [refused, setRefused] = useState(false);
  useEffect(() => {
    takeKeyFromFragment();
    if (getKey() !== null) return setPhase("ready");
    keyRequired().then(
      (needed) => setPhase(needed ? "sign-in" : "ready"),
      () => setPhase("ready"),
    );
  }, []);
  if (phase === "checking") return html`<p class="loading">Loading…</p>`;
  if (phase === "sign-in") return html`<${SignIn} refused=${refused} onKey=${(key) => (setKey(key), setRefused(false), setPhase("ready"))} />`;
  return html`<${Dashboard} onUnauthorized=${() => (clearKey(), setRefused(true), setPhase("sign-in"))} />`;
}

render(html`<${App} />`, document.getElementById("app"));
