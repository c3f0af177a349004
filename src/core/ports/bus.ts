/** Ends a subscription; calling it twice is harmless. */
export type Unsubscribe = () => void;

/**
 * Pub/sub between the parts of a factory (and, with a networked adapter, between nodes).
 * Channels are plain strings; crews use `crew:<id>:<topic>` so nothing leaks across crews.
 * Delivery is at-most-once and best-effort: what must survive goes to the store.
 */
export interface Bus {
  publish(channel: string, message: unknown): void;
  subscribe(channel: string, handler: (message: unknown) => void): Unsubscribe;
  close(): Promise<void>;
}
