import type { Agent } from "../core/agent.ts";
import type { Crew } from "../core/crew.ts";
import { fromMicro, toMicro } from "../core/ledger.ts";
import type { ProfileRecord } from "../core/schemas/profile.ts";
import type { Task } from "../core/task.ts";
import type { NodeInfo } from "../core/ports/membership.ts";
import type { OpenReservation, OwnedRows } from "../core/ports/store.ts";
import type { FactoryParts } from "./wiring.ts";
import { StoredFeed } from "../state/stored-feed.ts";
import { EVENTS_CHANNEL } from "../state/event-log.ts";
import type { FactoryEvent } from "../core/events.ts";
import type { CrewState } from "../core/crew-states.ts";
import { LEDGER_CHANNEL, type PostedEntry } from "../economics/ledger.ts";

/**
 * Loads state from the store and brings back what was live: the ledger (releasing reservations
 * a stopped factory left open), budgets, profiles, crews, agents and unfinished tasks; then
 * starts the periodic services. Joins the cluster first. Returns what it brought back.
 */
export async function startFactory(parts: FactoryParts): Promise<{ agents: number; tasks: number }> {
  // First, before anything is read or restarted: a second node started under a live node's id
  // (NODE_ID_TAKEN) must not bring back agents the first one runs.
  await parts.node.join();
  try {
    const restored = await restoreAll(parts);
    // A dead node's agents, crews and tasks come back here, if this node is first to take them.
    parts.node.hooks.expired.add((dead) => {
      // A take-over that fails half-way must not end this node too (its rows are this node's now).
      adoptNode(parts, dead).catch((error: unknown) => parts.deps.logger.error(`node ${dead.id}: taking over its agents and tasks failed part-way; they come back at this node's next start`, error));
    });
    return restored;
  } catch (error) {
    // A start that fails lets the id go at once (and stops renewing), so a fixed retry can join.
    await parts.node.leave();
    throw error;
  }
}

async function restoreAll(parts: FactoryParts): Promise<{ agents: number; tasks: number }> {
  const { deps, ledger, events, profileRegistry, crewManager, phase, registry, pools, watchdog, retention, budgets } = parts;
  const { store, logger } = deps;
  // A store several nodes share: this node takes its own rows (and from now on the store numbers
  // events and ledger entries). Alone on its store, a node owns every row.
  const owned = store.attachNode === undefined ? undefined : await store.attachNode({ id: parts.node.id, startedAt: parts.node.startedAt ?? new Date().toISOString() });
  if (owned !== undefined) {
    events.numberedByStore();
    shareLedger(parts);
    followOtherNodes(parts);
  }
  const [profiles, lastSeq, crews, agents, tasks, totals, allOrphans] = await Promise.all([
    store.listProfiles(),
    store.lastEventSeq(),
    owned?.crews ?? store.listCrews({ states: ["ASSEMBLING", "ACTIVE", "PAUSED", "DISBANDING"] }),
    // Hibernated agents stay in the store (a row each) until something wakes them.
    owned?.agents ?? store.listAgents({ states: ["PROVISIONING", "WARMING", "READY", "BUSY", "IDLE", "DRAINING", "UNHEALTHY"] }),
    owned?.tasks ?? store.listTasks({ states: ["QUEUED", "ASSIGNED", "RUNNING"] }),
    store.ledgerTotals(),
    store.openReservations(),
  ]);
  ledger.load(totals);
  // No call of this node is under way yet, so a reservation still open on its wallets was made
  // by this node (or, alone on its store, this factory) before it stopped mid-call. Another live
  // node's holds are not this node's to release. Written by restoreLive's commit.
  const orphans = owned === undefined ? allOrphans : allOrphans.filter(ownWallets(agents, crews));
  try {
    const released = ledger.releaseOrphans(orphans);
    if (released.length > 0) {
      const credits = fromMicro(released.reduce((n, e) => n + toMicro(e.amount), 0));
      logger.info(`released ${released.length} reservation(s) left open when the factory stopped (${credits} credits back to their wallets)`);
    }
  } catch (error) {
    // Only a store whose entries do not add up gets here; the factory still starts.
    logger.error("reservations left open when the factory stopped could not be released", error);
  }
  await budgets.restore();
  events.resumeAfter(lastSeq);
  profileRegistry.load(profiles);
  crewManager.load(crews);
  phase.begin();
  await restoreLive(parts, crews, agents, tasks);
  const restored = { agents: registry.size, tasks: tasks.length };
  pools.start();
  watchdog.start();
  retention.start();
  parts.alerts.start();
  return restored;
}

/**
 * After a restart every agent's runtime is gone. Live agents are brought back under the same
 * id, wallet, crew and saved context (UNHEALTHY → PROVISIONING → … → READY, `restarts` + 1);
 * DRAINING ones finish terminating; HIBERNATING ones stay asleep in the store. Tasks that were running go
 * back to the queue (attempts counted) and run again: delivery is at-least-once.
 */
async function restoreLive(parts: FactoryParts, crews: readonly Crew[], agents: readonly Agent[], tasks: readonly Task[], why = "factory restarted"): Promise<void> {
  const { book, journal, events, registry, profileRegistry, crewManager, dispatcher, spawner, deps } = parts;
  for (const task of tasks) {
    book.track(task);
    if (task.state !== "QUEUED") {
      const from = task.state;
      task.state = "QUEUED";
      task.agentId = null;
      task.updatedAt = new Date().toISOString();
      journal.put({ kind: "task", value: { ...task } });
      events.emit({ type: "task.state", taskId: task.id, from, to: "QUEUED", data: { reason: why, attempts: task.attempts, ...(task.traceId == null ? {} : { traceId: task.traceId }) } });
    }
  }
  // Members of a crew caught mid-assembly or mid-disband are not brought back: assembly is
  // atomic and a disband was asked for.
  const ending = new Set(crews.filter((c) => c.state === "ASSEMBLING" || c.state === "DISBANDING").map((c) => c.id));
  // Members of a crew another node owns (a crew spread over nodes): this node keeps a mirror of
  // it; a crew that is gone or ending takes its members with it.
  const own = new Set(crews.map((c) => c.id));
  const foreign = new Set(agents.flatMap((a) => (a.crewId !== null && !own.has(a.crewId) && crewManager.get(a.crewId) === undefined ? [a.crewId] : [])));
  for (const crewId of foreign) {
    const crew = await deps.store.getCrew(crewId);
    if (crew === undefined || crew.state === "DISBANDING" || crew.state === "DISBANDED") ending.add(crewId);
    else crewManager.mirror(crew);
  }
  const revive: Array<{ agent: Agent; profile: ProfileRecord }> = [];
  // Oldest first, so the registry keeps spawn order. No agent has a runtime yet, so none can
  // take work until it is re-provisioned below.
  for (const agent of [...agents].reverse()) {
    agent.load = 0;
    agent.health.missed = 0;
    agent.health.suspect = null;
    registry.add(agent, "restored from store");
    const profile = profileRegistry.version(agent.profile, agent.profileVersion);
    const gone =
      agent.state === "DRAINING"
        ? `${why} while draining`
        : agent.crewId !== null && ending.has(agent.crewId)
          ? "its crew was ending when the factory stopped"
          : profile === undefined
            ? `profile ${agent.profile} v${agent.profileVersion} is gone`
            : undefined;
    if (agent.state !== "UNHEALTHY" && agent.state !== "DRAINING") registry.transition(agent, "UNHEALTHY", `${why}: runtime lost`);
    if (gone !== undefined || profile === undefined) registry.transition(agent, "TERMINATED", gone ?? "profile missing");
    else revive.push({ agent, profile });
  }
  crewManager.finishInterrupted();
  for (const task of tasks) if (task.state === "QUEUED") dispatcher.enqueue(task);
  await Promise.all(
    revive.map(({ agent, profile }) =>
      spawner.reprovision(agent, profile, why).catch((error: unknown) => {
        deps.logger.error(`agent ${agent.id} could not be restored`, error);
        if (agent.state !== "TERMINATED") registry.transition(agent, "TERMINATED", "restore failed");
      }),
    ),
  );
  await journal.commit();
}

/**
 * In a cluster, every node sees every wallet's balance: the entries this node stores go on the
 * bus, and the other nodes' entries are applied to this node's balances as they arrive.
 */
function shareLedger(parts: FactoryParts): void {
  const { ledger, journal, node, deps, budgets } = parts;
  const feed = new StoredFeed<PostedEntry>(journal, (posted) => deps.bus.publish(LEDGER_CHANNEL, posted));
  ledger.posted.add((entry) => feed.push({ nodeId: node.id, entry }));
  deps.bus.subscribe(LEDGER_CHANNEL, (message) => {
    const posted = message as PostedEntry;
    if (posted.nodeId === node.id) return;
    ledger.applyRemote(posted.entry);
    // A global budget (or one of a crew or agent that runs here too) counts every node's spend.
    budgets.noteRemoteUsage(posted.entry);
  });
  // A budget set or removed on one node is every node's: the others read them again from the store.
  budgets.changed.add((key) => deps.bus.publish(BUDGETS_CHANNEL, { nodeId: node.id, key }));
  deps.bus.subscribe(BUDGETS_CHANNEL, (message) => {
    if ((message as { nodeId?: unknown }).nodeId === node.id) return;
    budgets.reload().catch((error: unknown) => deps.logger.error("budgets changed on another node could not be read again", error));
  });
}

/** How often the crews this node mirrors are read again from the store. */
const MIRROR_RESYNC_MS = 5_000;

/** The bus channel on which a node says it set or removed a budget. */
const BUDGETS_CHANNEL = "factory:budgets";

/**
 * What other nodes do that this one must know at once: a crew they own that this node runs
 * members of changed state; a profile was registered (read from the store, so every node can
 * spawn it and serve tasks for it).
 */
function followOtherNodes(parts: FactoryParts): void {
  const { crewManager, node, deps, profileRegistry } = parts;
  let reading: Promise<void> | undefined;
  let again = false;
  const readProfiles = (): void => {
    if (reading !== undefined) {
      again = true;
      return;
    }
    reading = deps.store
      .listProfiles()
      .then((records) => profileRegistry.load(records))
      .catch((error: unknown) => deps.logger.error("profiles registered on another node could not be read", error))
      .finally(() => {
        reading = undefined;
        if (again) {
          again = false;
          readProfiles();
        }
      });
  };
  // Bus messages can be lost (Redis away): mirrors are also set right from the store now and then.
  const resync = setInterval(() => {
    if (!parts.phase.started) {
      if (parts.phase.current !== "new") clearInterval(resync);
      return;
    }
    for (const crewId of crewManager.mirrorIds()) {
      deps.store
        .getCrew(crewId)
        .then((crew) => crewManager.applyRemoteState(crewId, crew?.state ?? "DISBANDED"))
        .catch(() => {}); // the store away: the next round looks again
    }
  }, MIRROR_RESYNC_MS);
  resync.unref();
  deps.bus.subscribe(EVENTS_CHANNEL, (message) => {
    const event = message as FactoryEvent;
    if (event.nodeId === node.id) return;
    if (event.type === "profile.registered") readProfiles();
    else if (event.type === "crew.state" && event.crewId !== undefined && event.to !== undefined && crewManager.isMirror(event.crewId)) {
      crewManager.applyRemoteState(event.crewId, event.to as CrewState);
    }
  });
}

/** Reservations held from the wallets of these agents and crews. */
function ownWallets(agents: readonly Agent[], crews: readonly Crew[]): (r: OpenReservation) => boolean {
  const wallets = new Set([...agents.map((a) => a.walletAddress), ...crews.map((c) => c.walletAddress)]);
  return (r) => wallets.has(r.wallet);
}

/** How long a failed take-over is retried (PostgreSQL away), and how often. */
const ADOPT_RETRY_MS = 1_000;
const ADOPT_GIVE_UP_MS = 60_000;

/**
 * Takes over a node whose lease ran out: if this node is the first to claim its rows in the
 * shared store, its unfinished tasks go back to the queue here and its agents come back here
 * under the same id, wallet, crew and saved context (`restarts` + 1), as after a restart. The
 * wallets' balances come from the store, and credits its unsettled model calls held go back.
 */
export async function adoptNode(parts: FactoryParts, dead: NodeInfo): Promise<void> {
  const { deps, ledger, events, budgets, crewManager, journal, registry, phase, profileRegistry } = parts;
  const { store, logger } = deps;
  if (store.adoptNode === undefined) return;
  const noticed = Date.now();
  let rows: OwnedRows | undefined;
  for (;;) {
    if (!phase.started) return;
    try {
      rows = await store.adoptNode({ id: dead.id, startedAt: dead.startedAt });
      break;
    } catch (error) {
      // This node fenced, or a refusal that no retry changes: give up at once.
      const code = (error as { code?: unknown }).code;
      if (code === "NODE_FENCED" || code === "VALIDATION_FAILED") {
        logger.error(`node ${dead.id}: not taken over by this node`, error);
        return;
      }
      if (Date.now() - noticed > ADOPT_GIVE_UP_MS) {
        logger.error(`node ${dead.id}: could not take over its agents and tasks for ${ADOPT_GIVE_UP_MS} ms; another node may still`, error);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, ADOPT_RETRY_MS).unref());
    }
  }
  if (rows === undefined) {
    logger.info(`node ${dead.id}'s lease ran out at ${dead.leaseUntil}; another node took its agents and tasks over (or it had none here)`);
    return;
  }
  // On a retry whose first answer was lost, what this node owns comes back: keep what it does not run yet.
  const crews = rows.crews.filter((c) => crewManager.get(c.id) === undefined || crewManager.isMirror(c.id));
  const agents = rows.agents.filter((a) => registry.get(a.id) === undefined);
  const tasks = rows.tasks.filter((t) => parts.book.find(t.id) === undefined);
  const why = `node ${dead.id} died`;
  try {
    // Its agents may run profiles registered on it after this node started.
    profileRegistry.load(await store.listProfiles());
    const [totals, open] = await Promise.all([store.ledgerTotals(), store.openReservations()]);
    const owns = ownWallets(agents, crews);
    const wallets = [...agents.map((a) => a.walletAddress), ...crews.map((c) => c.walletAddress)];
    ledger.adoptWallets(totals, wallets, open.filter(owns), `released when node ${dead.id} died: the call's outcome was lost with it`);
    await budgets.reload();
  } catch (error) {
    logger.error(`node ${dead.id}: its wallets could not be taken over; their balances may read low until restart`, error);
  }
  crewManager.load(crews);
  const before = registry.size;
  await restoreLive(parts, crews, agents, tasks, why);
  // Brought back or on their way (a process agent may still be warming up); the rest could not be.
  const back = agents.filter((a) => { const state = registry.get(a.id)?.state; return state !== undefined && state !== "TERMINATED"; }).length;
  const tookMs = Date.now() - noticed;
  events.emit({
    type: "node.adopted",
    data: { node: dead.id, leaseUntil: dead.leaseUntil, agents: agents.length, agentsBack: back, crews: crews.length, tasks: tasks.length, noticedAt: new Date(noticed).toISOString(), tookMs },
  });
  await journal.commit().catch(() => {});
  logger.info(`took over node ${dead.id}: ${back}/${agents.length} agent(s) coming back, ${crews.length} crew(s), ${tasks.length} task(s) requeued, in ${tookMs} ms (this node now runs ${registry.size} agent(s), ${before} before)`);
}
