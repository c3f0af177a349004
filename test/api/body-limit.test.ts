// Pins that an oversize body gets a 413 JSON answer that Node's own fetch can read (declared length or chunked), and that the server stays healthy.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startServer, type RunningServer } from "../../src/api/server.ts";
import type { Factory } from "../../src/factory/factory.ts";
import { testFactory } from "../helpers.ts";

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
    fetch(`${server.url}/v1/profiles`, { method: "POST", headers: { "content-type": "application/json" }, body, duplex: "half" } as RequestInit);

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

  it("20 MiB with a Content-Length: 413 with the JSON error, answered with Connection: close; the next request is served", async () => {
    for (let round = 0; round < 3; round++) {
      const response = await post(profileOf(20 * MiB));
      assert.equal(response.headers.get("connection"), "close");
      await expect413(response);
      await expectHealthy();
    }
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
    const fits = await fetch(`${server.url}/v1/models/route`, { method: "POST", headers: { "content-type": "application/json" }, body: chunked(body), duplex: "half" } as RequestInit);
    assert.equal(fits.status, 200);
    assert.equal(typeof ((await fits.json()) as { model: string }).model, "string");
  });
});
