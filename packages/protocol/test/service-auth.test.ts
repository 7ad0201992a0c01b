import { describe, expect, it } from "vitest";
import {
  ACTOR_HEADER,
  type Author,
  MemoryNonceStore,
  NONCE_HEADER,
  SIGNATURE_HEADER,
  hmacSha256Hex,
  signRequest,
  signServiceRequest,
  signatureBaseWithActor,
  verifyServiceRequest,
  verifySignedRequest,
} from "../src/index";

const SECRET = "a-shared-secret";
const NOW = 1_800_000_000_000;
const request = { method: "POST", pathAndQuery: "/api/sessions?x=1", body: '{"title":"t"}' };
const parts = { service: "slack-bot", ...request };
const ada: Author = { userId: "ada", name: "Ada Lovelace" };

function options() {
  return { secrets: { "slack-bot": SECRET }, nonces: new MemoryNonceStore(), now: NOW };
}

describe("signed actor", () => {
  it("signs exactly like lookout-v1 when there is no actor, in both directions", async () => {
    const fromNewSigner = await signServiceRequest(parts, SECRET, { now: NOW });
    expect(await verifySignedRequest(new Headers(fromNewSigner), request, options())).toBe("slack-bot");

    const fromOldSigner = await signRequest(parts, SECRET, NOW);
    expect(await verifyServiceRequest(new Headers(fromOldSigner), request, options())).toEqual({ service: "slack-bot", actor: null });
  });

  it("returns the actor the signature covers", async () => {
    const headers = await signServiceRequest(parts, SECRET, { actor: ada, now: NOW });
    expect(await verifyServiceRequest(new Headers(headers), request, options())).toEqual({ service: "slack-bot", actor: ada });
  });

  it("refuses an actor added to, or changed on, a signed request", async () => {
    const added = new Headers(await signServiceRequest(parts, SECRET, { now: NOW }));
    added.set(ACTOR_HEADER, JSON.stringify(ada));
    await expect(verifyServiceRequest(added, request, options())).rejects.toMatchObject({ code: "INVALID_SIGNATURE" });

    const changed = new Headers(await signServiceRequest(parts, SECRET, { actor: ada, now: NOW }));
    changed.set(ACTOR_HEADER, JSON.stringify({ ...ada, userId: "admin" }));
    await expect(verifyServiceRequest(changed, request, options())).rejects.toMatchObject({ code: "INVALID_SIGNATURE" });

    const removed = new Headers(await signServiceRequest(parts, SECRET, { actor: ada, now: NOW }));
    removed.delete(ACTOR_HEADER);
    await expect(verifyServiceRequest(removed, request, options())).rejects.toMatchObject({ code: "INVALID_SIGNATURE" });
  });

  it("is checked by the service-only verifier too, which refuses a swapped actor", async () => {
    const headers = await signServiceRequest(parts, SECRET, { actor: ada, now: NOW });
    expect(await verifySignedRequest(new Headers(headers), request, options())).toBe("slack-bot");
    const swapped = new Headers(await signServiceRequest(parts, SECRET, { actor: ada, now: NOW }));
    swapped.set(ACTOR_HEADER, JSON.stringify({ userId: "mallory", name: "Mallory" }));
    await expect(verifySignedRequest(swapped, request, options())).rejects.toMatchObject({ code: "INVALID_SIGNATURE" });
  });

  it("keeps the header ASCII so any name fits in an HTTP header", async () => {
    const actor: Author = { userId: "li", name: "李 Zoë" };
    const headers = await signServiceRequest(parts, SECRET, { actor, now: NOW });
    expect(headers[ACTOR_HEADER]).toMatch(/^[\x20-\x7e]+$/);
    expect((await verifyServiceRequest(new Headers(headers), request, options())).actor).toEqual(actor);
  });

  it("refuses a signed actor that is not an Author", async () => {
    const headers = new Headers(await signServiceRequest(parts, SECRET, { now: NOW }));
    // Signed by hand with a malformed actor, so the signature holds and only the shape is wrong.
    const malformed = JSON.stringify({ userId: "has spaces", name: "" });
    const base = await signatureBaseWithActor(parts, NOW, headers.get(NONCE_HEADER) ?? "", malformed);
    headers.set(SIGNATURE_HEADER, await hmacSha256Hex(SECRET, base));
    headers.set(ACTOR_HEADER, malformed);
    await expect(verifyServiceRequest(headers, request, options())).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });
});
