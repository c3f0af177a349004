import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { LEDGER_KINDS, LEDGER_REPORT_KEYS } from "../../core/ledger.ts";
import { LedgerReportQuerySchema } from "../../core/schemas/ledger-report.ts";
import type { Factory } from "../../factory/factory.ts";
import { errorResponses, jsonBody, jsonContent } from "../openapi-helpers.ts";
import { itemsOf, LimitQuery } from "../schemas.ts";

const tags = ["ledger"];

export const LedgerEntrySchema = z
  .object({
    id: z.string(),
    seq: z.number().int(),
    at: z.string(),
    kind: z.enum(LEDGER_KINDS),
    debit: z.string().meta({ description: "The wallet the amount leaves" }),
    credit: z.string().meta({ description: "The wallet the amount enters" }),
    amount: z.number().meta({ description: "Credits, > 0" }),
    crewId: z.string().nullable(),
    agentId: z.string().nullable(),
    taskId: z.string().nullable(),
    reservationId: z.string().nullable(),
    model: z.string().nullable(),
    tokensIn: z.number().int().nullable(),
    tokensOut: z.number().int().nullable(),
    memo: z.string().nullable(),
  })
  .meta({ id: "LedgerEntry" });

const ReportTotalsSchema = z.object({
  entries: z.number().int(),
  amount: z.number().meta({ description: "Credits" }),
  tokensIn: z.number().int(),
  tokensOut: z.number().int(),
});

export const LedgerReportSchema = z
  .object({
    by: z.enum(LEDGER_REPORT_KEYS),
    kind: z.enum(LEDGER_KINDS),
    from: z.string().nullable().meta({ description: "UTC ISO instant, inclusive; null: from the first entry" }),
    to: z.string().nullable().meta({ description: "UTC ISO instant, exclusive; null: to the last entry" }),
    rows: z.array(
      z
        .object({
          key: z.string().nullable().meta({ description: "The agent, crew or model (null: entries without one), or the UTC period: 2026-01-31T09, 2026-01-31, 2026-01" }),
          ...ReportTotalsSchema.shape,
        })
        .meta({ id: "LedgerReportRow" }),
    ),
    total: ReportTotalsSchema,
  })
  .meta({ id: "LedgerReport" });

const Address = z.string().min(1).max(128);
const Amount = z.number().positive().max(1_000_000_000).meta({ description: "Credits" });

/** The double-entry ledger: entries, operator grants, transfers between wallets. */
export function ledgerRoutes(app: OpenAPIHono, factory: Factory): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/ledger",
      operationId: "listLedgerEntries",
      tags,
      summary: "Ledger entries in order: every credit that moved, from which wallet (debit) to which (credit)",
      request: {
        query: z.strictObject({
          wallet: Address.optional().meta({ description: "Entries that debit or credit this wallet" }),
          crewId: z.string().max(128).optional(),
          agentId: z.string().max(128).optional(),
          kind: z.enum(LEDGER_KINDS).optional(),
          after: z.coerce.number().int().min(0).optional().meta({ description: "Only entries after this seq" }),
          limit: LimitQuery,
        }),
      },
      responses: { 200: jsonContent(itemsOf(LedgerEntrySchema), "Entries"), ...errorResponses(400, 401) },
    }),
    async (c) => {
      const q = c.req.valid("query");
      return c.json(
        {
          items: await factory.listLedger({
            ...(q.wallet === undefined ? {} : { wallet: q.wallet }),
            ...(q.crewId === undefined ? {} : { crewId: q.crewId }),
            ...(q.agentId === undefined ? {} : { agentId: q.agentId }),
            ...(q.kind === undefined ? {} : { kinds: [q.kind] }),
            ...(q.after === undefined ? {} : { afterSeq: q.after }),
            ...(q.limit === undefined ? {} : { limit: q.limit }),
          }),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/ledger/report",
      operationId: "getLedgerReport",
      tags,
      summary: "Sums of one kind of entry (usage by default: credits and tokens) per agent, crew, model or UTC hour, day or month, with their total",
      request: { query: LedgerReportQuerySchema },
      responses: { 200: jsonContent(LedgerReportSchema, "The report"), ...errorResponses(400, 401) },
    }),
    async (c) => c.json(await factory.ledgerReport(c.req.valid("query")), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/ledger/grants",
      operationId: "grantCredits",
      tags,
      summary: "Grant credits from outside to an agent's or crew's wallet",
      request: jsonBody(z.strictObject({ wallet: Address, amount: Amount, memo: z.string().max(500).optional() }).meta({ id: "GrantRequest" })),
      responses: { 201: jsonContent(LedgerEntrySchema, "The grant entry"), ...errorResponses(400, 401, 404, 413, 415) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      return c.json(await factory.grantCredits(body.wallet, body.amount, body.memo), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/ledger/transfers",
      operationId: "transferCredits",
      tags,
      summary: "Move credits between two agent or crew wallets (402 INSUFFICIENT_CREDITS if the payer lacks them)",
      request: jsonBody(z.strictObject({ from: Address, to: Address, amount: Amount, memo: z.string().max(500).optional() }).meta({ id: "TransferRequest" })),
      responses: { 201: jsonContent(LedgerEntrySchema, "The transfer entry"), ...errorResponses(400, 401, 402, 404, 413, 415) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      return c.json(await factory.transferCredits(body.from, body.to, body.amount, body.memo), 201);
    },
  );
}
