import type { StoreWrite } from "../../../core/ports/store.ts";
import { toMicro } from "../../../core/ledger.ts";
import { lastWritePerRecord } from "../../../core/last-write-per-record.ts";
import type { AgentRow, CrewRow, EventRow, LedgerRow, MemoryTables, TaskRow } from "./memory-tables.ts";
import { seqTaken } from "../sql/seq-taken.ts";
import { bySeq, constraint, insertBySeq, json, nullableNum, nullableText, num, text } from "./sqlite-semantics.ts";

/** Applies a batch of writes all or nothing, as the SQL store's one transaction does; each table keeps what its SQL upsert keeps. */
export function applyWrites(tables: MemoryTables, writes: readonly StoreWrite[]): void {
  // Every check runs before anything changes, so a refused batch leaves nothing behind.
  const commits: Array<() => void> = [];
  const newTaskKeys = new Set<string>();
  const newLedgerIds = new Set<string>();
  for (const w of lastWritePerRecord(writes)) {
    switch (w.kind) {
      case "profile": {
        const p = w.value;
        const row = { name: text(p.name, "profiles.name"), version: num(p.version, "profiles.version"), data: json(p, "profiles.data") };
        text(p.createdAt, "profiles.created_at");
        const key = `${row.name}\0${row.version}`;
        // Insert-only: a re-written version is the version already kept.
        commits.push(() => {
          if (!tables.profiles.has(key)) tables.profiles.set(key, row);
        });
        break;
      }
      case "agent": {
        const a = w.value;
        const row: AgentRow = {
          id: text(a.id, "agents.id"),
          state: text(a.state, "agents.state"),
          role: text(a.role, "agents.role"),
          profile: text(a.profile, "agents.profile"),
          crewId: nullableText(a.crewId, "agents.crew_id"),
          spawnedAt: text(a.spawnedAt, "agents.spawned_at"),
          data: json(a, "agents.data"),
        };
        // As the SQL upsert: role, profile and spawnedAt are kept from the first write.
        commits.push(() => {
          const old = tables.agents.get(row.id);
          tables.agents.set(row.id, old === undefined ? row : { ...old, state: row.state, crewId: row.crewId, data: row.data });
        });
        break;
      }
      case "crew": {
        const c = w.value;
        const row: CrewRow = { id: text(c.id, "crews.id"), state: text(c.state, "crews.state"), name: text(c.name, "crews.name"), createdAt: text(c.createdAt, "crews.created_at"), data: json(c, "crews.data") };
        commits.push(() => {
          const old = tables.crews.get(row.id);
          tables.crews.set(row.id, old === undefined ? row : { ...old, state: row.state, data: row.data });
        });
        break;
      }
      case "task": {
        const t = w.value;
        const row: TaskRow = {
          id: text(t.id, "tasks.id"),
          state: text(t.state, "tasks.state"),
          crewId: nullableText(t.crewId, "tasks.crew_id"),
          createdAt: text(t.createdAt, "tasks.created_at"),
          idempotencyKey: nullableText(t.idempotencyKey, "tasks.idempotency_key"),
          finishedAt: nullableText(t.finishedAt, "tasks.finished_at"),
          data: json(t, "tasks.data"),
        };
        const old = tables.tasks.get(row.id);
        if (old === undefined && row.idempotencyKey !== null) {
          if (tables.taskKeys.has(row.idempotencyKey) || newTaskKeys.has(row.idempotencyKey)) throw constraint("UNIQUE", "tasks.idempotency_key");
          newTaskKeys.add(row.idempotencyKey);
        }
        // As the SQL upsert: crewId, createdAt and the idempotency key are kept from the first write.
        commits.push(() => {
          if (old === undefined) {
            tables.tasks.set(row.id, row);
            if (row.idempotencyKey !== null) tables.taskKeys.set(row.idempotencyKey, row.id);
          } else {
            const current = tables.tasks.get(row.id) ?? old;
            tables.tasks.set(row.id, { ...current, state: row.state, finishedAt: row.finishedAt, data: row.data });
          }
        });
        break;
      }
      case "wallet": {
        const v = w.value;
        const row = { address: text(v.address, "wallets.address"), ownerId: text(v.ownerId, "wallets.owner_id"), data: json(v, "wallets.data") };
        commits.push(() => {
          const old = tables.wallets.get(row.address);
          tables.wallets.set(row.address, old === undefined ? row : { ...old, data: row.data });
        });
        break;
      }
      case "event": {
        const e = w.value;
        const row: EventRow = {
          seq: num(e.seq, "events.seq"),
          type: text(e.type, "events.type"),
          at: text(e.at, "events.at"),
          agentId: nullableText(e.agentId, "events.agent_id"),
          crewId: nullableText(e.crewId, "events.crew_id"),
          taskId: nullableText(e.taskId, "events.task_id"),
          data: json(e, "events.data"),
        };
        // Insert-only: a re-written seq is the event already kept; another event under it is refused.
        const kept = bySeq(tables.events, row.seq);
        if (kept !== undefined && kept.data !== row.data) throw seqTaken("events", row.seq, undefined);
        commits.push(() => {
          if (bySeq(tables.events, row.seq) !== undefined) return;
          insertBySeq(tables.events, row);
        });
        break;
      }
      case "ledger": {
        const e = w.value;
        const row: LedgerRow = {
          seq: num(e.seq, "ledger.seq"),
          id: text(e.id, "ledger.id"),
          kind: text(e.kind, "ledger.kind"),
          debit: text(e.debit, "ledger.debit"),
          credit: text(e.credit, "ledger.credit"),
          micro: num(toMicro(e.amount), "ledger.micro"),
          crewId: nullableText(e.crewId, "ledger.crew_id"),
          agentId: nullableText(e.agentId, "ledger.agent_id"),
          taskId: nullableText(e.taskId, "ledger.task_id"),
          reservationId: nullableText(e.reservationId, "ledger.reservation_id"),
          model: nullableText(e.model, "ledger.model"),
          tokensIn: nullableNum(e.tokensIn, "ledger.tokens_in"),
          tokensOut: nullableNum(e.tokensOut, "ledger.tokens_out"),
          at: text(e.at, "ledger.at"),
          data: json(e, "ledger.data"),
        };
        // Append-only: a re-written seq (a retried batch) is the entry already kept; ids are unique.
        const theirs = bySeq(tables.ledger, row.seq)?.id;
        if (theirs !== undefined) {
          if (theirs !== row.id) throw seqTaken("ledger", row.seq, theirs);
          break;
        }
        if (tables.ledgerIds.has(row.id) || newLedgerIds.has(row.id)) throw constraint("UNIQUE", "ledger.id");
        newLedgerIds.add(row.id);
        commits.push(() => {
          tables.ledgerIds.add(row.id);
          insertBySeq(tables.ledger, row);
        });
        break;
      }
      case "context": {
        if (w.deleted) {
          const { crewId, key } = w;
          commits.push(() => {
            tables.context.get(crewId)?.delete(key);
          });
        } else {
          const crewId = text(w.crewId, "crew_context.crew_id");
          const key = text(w.key, "crew_context.key");
          const value = json(w.value, "crew_context.value");
          commits.push(() => {
            let map = tables.context.get(crewId);
            if (map === undefined) tables.context.set(crewId, (map = new Map<string, string>()));
            map.set(key, value);
          });
        }
        break;
      }
    }
  }
  for (const commit of commits) commit();
}
