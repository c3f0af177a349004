/** Ends a subscription; calling it twice is harmless. */
export type Unsubscribe = () => void;

/**
 * Pub/sub between the parts of a factory (and, with a networked adapter, between nodes).
 * Channels are plain strings; crews use `crew:<id>:<topic>` so nothing leaks across crews.
 * Delivery is at-most-once and best-effort: what must survive goes to the store.
 *
 * What every adapter promises (test/conformance/bus.conformance.ts):
 * - A handler gets each message published on exactly its channel (no prefix matching) after
 *   it subscribed, once, in the order one publisher published them. A handler in the
 *   publisher's own process is called before `publish` returns; a handler on another node
 *   gets it once its subscription has reached the server, some time later.
 * - Messages are JSON values, and a handler receives one deep-equal to what was published.
 *   Beyond JSON the adapters differ, so publishers send JSON only: the memory bus hands over
 *   the object itself (a `Date` stays a `Date`), a networked bus what `JSON.stringify` makes
 *   of it (`undefined` properties gone, `undefined` in arrays `null`, a `Date` its ISO string)
 *   and throws a TypeError at `publish` for what it cannot encode (a cycle, a BigInt).
 * - Handlers must not change a message: every handler in a process may get the same object.
 * - A handler that throws is reported through the adapter's `onHandlerError`; the others of
 *   the channel still get the message.
 * - After `close()`, `publish` drops the message and `subscribe` delivers nothing: both are
 *   harmless, as an event emitted while a factory shuts down must be.
 */
export interface Bus {
  publish(channel: string, message: unknown): void;
  subscribe(channel: string, handler: (message: unknown) => void): Unsubscribe;
  close(): Promise<void>;
}
