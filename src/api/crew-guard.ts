import type { Context, MiddlewareHandler } from "hono";
import { FactoryError, isFactoryError } from "../core/errors.ts";
import type { Factory } from "../factory/factory.ts";
import { deny, resolvedOf } from "./auth.ts";
import { jsonObjectBody } from "./json-object-body.ts";

/** No such thing: the route answers (404, or the owner node does, which checks again). */
const ABSENT = Symbol("absent");
type CrewOf = string | null | typeof ABSENT;

/**
 * For a crew-limited key, after `authenticate` and the body limit: the request must be about
 * the key's crews only (ACCESS in access.ts says how each operation names its crew). A single
 * thing of another crew, or of none, is 403 `CROSS_CREW`; lists are cut to the key's crews.
 * Keys that are not crew-limited pass untouched.
 */
export function crewGuard(factory: Factory): MiddlewareHandler {
  return async function guardCrews(c, next) {
    const r = resolvedOf(c);
    if (r === undefined || !r.matched || r.principal.crews === null) return next();
    const { principal, access, operationId, params } = r;
    const crews = new Set(principal.crews);
    const refuse = (crewId: string | null, what: string): never => {
      // The answer does not say which crew the thing is of (the caller may not know it); the audit event does.
      const reason = `${what} ${crewId === null ? "belongs to no crew" : "is of a crew this key is not limited to"}`;
      deny(c, factory, principal, operationId, "CROSS_CREW", `${what} ${crewId === null ? "belongs to no crew" : `is of crew ${crewId}`}; the key is limited to ${[...crews].join(", ")}`, crewId);
      throw new FactoryError("CROSS_CREW", `${reason} (it is limited to crews ${[...crews].join(", ")})`, { details: { crews: [...crews] } });
    };
    const check = (crewId: CrewOf, what: string): void => {
      if (crewId !== ABSENT && (crewId === null || !crews.has(crewId))) refuse(crewId, what);
    };
    const owners = new Owners(factory);
    const query = c.req.query();

    switch (access.crews) {
      case "crewless":
        return refuse(null, operationId === undefined ? `${c.req.method} ${c.req.path}` : `${operationId}`);
      case "crewPath":
        check(params.id ?? null, `crew ${params.id}`);
        return next();
      case "agentPath":
        check(await owners.agent(params.id ?? ""), `agent ${params.id}`);
        return next();
      case "taskPath":
        check(await owners.task(params.id ?? ""), `task ${params.id}`);
        return next();
      case "walletPath":
        check(await owners.wallet(params.address ?? ""), `wallet ${params.address}`);
        return next();
      case "crewQuery": {
        const crewId = query.crewId;
        if (crewId === undefined) return refuse(null, `${operationId} without crewId`);
        check(crewId, `crewId ${crewId}`);
        return next();
      }
      case "taskBody":
      case "routeBody": {
        const body = await jsonObjectBody(c);
        // Fail closed: a body this guard cannot read is not let through to a route that might.
        if (body === undefined) throw new FactoryError("VALIDATION_FAILED", "the body must be a JSON object", { field: "body" });
        const crewId = typeof body.crewId === "string" ? body.crewId : null;
        check(crewId, crewId === null ? `${operationId} without crewId` : `crewId ${crewId}`);
        if (typeof body.agentId === "string") check(await owners.agent(body.agentId), `agent ${body.agentId}`);
        await next();
        // An idempotency key is global: a key used before by another crew must not hand back its task.
        if (access.crews === "taskBody") await cutSingle(c, crews, refuse);
        return;
      }
      case "agentBody": {
        const body = await jsonObjectBody(c);
        // Fail closed, as for every body the guard decides by.
        if (body === undefined || typeof body.agentId !== "string") throw new FactoryError("VALIDATION_FAILED", "agentId: the agent whose tools to use is required", { field: "agentId" });
        check(await owners.agent(body.agentId), `agent ${body.agentId}`);
        return next();
      }
      case "grantBody":
      case "transferBody": {
        const body = await jsonObjectBody(c);
        // Fail closed: a body this guard cannot read is not let through to a route that might.
        if (body === undefined) throw new FactoryError("VALIDATION_FAILED", "the body must be a JSON object", { field: "body" });
        for (const field of access.crews === "grantBody" ? ["wallet"] : ["from", "to"]) {
          const address = body[field];
          if (typeof address === "string") check(await owners.wallet(address), `wallet ${address}`);
        }
        return next();
      }
      case "budgetPath":
        check(await owners.budget(params.key ?? ""), `budget ${params.key}`);
        return next();
      case "crewList":
      case "itemList":
      case "budgetList": {
        if (access.crews === "itemList" && query.crewId !== undefined) check(query.crewId, `crewId ${query.crewId}`);
        await next();
        if (c.res.status !== 200) return;
        const body = (await c.res.clone().json()) as { items?: unknown[] };
        if (!Array.isArray(body.items)) return;
        const kept: unknown[] = [];
        for (const item of body.items as Array<Record<string, unknown>>) {
          const crewId =
            access.crews === "crewList" ? (item.id as string) : access.crews === "itemList" ? ((item.crewId as string | null | undefined) ?? null) : await owners.budget(String(item.key));
          if (crewId !== ABSENT && crewId !== null && crews.has(crewId)) kept.push(item);
        }
        replace(c, new Response(JSON.stringify({ ...body, items: kept }), { status: 200, headers: { "content-type": "application/json" } }));
        return;
      }
    }
  };
}

/** A single thing in a 2xx answer whose `crewId` is not one of the key's: the answer becomes 403. */
async function cutSingle(c: Context, crews: ReadonlySet<string>, refuse: (crewId: string | null, what: string) => never): Promise<void> {
  if (c.res.status < 200 || c.res.status >= 300) return;
  const body = (await c.res.clone().json()) as { id?: string; crewId?: string | null };
  const crewId = body.crewId ?? null;
  if (crewId !== null && crews.has(crewId)) return;
  try {
    refuse(crewId, "the task first submitted with this idempotencyKey");
  } catch (error) {
    const json = (error as FactoryError).toJSON();
    replace(c, new Response(JSON.stringify({ error: json }), { status: 403, headers: { "content-type": "application/json" } }));
  }
}

/** Replaces the answer; the old one's length no longer holds (Hono copies the old headers onto the new answer). */
function replace(c: Context, response: Response): void {
  c.res.headers.delete("content-length");
  c.res = response;
}

/** The crews things belong to, read once per request. */
class Owners {
  readonly #factory: Factory;
  constructor(factory: Factory) {
    this.#factory = factory;
  }

  async agent(id: string): Promise<CrewOf> {
    return absentIfNotFound(async () => (await this.#factory.getAgent(id)).crewId);
  }

  async task(id: string): Promise<CrewOf> {
    return absentIfNotFound(async () => (await this.#factory.getTask(id)).crewId);
  }

  async wallet(address: string): Promise<CrewOf> {
    const wallet = await absentIfNotFound(() => this.#factory.getWallet(address));
    if (wallet === ABSENT) return ABSENT;
    if (wallet.ownerKind === "crew") return wallet.ownerId;
    if (wallet.ownerKind === "agent") {
      const crewId = await this.agent(wallet.ownerId);
      return crewId === ABSENT ? null : crewId;
    }
    return null;
  }

  /** `crew:<id>` is that crew's; `agent:<id>` its agent's crew's; `global` no crew's. */
  async budget(key: string): Promise<CrewOf> {
    if (key.startsWith("crew:")) return key.slice(5);
    if (key.startsWith("agent:")) return this.agent(key.slice(6));
    return null;
  }
}

async function absentIfNotFound<T>(read: () => Promise<T>): Promise<T | typeof ABSENT> {
  try {
    return await read();
  } catch (error) {
    if (isFactoryError(error) && error.code.endsWith("NOT_FOUND")) return ABSENT;
    throw error;
  }
}
