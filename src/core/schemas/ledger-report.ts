import { z } from "zod";
import { LEDGER_KINDS, LEDGER_REPORT_KEYS } from "../ledger.ts";

const IsoDateTime = z.iso.datetime({ offset: true });
const IsoDate = z.iso.date();

/** An instant as an ISO 8601 date (`2026-01-31`, midnight UTC) or date-time with a zone (`2026-01-31T09:00:00Z`, `…+02:00`). */
const Instant = z
  .string()
  .max(64)
  .refine((s) => IsoDateTime.safeParse(s).success || IsoDate.safeParse(s).success, {
    message: "must be an ISO 8601 date or date-time with a zone, such as 2026-01-31 or 2026-01-31T09:00:00Z",
  });

/** What a ledger report sums and groups by (the query of `GET /v1/ledger/report`). */
export const LedgerReportQuerySchema = z.strictObject({
  by: z.enum(LEDGER_REPORT_KEYS).meta({ description: "One row per agent, crew or model (largest amount first), or per UTC hour, day or month (oldest first)" }),
  kind: z.enum(LEDGER_KINDS).optional().meta({ description: "Which entries are summed; default usage (what model calls cost)" }),
  crewId: z.string().min(1).max(128).optional(),
  agentId: z.string().min(1).max(128).optional(),
  model: z.string().min(1).max(256).optional(),
  from: Instant.optional().meta({ description: "Entries at or after this instant (ISO 8601)" }),
  to: Instant.optional().meta({ description: "Entries before this instant (ISO 8601, exclusive)" }),
});

export type LedgerReportQueryInput = z.input<typeof LedgerReportQuerySchema>;
