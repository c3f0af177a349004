import type { Context, MiddlewareHandler } from "hono";
import { FactoryError } from "../core/errors.ts";
import type { OwnedKind } from "../core/ports/store.ts";
import type { Factory } from "../factory/factory.ts";
import type { Location } from "../factory/locator.ts";

import { FORWARDED_BY } from "../cluster/peers.ts";
import { jsonObjectBody } from "./json-object-body.ts";
/** Set on an answer that another node gave: which node. */
export const ANSWERED_BY = "x-agent-factory-node";

/** `/v1/agents/<id>…`, `/v1/crews/<id>…`, `/v1/tasks/<id>…`. */
const OWNED_PATH = /^\/v1\/(agents|crews|tasks)\/([^/]+)(\/.*)?$/;
const KIND: Record<string, OwnedKind> = { agents: "agent", crews: "crew", tasks: "task" };
/** Headers a forwarded request keeps: who asks (the key), what it sends and accepts, where a stream resumes. */
const REQUEST_HEADERS = ["authorization", "content-type", "accept", "last-event-id"];
const RESPONSE_HEADERS = ["content-type", "retry-after", "cache-control", "location"];
/** How soon a client may try again when the owner is down: about when a survivor has taken it over. */
const RETRY_AFTER_SEC = 2;

/**
 * One fleet from any node: a request about an agent, crew or task that another live node runs
 * is passed to that node and its answer returned as is, so every node answers alike. A task
 * submitted without a crew or agent stays here when one of this node's agents can take it and
 * goes to a node whose agent can otherwise; a transfer goes to the node that owns the paying
 * wallet. Reads of something whose node is down are answered
 * from the shared store; changes to it are refused with NODE_UNAVAILABLE (503, Retry-After)
 * until a survivor has taken it over. Alone on its store, a node answers everything itself.
 */
export function ownerRouting(factory: Factory): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.header(FORWARDED_BY) !== undefined) return next();
    const match = OWNED_PATH.exec(c.req.path);
    let where: Location | undefined;
    let what = "";
    if (match !== null && match[2] !== "assemble") {
      const kind = KIND[match[1] as string] as OwnedKind;
      const id = decodeURIComponent(match[2] as string);
      what = `${kind} ${id}`;
      // A dead node's tasks, finished ones included, move to the node that takes it over: until
      // then a re-drive waits like any change (two nodes re-driving one task would run it twice).
      where = await factory.locate(kind, id);
    } else if ((c.req.path === "/v1/ledger/transfers" || c.req.path === "/v1/ledger/grants") && c.req.method === "POST") {
      // A wallet is debited only by the node that owns it (its balance there is the one that
      // counts); a grant goes there too, so a spend right after it finds the credits.
      const body = await jsonBody(c);
      const wallet = c.req.path === "/v1/ledger/grants" ? body?.wallet : body?.from;
      if (wallet === undefined) return next();
      what = `wallet ${wallet}`;
      where = await factory.locate("wallet", wallet);
    } else if ((c.req.path === "/v1/tools/call" && c.req.method === "POST") || (c.req.path === "/v1/tools" && c.req.method === "GET" && c.req.query("agentId") !== undefined)) {
      // An agent's MCP servers run on the node that runs it: that node lists and calls its tools.
      const agentId = c.req.method === "GET" ? c.req.query("agentId") : (await jsonBody(c))?.agentId;
      if (agentId === undefined) return next();
      what = `agent ${agentId}`;
      where = await factory.locate("agent", agentId);
    } else if (c.req.path === "/v1/tasks" && c.req.method === "POST") {
      const body = await jsonBody(c);
      // A body that is not a task is this node's to refuse (400, naming what is wrong).
      if (body === undefined) return next();
      what = body.crewId !== undefined ? `crew ${body.crewId}` : body.agentId !== undefined ? `agent ${body.agentId}` : "the agents for this task";
      where = await factory.placeTask(body);
    }
    if (where?.on !== "node") return next();
    let unreachable: unknown;
    if (where.alive && where.url !== null) {
      try {
        return await forward(c, where.node, where.url, factory.nodeId);
      } catch (error) {
        unreachable = error; // killed, its lease not yet run out
      }
    }
    if (c.req.method === "GET") return next(); // what the store holds of it
    throw new FactoryError(
      "NODE_UNAVAILABLE",
      where.alive && where.url === null
        ? `node ${where.node} runs ${what} but gives no URL to reach it (start it with --advertise-url, or on a known port and address)`
        : `node ${where.node} runs ${what} and is not answering${unreachable === undefined ? "" : ` at ${where.url} (${message(unreachable)})`}; once its lease runs out a survivor takes its agents and tasks over: try again shortly`,
      { details: { node: where.node, retryAfterSec: RETRY_AFTER_SEC }, ...(unreachable === undefined ? {} : { cause: unreachable }) },
    );
  };
}

/** The request's JSON body when it is a JSON object, else undefined (the route then refuses it). */
async function jsonBody(
  c: Context,
): Promise<{ role?: string | undefined; profile?: string | undefined; crewId?: string | undefined; agentId?: string | undefined; from?: string | undefined; wallet?: string | undefined; reward?: unknown } | undefined> {
  const body = await jsonObjectBody(c);
  if (body === undefined) return undefined;
  const pick = (key: string): string | undefined => (typeof body[key] === "string" ? body[key] : undefined);
  return { role: pick("role"), profile: pick("profile"), crewId: pick("crewId"), agentId: pick("agentId"), from: pick("from"), wallet: pick("wallet"), ...(body.reward === undefined ? {} : { reward: body.reward }) };
}

/** Passes the request to the owner's API and returns its answer (status, body, the headers that matter); rejects when the owner cannot be reached. */
async function forward(c: Context, node: string, base: string, self: string): Promise<Response> {
  const incoming = new URL(c.req.url);
  const target = new URL(incoming.pathname + incoming.search, base);
  const headers = new Headers();
  for (const name of REQUEST_HEADERS) {
    const value = c.req.header(name);
    if (value !== undefined) headers.set(name, value);
  }
  headers.set(FORWARDED_BY, self);
  const method = c.req.method;
  const body = method === "GET" || method === "HEAD" ? undefined : await c.req.arrayBuffer();
  // A network failure rejects: the caller answers from the store or says the node is away.
  const answer = await fetch(target, { method, headers, ...(body === undefined ? {} : { body }), signal: c.req.raw.signal, redirect: "manual" });
  const out = new Headers();
  for (const name of RESPONSE_HEADERS) {
    const value = answer.headers.get(name);
    if (value !== null) out.set(name, value);
  }
  out.set(ANSWERED_BY, node);
  return new Response(answer.body, { status: answer.status, headers: out });
}

function message(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } }).cause?.code;
  return `${error instanceof Error ? error.message : String(error)}${typeof cause === "string" ? `: ${cause}` : ""}`;
}
