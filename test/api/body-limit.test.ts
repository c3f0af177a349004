// Pins that an oversize body gets a 413 JSON answer that Node's own fetch can read (declared length or chunked), and that the server stays healthy.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startServer, type RunningServer } from "../../src/api/server.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { tempDir, testFactory } from "../helpers.ts";
import { startServe, type Server } from "../e2e/serve.ts";

const MiB = 1024 * 1024;

/** A profile whose description makes the JSON body about `bytes` long. */
const profileOf = (bytes: number): string => JSON.stringify({ name: "big", role: "Coder", description: "x".repeat(bytes) });

/** The same text as a stream of 64 KiB chunks: fetch sends it chunked, with no Content-Length. */
function chunked(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, offset + 64 * 1024));
      offset += 64 * 1024;
    },
  });
}

describe("413 for an oversize body, readable by Node's fetch", () => {
  let factory: Factory;
  let close: () => Promise<void>;
  let server: RunningServer;

  before(async () => {
    ({ factory, close } = await testFactory());
    server = await startServer(factory, { port: 0, host: "127.0.0.1" });
  });
  after(async () => {
    await server.close({ force: true });
    await close();
  });

  const post = (body: string | ReadableStream<Uint8Array>): Promise<Response> =>
    fetch(`${server.url}/v1/profiles`, { method: "POST", headers: { "content-type": "application/json" }, body, duplex: "half" });

  async function expect413(response: Response): Promise<void> {
    assert.equal(response.status, 413);
    assert.deepEqual(await response.json(), { error: { code: "PAYLOAD_TOO_LARGE", message: `the body is larger than the limit of ${MiB} bytes` } });
  }

  async function expectHealthy(): Promise<void> {
    const health = await fetch(`${server.url}/health`);
    assert.deepEqual([health.status, await health.json()], [200, { status: "ok" }]);
  }

  it("2 MiB with a Content-Length: 413 with the JSON error; the body is drained, so the connection stays open", async () => {
    for (let round = 0; round < 3; round++) {
      const response = await post(profileOf(2 * MiB));
      assert.equal(response.headers.get("connection"), "keep-alive");
      await expect413(response);
      await expectHealthy();
    }
  });

  it("20 MiB with a Content-Length: drained too (up to 64 MiB), so 413 with the JSON error on a connection that stays open", async () => {
    for (let round = 0; round < 3; round++) {
      const response = await post(profileOf(20 * MiB));
      assert.equal(response.headers.get("connection"), "keep-alive");
      await expect413(response);
      await expectHealthy();
    }
  });

  it("80 MiB with a Content-Length (over what is drained): 413 answered with Connection: close at once; the next request is served", async () => {
    // The answer comes before the body is read, so the client may or may not finish sending: either outcome is allowed here,
    // but when it reads an answer, that answer is the 413 with Connection: close.
    const response = await post(profileOf(80 * MiB)).catch((error: Error) => error);
    if (response instanceof Response) {
      assert.equal(response.headers.get("connection"), "close");
      await expect413(response);
    }
    await expectHealthy();
  });

  it("2 MiB and 20 MiB sent chunked (no Content-Length): 413 with the JSON error", async () => {
    for (const size of [2 * MiB, 20 * MiB]) {
      await expect413(await post(chunked(profileOf(size))));
      await expectHealthy();
    }
  });

  it("nothing of a refused body is kept, and a chunked body under the limit is read whole (a cut one would be MALFORMED_JSON)", async () => {
    assert.deepEqual(factory.listProfiles(), []);
    const body = JSON.stringify({ metadata: { pad: "x".repeat(MiB - 1024) }, estimatedInputTokens: 10 });
    const fits = await fetch(`${server.url}/v1/models/route`, { method: "POST", headers: { "content-type": "application/json" }, body: chunked(body), duplex: "half" });
    assert.equal(fits.status, 200);
    assert.equal(typeof ((await fits.json()) as { model: string }).model, "string");
  });
});

describe("413 from a real `serve` process, read by Node's fetch in another process", () => {
  // In one process the server reads while the client writes; across processes a server that
  // answered early left the client writing into a closed socket (EPIPE) for bodies over 4 MiB.
  let server: Server;
  let data: { path: string; cleanup(): void };
  before(async () => {
    data = tempDir("af-413-");
    server = await startServe(["--data", data.path], (s) => (server = s));
  });
  after(async () => {
    server.child.kill("SIGKILL");
    await server.exited;
    data.cleanup();
  });

  it("4.2, 6 and 20 MiB bodies each get the 413 JSON error, four times in a row", { timeout: 60_000 }, async () => {
    for (const mib of [4.2, 6, 20]) {
      for (let round = 0; round < 4; round++) {
        const response = await fetch(`${server.url}/v1/profiles`, { method: "POST", headers: { "content-type": "application/json" }, body: profileOf(Math.floor(mib * MiB)) });
        assert.equal(response.status, 413, `${mib} MiB, round ${round}`);
        assert.equal(((await response.json()) as { error: { code: string } }).error.code, "PAYLOAD_TOO_LARGE");
      }
    }
  });
});
