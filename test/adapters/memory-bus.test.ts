// Runs the Bus conformance suite against the in-process bus (one process: the cross-node promises do not apply).
import { MemoryBus } from "../../src/adapters/bus/memory/memory-bus.ts";
import type { Bus } from "../../src/core/ports/bus.ts";
import { busConformance, type OpenedBus } from "../conformance/bus.conformance.ts";

busConformance(
  "memory",
  async () => {
    const opened: Bus[] = [];
    return {
      async open(): Promise<OpenedBus> {
        const handlerErrors: OpenedBus["handlerErrors"] = [];
        const bus = new MemoryBus({ onHandlerError: (error, channel) => handlerErrors.push({ error, channel }) });
        opened.push(bus);
        return { bus, handlerErrors };
      },
      // Subscriptions take effect during subscribe: nothing to wait for.
      settled: async () => {},
      async cleanup() {
        await Promise.all(opened.map((bus) => bus.close()));
      },
    };
  },
  { networked: false },
);
