/** The SQL store's tables as Kysely sees them (migrations.ts creates them); `data` holds the record whole, as JSON. */
export interface SqlDatabase {
  profiles: { name: string; version: number; created_at: string; data: string };
  agents: { id: string; state: string; role: string; profile: string; crew_id: string | null; spawned_at: string; node_id: string | null; data: string };
  crews: { id: string; state: string; name: string; created_at: string; node_id: string | null; data: string };
  tasks: { id: string; state: string; crew_id: string | null; created_at: string; idempotency_key: string | null; finished_at: string | null; trace_id: string | null; node_id: string | null; data: string };
  wallets: { address: string; owner_id: string; data: string };
  events: { seq: number; type: string; at: string; agent_id: string | null; crew_id: string | null; task_id: string | null; data: string };
  crew_context: { crew_id: string; key: string; updated_at: string; value: string };
  ledger: {
    seq: number;
    id: string;
    kind: string;
    debit: string;
    credit: string;
    micro: number;
    crew_id: string | null;
    agent_id: string | null;
    task_id: string | null;
    reservation_id: string | null;
    model: string | null;
    tokens_in: number | null;
    tokens_out: number | null;
    at: string;
    data: string;
  };
  nodes: { id: string; fence: number; started_at: string; adopted_by: string | null; updated_at: string };
  counters: { name: string; value: number };
  signing_keys: { kid: string; created_at: string; public_jwk: string; private_jwk: string };
  budgets: { key: string; credits_micro: number; period_ms: number | null; window_start: string };
  operator_keys: { id: string; name: string; role: string; crews: string | null; secret_hash: string; created_at: string };
}

/** A row's record, parsed from its `data` column. */
export const parse = <T>(row: { data: string }): T => JSON.parse(row.data) as T;
