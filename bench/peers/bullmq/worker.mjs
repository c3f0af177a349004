// A BullMQ worker that takes one job and never finishes it: the bench kills it with kill -9
// mid-job, as the factory's bench kills a busy agent. Default worker settings (lock 30 s).
import { Worker } from "bullmq";

const queue = process.argv[2];
const worker = new Worker(
  queue,
  async (job) => {
    process.send?.({ started: job.id });
    await new Promise(() => {}); // busy forever
  },
  { connection: { host: "127.0.0.1", port: 6379 } },
);
worker.on("error", () => {});
