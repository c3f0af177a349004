// The README's library example, runnable from a checkout: npm run example (which resolves "agent-factory" to src/)
import { createFactory } from "agent-factory";

const factory = await createFactory({
  dataDir: ":memory:",
  handlers: {
    summarize: async (input, ctx) => {
      await ctx.crew?.set("last", input);
      return { words: String(input).split(" ").length };
    },
  },
});
factory.registerProfile({ name: "writer", role: "DocAgent", runtime: { kind: "function", handler: "summarize" } });
const { crew } = await factory.assembleCrew({ name: "docs", members: [{ profile: "writer", count: 2 }] });
const task = await factory.submitTask({ role: "DocAgent", crewId: crew.id, input: "hello agent factory" });
console.log((await factory.waitForTask(task.id, 5_000)).result);
console.log(await factory.getContext(crew.id));
await factory.close();
