// A real Prometheus (Debian's `prometheus`) scrapes a real `serve` with a viewer key, and its query API answers the agent count the factory's API gives.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { until } from "../helpers.ts";
import { ENV, startServe, type Server } from "./serve.ts";

const installed = spawnSync("prometheus", ["--version"]).status === 0;
const skip = installed ? false : process.env.CI === "true" ? false : "prometheus is not installed (apt-get install prometheus); CI installs it";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

describe("a real Prometheus scrapes the factory", { timeout: 90_000, skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), "af-prom-"));
  let server: Server | undefined;
  let prometheus: ReturnType<typeof spawn> | undefined;
  after(async () => {
    prometheus?.kill("SIGTERM");
    if (server !== undefined && server.child.exitCode === null) {
      server.child.kill("SIGTERM");
      await server.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers sum(agent_factory_agents) with the API's agent count", async () => {
    const admin = "prom-test-admin-key";
    server = await startServe(["--data", join(dir, "data")], (s) => (server = s), { ...ENV, AGENT_FACTORY_API_KEY: admin });
    const url = server.url;
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return (await res.json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    };
    const viewer = (await api("POST", "/v1/keys", { name: "prometheus", role: "viewer" })).secret as string;
    await api("POST", "/v1/profiles", { name: "fn", role: "Fn", runtime: { kind: "function", handler: "echo" }, pool: { spawnStrategy: "manual" } });
    for (let i = 0; i < 3; i++) await api("POST", "/v1/agents", { profile: "fn" });
    const count = ((await api("GET", "/v1/agents")).items as unknown[]).length;
    assert.equal(count, 3);

    const port = await freePort();
    const target = new URL(url).host;
    writeFileSync(
      join(dir, "prometheus.yml"),
      [
        "global: { scrape_interval: 1s, evaluation_interval: 1s }",
        "scrape_configs:",
        "  - job_name: agent-factory",
        "    authorization: { credentials_file: " + JSON.stringify(join(dir, "key")) + " }",
        `    static_configs: [{ targets: [${JSON.stringify(target)}] }]`,
        "",
      ].join("\n"),
    );
    writeFileSync(join(dir, "key"), viewer);
    prometheus = spawn("prometheus", [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "tsdb")}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: "ignore" });

    let answer: unknown;
    await until(
      async () => {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent('sum(agent_factory_agents{profile="fn"})')}`);
          const body = (await res.json()) as { data?: { result?: Array<{ value: [number, string] }> } };
          answer = body.data?.result?.[0]?.value[1];
          return answer !== undefined;
        } catch {
          return false;
        }
      },
      "Prometheus to have scraped the factory",
      45_000,
    );
    assert.equal(Number(answer), count);
    // The scrape was healthy, with the viewer key.
    const up = (await (await fetch(`http://127.0.0.1:${port}/api/v1/query?query=up`)).json()) as { data: { result: Array<{ value: [number, string] }> } };
    assert.equal(up.data.result[0]?.value[1], "1");
  });
});
