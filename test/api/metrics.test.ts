// Pins GET /metrics: a live scrape passes `promtool check metrics`; agents, tasks, model calls, HTTP requests (by route template) and queue waits are counted as they happened, every series labelled with the node; alerts fire and resolve as events and count in the metrics.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { createApp } from "../../src/api/app.ts";
import { testFactory, until } from "../helpers.ts";

/** `name{labels} value` lines of an exposition, as [name, labels, value]. */
function samples(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  return text
    .split("\n")
    .filter((line) => line.length > 0 && !line.startsWith("#"))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      assert.ok(match !== null, `not a sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const [, k, v] of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k as string] = v as string;
      return { name: match[1] as string, labels, value: Number(match[3]) };
    });
}

const promtool = spawnSync("promtool", ["--version"]).status === 0;

describe("GET /metrics", () => {
  it("counts what happened, per route template, with the node's label; promtool finds nothing wrong", async () => {
    const { factory, close } = await testFactory({ nodeId: "metrics-node" });
    try {
      const app = createApp(factory);
      factory.registerProfile({ name: "fn", role: "Fn", runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual" } });
      factory.registerProfile({ name: "thinker", role: "Thinker", runtime: { kind: "llm", systemPrompt: "You plan.", maxSteps: 1, maxOutputTokens: 40 }, pool: { spawnStrategy: "manual" } });
      await factory.spawnAgent({ profile: "fn" });
      await factory.spawnAgent({ profile: "fn" });
      const thinker = await factory.spawnAgent({ profile: "thinker" });
      await factory.grantCredits(thinker.walletAddress, 10);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await app.request("/v1/tasks", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ role: "Fn", input: { i } }) });
        ids.push(((await res.json()) as { id: string }).id);
      }
      const thought = await factory.submitTask({ role: "Thinker", input: "plan a trip" });
      for (const id of ids) assert.equal((await app.request(`/v1/tasks/${id}?waitMs=5000`)).status, 200);
      const finished = await factory.waitForTask(thought.id, 10_000);
      assert.equal(finished.state, "SUCCEEDED", JSON.stringify(finished.error));
      assert.equal((await app.request("/v1/tasks/task_nope")).status, 404);

      const res = await app.request("/metrics");
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      const all = samples(text);
      const value = (name: string, labels: Record<string, string> = {}) =>
        all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
      assert.ok(all.every((s) => s.name.startsWith("agent_factory_") && s.labels.node === "metrics-node"), "every series is ours and names the node");
      assert.equal(value("agent_factory_agents", { profile: "fn" }), 2);
      assert.equal(value("agent_factory_agents", { profile: "thinker" }), 1);
      assert.equal(value("agent_factory_tasks_submitted_total"), 4);
      assert.equal(value("agent_factory_tasks_finished_total", { state: "SUCCEEDED" }), 4);
      assert.equal(value("agent_factory_task_duration_seconds_count", { state: "SUCCEEDED" }), 4);
      assert.equal(value("agent_factory_queue_wait_seconds_count", { profile: "fn" }), 3);
      assert.equal(value("agent_factory_model_calls_total", { outcome: "ok" }), 1);
      assert.ok(value("agent_factory_model_tokens_total", { direction: "input" }) > 0);
      assert.equal(value("agent_factory_ledger_entries_total", { kind: "grant" }), 1);
      assert.equal(value("agent_factory_ledger_credits_total", { kind: "grant" }), 10);
      assert.equal(value("agent_factory_http_requests_total", { method: "POST", route: "/v1/tasks", status: "202" }), 3);
      assert.equal(value("agent_factory_http_requests_total", { method: "GET", route: "/v1/tasks/{id}", status: "200" }), 3);
      assert.equal(value("agent_factory_http_requests_total", { method: "GET", route: "/v1/tasks/{id}", status: "404" }), 1);
      assert.equal(all.some((s) => s.labels.route?.includes("task_")), false, "no raw ids in labels");
      assert.ok(value("agent_factory_process_resident_memory_bytes") > 0, "the process's own metrics too");

      // Every metric has its samples from the first scrape on (none waits for another's collect).
      for (const name of ["agent_factory_heal_detection_p50_seconds", "agent_factory_heals_total", "agent_factory_agents_watched", "agent_factory_wakes_total"]) {
        assert.ok(all.some((s) => s.name === name), `${name} in the first scrape`);
      }
      if (promtool) {
        // The first scrape and a later one: both pass.
        const later = await (await app.request("/metrics")).text();
        for (const scrape of [text, later]) {
          const checked = spawnSync("promtool", ["check", "metrics"], { input: scrape, encoding: "utf8" });
          assert.equal(checked.status, 0, `promtool: ${checked.stdout}${checked.stderr}`);
        }
      }
    } finally {
      await close();
    }
  });

  it("promtool is here in CI", { skip: promtool ? false : process.env.CI === "true" ? false : "promtool is not installed (apt-get install prometheus); CI installs it" }, () => {
    assert.ok(promtool, "CI must have promtool (.ci/run installs prometheus)");
  });

  it("an alert fires as an event when a threshold is crossed, resolves once it is back under, and counts once", async () => {
    const { factory, close } = await testFactory({ alerts: { queueDepth: 3, checkMs: 20 } });
    try {
      factory.registerProfile({ name: "slow", role: "Slow", runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual" } });
      const tasks = await Promise.all([1, 2, 3].map((i) => factory.submitTask({ role: "Slow", input: { i } })));
      await until(async () => (await factory.listEvents({ types: ["alert.queue_depth"] })).length === 1, "the alert fires", 3_000);
      await factory.spawnAgent({ profile: "slow" });
      for (const t of tasks) assert.equal((await factory.waitForTask(t.id, 5_000)).state, "SUCCEEDED");
      await until(async () => (await factory.listEvents({ types: ["alert.queue_depth"] })).length === 2, "the alert resolves", 3_000);
      const events = await factory.listEvents({ types: ["alert.queue_depth"] });
      assert.deepEqual(
        events.map((e) => [e.data?.state, e.data?.subject, e.data?.threshold]),
        [["firing", "slow", 3], ["resolved", "slow", 3]],
      );
      assert.equal(events[0]?.data?.value, 3);
      assert.deepEqual(factory.firingAlerts(), []);
      const text = await (await createApp(factory).request("/metrics")).text();
      assert.equal(samples(text).find((s) => s.name === "agent_factory_alerts_total" && s.labels.alert === "queue_depth")?.value, 1);
    } finally {
      await close();
    }
  });
});
