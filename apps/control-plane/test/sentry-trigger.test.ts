import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_SENTRY_BODY_BYTES } from "../src/triggers/sentry";
import { api, login } from "./helpers";
import { errorPayload, eventAlertPayload, issuePayload, metricAlertPayload } from "./support/sentry-fixtures";
import { call, memberCookie } from "./support/auth";
import { createTriggerAutomation, pauseAutomation, post, promptTexts, recorded, waitForRecord } from "./support/trigger-deliveries";

const SECRET = "sentry-client-secret-for-tests-0123456789";

let cookie: string;
beforeAll(async () => {
  cookie = await login();
});

async function hmacHex(secret: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
  return [...mac].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** A Sentry automation with its client secret saved through the settings route. */
async function sentryAutomation(conditions: Record<string, unknown> = {}) {
  const automation = await createTriggerAutomation(cookie, "sentry");
  const saved = await api(cookie)("PUT", `/api/triggers/sentry/${automation.id}/settings`, { clientSecret: SECRET, conditions });
  expect(saved.status).toBe(200);
  return automation;
}

interface Delivery {
  resource?: string;
  secret?: string;
  signature?: string | null;
  timestamp?: string | null;
  requestId?: string;
  contentType?: string;
}

/** Sends `body` the way Sentry does: signed over the exact bytes, with its four headers. */
async function deliver(automationId: string, payload: unknown, options: Delivery = {}) {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const headers: Record<string, string> = {
    "content-type": options.contentType ?? "application/json",
    "request-id": options.requestId ?? crypto.randomUUID(),
    "sentry-hook-resource": options.resource ?? "event_alert",
  };
  const timestamp = options.timestamp === undefined ? String(Math.floor(Date.now() / 1000)) : options.timestamp;
  if (timestamp !== null) headers["sentry-hook-timestamp"] = timestamp;
  const signature = options.signature === undefined ? await hmacHex(options.secret ?? SECRET, body) : options.signature;
  if (signature !== null) headers["sentry-hook-signature"] = signature;
  return { requestId: headers["request-id"]!, ...(await post(`/api/triggers/sentry/${automationId}`, body, headers)) };
}

async function sessionCount(): Promise<number> {
  return (await env.DB.prepare("SELECT COUNT(*) AS n FROM sessions").first<{ n: number }>())!.n;
}

describe("Sentry deliveries that are refused", () => {
  const refusals: [string, number, string, (id: string) => ReturnType<typeof deliver>][] = [
    [
      "a bad signature",
      401,
      "WEBHOOK_SIGNATURE_INVALID",
      (id) => deliver(id, eventAlertPayload(), { secret: "not-the-client-secret-0123456789" }),
    ],
    ["a missing signature", 401, "WEBHOOK_SIGNATURE_INVALID", (id) => deliver(id, eventAlertPayload(), { signature: null })],
    [
      "a stale timestamp",
      401,
      "STALE_REQUEST",
      (id) => deliver(id, eventAlertPayload(), { timestamp: String(Math.floor(Date.now() / 1000) - 3600) }),
    ],
    ["a missing timestamp", 401, "STALE_REQUEST", (id) => deliver(id, eventAlertPayload(), { timestamp: null })],
    ["a malformed Request-ID", 400, "BAD_REQUEST", (id) => deliver(id, eventAlertPayload(), { requestId: "not a uuid" })],
    [
      "an oversized body",
      413,
      "PAYLOAD_TOO_LARGE",
      (id) => deliver(id, { ...eventAlertPayload(), pad: "x".repeat(MAX_SENTRY_BODY_BYTES) }),
    ],
    ["malformed JSON", 400, "INVALID_JSON", (id) => deliver(id, '{"action": "triggered", "data": ')],
    ["a wrong content type", 415, "UNSUPPORTED_MEDIA_TYPE", (id) => deliver(id, eventAlertPayload(), { contentType: "text/plain" })],
    ["a body not in the resource's shape", 422, "VALIDATION_FAILED", (id) => deliver(id, eventAlertPayload(), { resource: "issue" })],
  ];

  for (const [what, status, code, send] of refusals) {
    it(`refuses ${what} with ${status} ${code}, starts nothing and records only the refusal`, async () => {
      const automation = await sentryAutomation();
      const before = await sessionCount();
      const response = await send(automation.id);
      expect(response.status).toBe(status);
      expect(response.json.error.code).toBe(code);
      const { deliveries, runs } = await recorded(automation.id);
      expect(deliveries).toHaveLength(1);
      expect(deliveries[0]).toMatchObject({ status: "refused", delivery_id: response.requestId });
      expect(deliveries[0]!.reason).toContain(code);
      expect(runs).toEqual([]);
      expect(await sessionCount()).toBe(before);
    });
  }

  it("refuses a delivery for an unknown automation with 404, recording it under no automation", async () => {
    const response = await deliver("aut_doesnotexist", eventAlertPayload());
    expect(response.status).toBe(404);
    expect(response.json.error.code).toBe("AUTOMATION_NOT_FOUND");
    const row = await env.DB.prepare("SELECT automation_id, status FROM trigger_deliveries WHERE delivery_id = ?")
      .bind(response.requestId)
      .first();
    expect(row).toEqual({ automation_id: null, status: "refused" });
  });

  it("refuses a delivery for a paused automation with 409 once its signature verifies", async () => {
    const automation = await sentryAutomation();
    await pauseAutomation(cookie, automation.id);
    const before = await sessionCount();
    const forged = await deliver(automation.id, eventAlertPayload(), { secret: "not-the-client-secret-0123456789" });
    expect(forged.status).toBe(401);
    const response = await deliver(automation.id, eventAlertPayload());
    expect(response.status).toBe(409);
    expect(response.json.error.code).toBe("AUTOMATION_PAUSED");
    const { deliveries, runs } = await recorded(automation.id);
    expect(deliveries.map((d) => d.status)).toEqual(["refused", "refused"]);
    expect(runs).toEqual([]);
    expect(await sessionCount()).toBe(before);
  });

  it("refuses every delivery while no client secret is saved (fails closed)", async () => {
    const automation = await createTriggerAutomation(cookie, "sentry");
    const response = await deliver(automation.id, eventAlertPayload());
    expect(response.status).toBe(503);
    expect(response.json.error.code).toBe("SERVICE_NOT_CONFIGURED");
  });

  it("acknowledges a replayed delivery as a duplicate and does nothing again", async () => {
    const automation = await sentryAutomation();
    const first = await deliver(automation.id, eventAlertPayload("5001"));
    expect(first.status).toBe(202);
    expect(first.json).toEqual({ ok: true, deliveryId: first.requestId, duplicate: false });
    await waitForRecord(automation.id, ({ runs }) => runs[0]?.status === "running");
    const replay = await deliver(automation.id, eventAlertPayload("5001"), { requestId: first.requestId });
    expect(replay.status).toBe(200);
    expect(replay.json).toEqual({ ok: true, deliveryId: first.requestId, duplicate: true });
    const { deliveries, runs } = await recorded(automation.id);
    expect(deliveries.map((d) => d.status)).toEqual(["started", "replayed"]);
    expect(runs).toHaveLength(1);
  });
});

describe("Sentry deliveries in the shapes Sentry documents", () => {
  const resources: [string, () => Record<string, unknown>, string, string][] = [
    ["event_alert", () => eventAlertPayload("6001"), "sentry:issue:6001", "Title: ReferenceError: heck is not defined"],
    ["error", () => errorPayload("6002"), "sentry:issue:6002", "Title: ReferenceError: blooopy is not defined"],
    ["issue", () => issuePayload("6003"), "sentry:issue:6003", "First seen: 2019-08-19T20:58:37.391000Z"],
    ["metric_alert", () => metricAlertPayload("critical", "61"), "sentry:metric-alert:61", "Title: Critical: Too many errors"],
  ];

  for (const [resource, payload, subject, line] of resources) {
    it(`starts a session from ${resource}, its context fenced after the instructions`, async () => {
      const automation = await sentryAutomation();
      const response = await deliver(automation.id, payload(), { resource });
      expect(response.status).toBe(202);
      const run = await waitForRecord(automation.id, ({ runs }) => (runs[0]?.status === "running" ? runs[0] : undefined));
      expect(run.dedupe_key).toBe(subject);
      const [prompt] = await promptTexts(cookie, run.session_id!);
      expect(prompt!.startsWith("Triage the alert below and fix its cause.")).toBe(true);
      const fenced = prompt!.slice(prompt!.indexOf("```untrusted"));
      expect(fenced).toContain(line);
    });
  }

  it("records a resource that asks for no work (an installation) as a skipped run", async () => {
    const automation = await sentryAutomation();
    const installation = { action: "created", data: { installation: { uuid: "a8e5d37a-696c-4c54-adb5-b3f28d64c7de" } } };
    expect((await deliver(automation.id, installation, { resource: "installation" })).status).toBe(202);
    const run = await waitForRecord(automation.id, ({ runs }) => runs[0]);
    expect(run).toMatchObject({ status: "skipped", session_id: null, reason: 'Sentry-Hook-Resource "installation" starts no work' });
  });

  it("records a resolution as a skipped run that says why", async () => {
    const automation = await sentryAutomation();
    expect((await deliver(automation.id, issuePayload("6010", "resolved"), { resource: "issue" })).status).toBe(202);
    const run = await waitForRecord(automation.id, ({ runs }) => runs[0]);
    expect(run).toMatchObject({ status: "skipped", session_id: null, reason: 'Sentry issue "resolved" asks for no work' });
  });

  it("records a delivery its conditions turn down as a skipped run with the reason", async () => {
    const automation = await sentryAutomation({ environments: ["staging"], levels: ["fatal", "error"] });
    expect((await deliver(automation.id, eventAlertPayload("6020"))).status).toBe(202);
    const run = await waitForRecord(automation.id, ({ runs }) => runs[0]);
    expect(run).toMatchObject({ status: "skipped", session_id: null, reason: "environment production is not one of staging" });
  });
});

describe("Sentry triage", () => {
  it("sends a second alert for the same Sentry issue to the first session as a follow-up", async () => {
    const automation = await sentryAutomation();
    expect((await deliver(automation.id, eventAlertPayload("7001"))).status).toBe(202);
    const first = await waitForRecord(automation.id, ({ runs }) => (runs[0]?.status === "running" ? runs[0] : undefined));
    expect((await deliver(automation.id, eventAlertPayload("7001"))).status).toBe(202);
    const second = await waitForRecord(automation.id, ({ runs }) => runs[1]);
    expect(second).toMatchObject({ follow_up: 1, session_id: first.session_id, dedupe_key: "sentry:issue:7001" });
    expect(await promptTexts(cookie, first.session_id!)).toHaveLength(2);
    // Another issue is another session.
    expect((await deliver(automation.id, eventAlertPayload("7002"))).status).toBe(202);
    const third = await waitForRecord(automation.id, ({ runs }) => (runs[2]?.status === "running" ? runs[2] : undefined));
    expect(third.follow_up).toBe(0);
    expect(third.session_id).not.toBe(first.session_id);
  });
});

describe("Sentry settings", () => {
  it("never returns the client secret, and only the owner or an admin saves one", async () => {
    const automation = await sentryAutomation({ projects: ["front-end"] });
    const read = await api(cookie)("GET", `/api/triggers/sentry/${automation.id}/settings`);
    expect(read.status).toBe(200);
    expect(read.json.settings).toMatchObject({
      clientSecretSet: true,
      conditions: { projects: ["front-end"], environments: [], levels: [], resources: [] },
      url: `http://127.0.0.1:8787/api/triggers/sentry/${automation.id}`,
    });
    expect(JSON.stringify(read.json)).not.toContain(SECRET);
    const sealed = await env.DB.prepare("SELECT secret_ciphertext FROM sentry_triggers WHERE automation_id = ?")
      .bind(automation.id)
      .first<{ secret_ciphertext: string }>();
    expect(sealed!.secret_ciphertext).not.toContain(SECRET);
    const member = api(await memberCookie("sentry-settings-member"));
    expect((await member("GET", `/api/triggers/sentry/${automation.id}/settings`)).status).toBe(200);
    const changed = await member("PUT", `/api/triggers/sentry/${automation.id}/settings`, { clientSecret: "a-member-chose-this-secret" });
    expect(changed.status).toBe(403);
    expect((await deliver(automation.id, eventAlertPayload("8001"), { secret: "a-member-chose-this-secret" })).status).toBe(401);
  });

  it("re-seals the client secret under the newest key when a delivery opens it, so the old key can be dropped", async () => {
    const automation = await sentryAutomation();
    const keyVersion = async () =>
      (await env.DB.prepare("SELECT secret_key_version AS v FROM sentry_triggers WHERE automation_id = ?")
        .bind(automation.id)
        .first<{ v: string }>())!.v;
    expect(await keyVersion()).toBe("k2");
    const k3 = `k3:${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;
    const deliverWith = async (keys: string) => {
      const body = JSON.stringify(issuePayload("9001", "resolved"));
      const headers = {
        "content-type": "application/json",
        "request-id": crypto.randomUUID(),
        "sentry-hook-resource": "issue",
        "sentry-hook-timestamp": String(Math.floor(Date.now() / 1000)),
        "sentry-hook-signature": await hmacHex(SECRET, body),
      };
      return (await call(`/api/triggers/sentry/${automation.id}`, { method: "POST", headers, body }, { SECRETS_ENCRYPTION_KEYS: keys }))
        .status;
    };
    expect(await deliverWith(`${k3},${env.SECRETS_ENCRYPTION_KEYS}`)).toBe(202);
    expect(await keyVersion()).toBe("k3");
    expect(await deliverWith(k3)).toBe(202);
  });

  it("refuses a first save without a client secret", async () => {
    const automation = await createTriggerAutomation(cookie, "sentry");
    const saved = await api(cookie)("PUT", `/api/triggers/sentry/${automation.id}/settings`, { conditions: { levels: ["fatal"] } });
    expect(saved.status).toBe(422);
  });
});
