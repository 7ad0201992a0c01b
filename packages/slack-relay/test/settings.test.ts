import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { MemoryNonceStore, verifySignedRequest } from "@lookout/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { RELAY_SETTINGS_PATH, SLACK_RELAY_SERVICE, fetchRelaySettings } from "../src/index";

const SECRET = "relay-settings-secret";
const APP_TOKEN = "xapp-1-A0LOOKOUT-pasted";

/** A stand-in for the Worker's `GET /api/slack/relay`: verifies the service signature like the control plane. */
async function startFakeWorker(answer: unknown): Promise<{ url: string; paths: string[]; close(): Promise<void> }> {
  const nonces = new MemoryNonceStore();
  const paths: string[] = [];
  const server: Server = createServer((request, response) => {
    paths.push(`${request.method} ${request.url}`);
    const headers = new Headers(Object.entries(request.headers).map(([k, v]) => [k, String(v)]));
    void verifySignedRequest(
      headers,
      { method: request.method ?? "", pathAndQuery: request.url ?? "", body: "" },
      { secrets: { [SLACK_RELAY_SERVICE]: SECRET }, nonces },
    )
      .then(() => true)
      .catch(() => false)
      .then((verified) => {
        response.writeHead(verified ? 200 : 401, { "content-type": "application/json" });
        response.end(
          JSON.stringify(verified ? answer : { error: { code: "INVALID_SIGNATURE", message: "The request signature does not verify." } }),
        );
      });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    paths,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("fetchRelaySettings", () => {
  it("asks the control plane, signed as slack-relay, for the mode and the app-level token pasted in the dashboard", async () => {
    const worker = await startFakeWorker({ mode: "socket", appToken: APP_TOKEN });
    cleanups.push(() => worker.close());
    expect(await fetchRelaySettings(worker.url, SECRET)).toEqual({ mode: "socket", appToken: APP_TOKEN });
    expect(worker.paths).toEqual([`GET ${RELAY_SETTINGS_PATH}`]);
  });

  it("throws with the control plane's answer when it refuses the relay's signature", async () => {
    const worker = await startFakeWorker({ mode: "socket", appToken: APP_TOKEN });
    cleanups.push(() => worker.close());
    await expect(fetchRelaySettings(worker.url, "a-different-secret")).rejects.toThrow(
      /refused the relay's settings request \(401\).*INVALID_SIGNATURE/,
    );
  });

  it("refuses an answer that is not the settings' shape", async () => {
    const worker = await startFakeWorker({ mode: "carrier-pigeon" });
    cleanups.push(() => worker.close());
    await expect(fetchRelaySettings(worker.url, SECRET)).rejects.toThrow();
  });
});
