// The dashboard's one door to the API: the operator key, JSON reads, and the live event stream.
// The key lives in sessionStorage (this tab only) and travels only in the Authorization header:
// `#key=` is a fragment, which the browser never sends, and it is wiped from the address bar at once.
import { createParser } from "eventsource-parser";

const KEY = "agent-factory.key";

/** Takes a key from `#key=KEY` (then removes it from the URL and history). */
export function takeKeyFromFragment() {
  const match = /^#key=(.+)$/.exec(location.hash);
  if (match === null) return;
  setKey(decodeURIComponent(match[1]));
  history.replaceState(null, "", location.pathname + location.search);
}

export const getKey = () => sessionStorage.getItem(KEY);
export const setKey = (key) => sessionStorage.setItem(KEY, key.trim());
export const clearKey = () => sessionStorage.removeItem(KEY);

/** A 401: no key, or one the server does not know (any more). */
export class Unauthorized extends Error {}

function headers(extra = {}) {
  const key = getKey();
  return key === null ? extra : { ...extra, authorization: `Bearer ${key}` };
}

/**
 * Whether the server wants a key, read from its OpenAPI document (`security` lists `{}` — no
 * key — only while no key exists), so the page asks before its first call instead of collecting a 401.
 */
export async function keyRequired() {
  const response = await fetch("/openapi.json");
  const doc = await response.json();
  return !(doc.security ?? []).some((s) => Object.keys(s).length === 0);
}

/** GET a `/v1` route as JSON; throws Unauthorized on 401 and an Error with the server's message otherwise. */
export async function get(path) {
  const response = await fetch(path, { headers: headers({ accept: "application/json" }) });
  if (response.status === 401) throw new Unauthorized("the key was refused");
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(body?.error?.message ?? `${response.status} ${response.statusText}`), { status: response.status, code: body?.error?.code });
  return body;
}

/**
 * Reads `GET /v1/events` as Server-Sent Events over fetch — EventSource cannot send an
 * Authorization header — and reconnects with Last-Event-ID after a drop, so no event is missed.
 * `onEvent(event)` gets each FactoryEvent (whatever its type: `alert.*` too); `onReady()` once
 * stored events are replayed. Returns a function that stops it.
 */
export function streamEvents(query, { onEvent, onReady = () => {}, onError = () => {}, once = false }) {
  const stop = new AbortController();
  let lastId;
  const run = async () => {
    while (!stop.signal.aborted) {
      try {
        const extra = { accept: "text/event-stream", ...(lastId === undefined ? {} : { "last-event-id": lastId }) };
        const response = await fetch(`/v1/events${query}`, { headers: headers(extra), signal: stop.signal });
        if (response.status === 401) throw new Unauthorized("the key was refused");
        if (!response.ok || response.body === null) throw new Error(`event stream: ${response.status}`);
        let ready = false;
        const parser = createParser({
          onEvent(message) {
            if (message.id !== undefined) lastId = message.id;
            if (message.event === "ready") {
              ready = true;
              onReady(JSON.parse(message.data));
              if (once) stop.abort();
              return;
            }
            if (message.event === "overflow") return;
            try {
              onEvent(JSON.parse(message.data));
            } catch (error) {
              console.warn("dashboard: an event the page could not read", error);
            }
          },
        });
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parser.feed(value);
        }
        if (once && ready) return;
      } catch (error) {
        if (stop.signal.aborted) return;
        onError(error);
        if (error instanceof Unauthorized) return;
      }
      // The server went away or cut us off: try again shortly, from the last event seen.
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  };
  void run();
  return () => stop.abort();
}
