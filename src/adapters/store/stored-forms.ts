// What every store adapter reads the same way from what it keeps (no driver here: the memory store loads none).

/** How much of an ISO `at` (`2026-01-31T09:15:00.000Z`) names its UTC hour, day or month. */
export const PERIOD_CHARS = { hour: 13, day: 10, month: 7 } as const;

/** The event type crew messages are kept as (retention's "messages"). */
export const MESSAGE_EVENT = "crew.message";
