import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { MemoryNonceStore, SlackSocketEnvelope, verifySignedRequest } from "@lookout/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { type ForwardResult, SLACK_RELAY_SERVICE, SlackRelay } from "../src/index";
import { type FakeSocketSlack, startFakeSocketSlack } from "./fake-socket-slack";

const APP_TOKEN = "xapp-1-A0LOOKOUT-fake";
const SECRET = "relay-test-secret";

interface Received {
  envelope: SlackSocketEnvelope;
  at: number;
  verified: boolean;
}

/** A stand-in for the Worker's `/api/slack/socket`: verifies the service signature like the control plane. */
async function startFakeWorker(status = 200): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const nonces = new MemoryNonceStore();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = new Uint8Array(Buffer.concat(chunks));
      const headers = new Headers(Object.entries(request.headers).map(([k, v]) => [k, String(v)]));
      void verifySignedRequest(
        headers,
        { method: request.method ?? "", pathAndQuery: request.url ?? "", body },
        { secrets: { [SLACK_RELAY_SERVICE]: SECRET }, nonces },
      )
        .then(() => true)
        .catch(() => false)
        .then((verified) => {
          received.push({ envelope: SlackSocketEnvelope.parse(JSON.parse(new TextDecoder().decode(body))), at: Date.now(), verified });
          response.writeHead(verified ? status : 401, { "content-type": "application/json" });
          response.end(JSON.stringify({ ok: verified, answer: "ack" }));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: { workerStatus?: number; secret?: string } = {}) {
  const slack: FakeSocketSlack = await startFakeSocketSlack(APP_TOKEN);
  cleanups.push(() => slack.close());
  const worker = await startFakeWorker(options.workerStatus);
  cleanups.push(() => worker.close());
  const results: ForwardResult[] = [];
  const relay = new SlackRelay({
    appToken: APP_TOKEN,
    workerUrl: worker.url,
    serviceSecret: options.secret ?? SECRET,
    slackApiUrl: slack.apiUrl,
    // Short, so the reconnect after a refresh (which waits one ping timeout) is quick.
    clientPingTimeoutMs: 200,
    onForwarded: (result) => results.push(result),
  });
  cleanups.push(() => relay.stop());
  await relay.start();
  await slack.connected;
  return { slack, worker, results };
}

async function until<T>(check: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const mention = {
  envelope_id: "env-1",
  type: "events_api",
  accepts_response_payload: false,
  retry_attempt: 0,
  retry_reason: "",
  payload: {
    type: "event_callback",
    team_id: "T0LOOKOUT",
    event_id: "Ev0001",
    event: { type: "app_mention", user: "U0ALICE", text: "<@U0LOOKOUT> hi", ts: "1.000100", channel: "C0GENERAL" },
  },
};

describe("the Slack Socket Mode relay", () => {
  it("opens the connection with the app token, acks each envelope and hands it to the Worker signed as slack-relay", async () => {
    const { slack, worker, results } = await setup();
    expect(slack.opens).toBe(1);
    slack.send(mention);
    const [result] = await until(() => (results.length > 0 ? results : undefined));
    expect(result).toMatchObject({ envelopeId: "env-1", ok: true, status: 200 });
    expect(slack.acks.map((ack) => ack.envelope_id)).toEqual(["env-1"]);
    expect(worker.received).toHaveLength(1);
    const [received] = worker.received;
    expect(received!.verified).toBe(true);
    expect(received!.envelope).toEqual({ envelopeId: "env-1", type: "events_api", payload: mention.payload, retryAttempt: 0 });
    // The ack goes to Slack before the hand-off reaches the Worker.
    expect(slack.acks[0]!.at).toBeLessThanOrEqual(received!.at);
  });

  it("hands on interactions and slash commands, and passes Slack's retry on", async () => {
    const { slack, worker } = await setup();
    slack.send({
      envelope_id: "env-2",
      type: "interactive",
      accepts_response_payload: false,
      payload: { type: "block_actions", team: { id: "T0LOOKOUT" } },
    });
    slack.send({
      envelope_id: "env-3",
      type: "slash_commands",
      accepts_response_payload: true,
      payload: { command: "/lookout", team_id: "T0LOOKOUT", text: "" },
    });
    slack.send({ ...mention, envelope_id: "env-4", retry_attempt: 2, retry_reason: "timeout" });
    await until(() => worker.received.length === 3);
    // Each envelope is handed on as it comes, concurrently, so they may reach the Worker in any order.
    const byId = (a: { envelope: { envelopeId: string } }, b: { envelope: { envelopeId: string } }) =>
      a.envelope.envelopeId.localeCompare(b.envelope.envelopeId);
    const received = [...worker.received].sort(byId);
    expect(received.map((r) => [r.envelope.envelopeId, r.envelope.type])).toEqual([
      ["env-2", "interactive"],
      ["env-3", "slash_commands"],
      ["env-4", "events_api"],
    ]);
    expect(received[2]!.envelope).toMatchObject({ retryAttempt: 2, retryReason: "timeout" });
    expect(slack.acks.map((ack) => ack.envelope_id).sort()).toEqual(["env-2", "env-3", "env-4"]);
  });

  it("reconnects when Slack asks for a refresh, through a new apps.connections.open", async () => {
    const { slack, worker } = await setup();
    slack.requestRefresh();
    await slack.connected;
    expect(slack.opens).toBe(2);
    slack.send({ ...mention, envelope_id: "env-5" });
    await until(() => worker.received.length === 1);
    expect(worker.received[0]!.envelope.envelopeId).toBe("env-5");
  });

  it("still acks an envelope the Worker refuses, and reports the refusal", async () => {
    const { slack, results } = await setup({ secret: "not-the-secret" });
    slack.send({ ...mention, envelope_id: "env-6" });
    const [result] = await until(() => (results.length > 0 ? results : undefined));
    expect(result).toMatchObject({ envelopeId: "env-6", ok: false, status: 401 });
    expect(slack.acks.map((ack) => ack.envelope_id)).toEqual(["env-6"]);
  });
});
