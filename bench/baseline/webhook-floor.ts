/**
 * The floor the webhook acknowledgement benchmark compares Lookout's trigger endpoints against: a
 * Worker that verifies the sender the way Lookout does and answers at once, with no database, no
 * record of the delivery and no work after the answer. Whatever Lookout's acknowledgement costs
 * beyond this is the price of its own checks and the delivery record.
 *
 * - `POST /sentry`: `Sentry-Hook-Signature` (hex HMAC-SHA256 of the raw body under the client
 *   secret, the key imported per request as Lookout does), `Sentry-Hook-Timestamp` within five
 *   minutes, a `Request-ID`; answers 202 with Lookout's acknowledgement body.
 * - `POST /webhook`: the `X-Lookout-Webhook-Key` hashed with SHA-256 and compared in constant time
 *   with the stored hash; answers 202 likewise.
 * - `GET /health`.
 */
interface Env {
  SENTRY_CLIENT_SECRET: string;
  WEBHOOK_KEY_SHA256: string;
}

const TIMESTAMP_WINDOW_MS = 5 * 60 * 1000;
const HEX_SHA256 = /^[0-9a-f]{64}$/;

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return new Response("ok");
    if (request.method === "POST" && url.pathname === "/sentry") return sentry(request, env);
    if (request.method === "POST" && url.pathname === "/webhook") return webhook(request, env);
    return new Response("not found", { status: 404 });
  },
} satisfies ExportedHandler<Env>;

async function sentry(request: Request, env: Env): Promise<Response> {
  const body = await request.arrayBuffer();
  const signature = request.headers.get("sentry-hook-signature")?.trim().toLowerCase() ?? "";
  if (!HEX_SHA256.test(signature)) return refuse(401);
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(env.SENTRY_CLIENT_SECRET),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  // `verify` compares in constant time.
  if (!(await crypto.subtle.verify("HMAC", key, hexBytes(signature), body))) return refuse(401);
  const seconds = Number(request.headers.get("sentry-hook-timestamp") ?? Number.NaN);
  if (!Number.isFinite(seconds) || Math.abs(Date.now() - seconds * 1000) > TIMESTAMP_WINDOW_MS) return refuse(401);
  const requestId = request.headers.get("request-id") ?? "";
  if (!requestId) return refuse(400);
  return acknowledge(requestId);
}

async function webhook(request: Request, env: Env): Promise<Response> {
  await request.arrayBuffer();
  const presented = request.headers.get("x-lookout-webhook-key") ?? "";
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(presented)));
  const expected = hexBytes(env.WEBHOOK_KEY_SHA256);
  if (!presented || !crypto.subtle.timingSafeEqual(digest, expected)) return refuse(401);
  return acknowledge(crypto.randomUUID());
}

function acknowledge(deliveryId: string): Response {
  return Response.json({ ok: true, deliveryId, duplicate: false }, { status: 202 });
}

function refuse(status: number): Response {
  return Response.json({ error: { code: status === 401 ? "WEBHOOK_SIGNATURE_INVALID" : "BAD_REQUEST" } }, { status });
}

function hexBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}
