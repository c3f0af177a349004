import type { Agent } from "../core/agent.ts";
import type { Crew } from "../core/crew.ts";
import { fromMicro, toMicro } from "../core/ledger.ts";
import type { ProfileRecord } from "../core/schemas/profile.ts";
import type { Task } from "../core/task.ts";
import type { FactoryParts } from "./wiring.ts";

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
    return await restoreAll(parts);
  } catch (error) {
    // A start that fails lets the id go at once (and stops renewing), so a fixed retry can join.
    await parts.node.leave();
    throw error;
  }
}

async function restoreAll(parts: FactoryParts): Promise<{ agents: number; tasks: number }> {
  const { deps, ledger, events, profileRegistry, crewManager, phase, registry, pools, watchdog, retention, budgets } = parts;
  const { store, logger } = deps;
  const [profiles, lastSeq, crews, agents, tasks, totals, orphans] = await Promise.all([
    store.listProfiles(),
    store.lastEventSeq(),
    store.listCrews({ states: ["ASSEMBLING", "ACTIVE", "PAUSED", "DISBANDING"] }),
    // Hibernated agents stay in the store (a row each) until something wakes them.
    store.listAgents({ states: ["PROVISIONING", "WARMING", "READY", "BUSY", "IDLE", "DRAINING", "UNHEALTHY"] }),
    store.listTasks({ states: ["QUEUED", "ASSIGNED", "RUNNING"] }),
    store.ledgerTotals(),
    store.openReservations(),
  ]);
  ledger.load(totals);
  // No call is under way yet, so a reservation still open was made by a factory that stopped
  // mid-call (this factory is its store's only ledger writer). Written by restoreLive's commit.
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
  return restored;
}

/**
 * After a restart every agent's runtime is gone. Live agents are brought back under the same
 * id, wallet, crew and saved context (UNHEALTHY → PROVISIONING → … → READY, `restarts` + 1);
 * DRAINING ones finish terminating; HIBERNATING ones stay asleep in the store. Tasks that were running go
 * back to the queue (attempts counted) and run again: delivery is at-least-once.
 */
async function restoreLive(parts: FactoryParts, crews: readonly Crew[], agents: readonly Agent[], tasks: readonly Task[]): Promise<void> {
  const { book, journal, events, registry, profileRegistry, crewManager, dispatcher, spawner, deps } = parts;
  for (const task of tasks) {
    book.track(task);
    if (task.state !== "QUEUED") {
      const from = task.state;
      task.state = "QUEUED";
      task.agentId = null;
      task.updatedAt = new Date().toISOString();
      journal.put({ kind: "task", value: { ...task } });
      events.emit({ type: "task.state", taskId: task.id, from, to: "QUEUED", data: { reason: "factory restarted", attempts: task.attempts } });
    }
  }
  // Members of a crew caught mid-assembly or mid-disband are not brought back: assembly is
  // atomic and a disband was asked for.
  const ending = new Set(crews.filter((c) => c.state === "ASSEMBLING" || c.state === "DISBANDING").map((c) => c.id));
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
        ? "factory restarted while draining"
        : agent.crewId !== null && ending.has(agent.crewId)
          ? "its crew was ending when the factory stopped"
          : profile === undefined
            ? `profile ${agent.profile} v${agent.profileVersion} is gone`
            : undefined;
    if (agent.state !== "UNHEALTHY" && agent.state !== "DRAINING") registry.transition(agent, "UNHEALTHY", "factory restarted: runtime lost");
    if (gone !== undefined || profile === undefined) registry.transition(agent, "TERMINATED", gone ?? "profile missing");
    else revive.push({ agent, profile });
  }
  crewManager.finishInterrupted();
  for (const task of book.liveTasks()) if (task.state === "QUEUED") dispatcher.enqueue(task);
  await Promise.all(
    revive.map(({ agent, profile }) =>
      spawner.reprovision(agent, profile, "factory restarted").catch((error: unknown) => {
        deps.logger.error(`agent ${agent.id} could not be restored`, error);
        if (agent.state !== "TERMINATED") registry.transition(agent, "TERMINATED", "restore failed");
      }),
    ),
  );
  await journal.commit();
}
