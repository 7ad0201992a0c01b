import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "@lookout/protocol";
import { app } from "../src/app";
import { safeNextPath } from "../src/auth/login";
import { MAX_FAILED_LOGINS_PER_WINDOW } from "../src/auth/login-limiter";
import {
  ADMIN_TOKEN,
  ORIGIN,
  adminCookie,
  call,
  errorCode,
  freshAddress,
  memberCookie,
  sessionCookieFrom,
  withCookie,
} from "./support/auth";

function postLogin(token: string, address = freshAddress()): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": address },
    body: JSON.stringify({ token }),
  };
}

/**
 * As deployed behind Cloudflare, where the limiter counts per `CF-Connecting-IP`; with a fresh
 * address per test, no test spends another's budget.
 */
const BEHIND_CLOUDFLARE = { TRUST_CF_CONNECTING_IP: "true" };

async function authSessionCount(): Promise<number> {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM auth_sessions").first<{ n: number }>();
  return row?.n ?? 0;
}

describe("token login", () => {
  it("signs the admin in with the right token and sets an HttpOnly, Lax, host-wide cookie", async () => {
    const response = await call("/auth/login", postLogin(ADMIN_TOKEN));

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ user: { userId: "admin", name: "Admin" }, role: "admin" });
    const setCookie = response.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^lookout_session=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Lax");
    expect(setCookie).toContain("Path=/");
    expect(setCookie).toContain(`Max-Age=${30 * 24 * 60 * 60}`);
    expect(setCookie).not.toContain("Secure");

    const me = await call("/api/me", withCookie(sessionCookieFrom(response)));
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({ user: { userId: "admin", name: "Admin" }, role: "admin" });
  });

  it("stores only the SHA-256 of the session cookie", async () => {
    const response = await call("/auth/login", postLogin(ADMIN_TOKEN));
    const token = sessionCookieFrom(response).slice("lookout_session=".length);

    const byHash = await env.DB.prepare("SELECT user_id FROM auth_sessions WHERE token_hash = ?")
      .bind(await sha256Hex(token))
      .first();
    const byValue = await env.DB.prepare("SELECT user_id FROM auth_sessions WHERE token_hash = ?").bind(token).first();
    expect(byHash).toEqual({ user_id: "admin" });
    expect(byValue).toBeNull();
  });

  it("marks the cookie Secure when the request came over https", async () => {
    const response = await app.request("https://lookout.example/auth/login", postLogin(ADMIN_TOKEN), env, createExecutionContext());
    expect(response.status).toBe(200);
    expect(response.headers.get("set-cookie")).toContain("Secure");
  });

  it("refuses a wrong token with 401 and sets no cookie", async () => {
    const before = await authSessionCount();
    const response = await call("/auth/login", postLogin("not-the-token"), BEHIND_CLOUDFLARE);

    expect(response.status).toBe(401);
    expect(await errorCode(response)).toBe("INVALID_TOKEN");
    expect(response.headers.get("set-cookie")).toBeNull();
    expect(await authSessionCount()).toBe(before);
  });

  it("fails closed when ADMIN_TOKEN_SHA256 is not configured, even for the right token", async () => {
    for (const missing of [undefined, "", "not-a-sha256"]) {
      const response = await call("/auth/login", postLogin(ADMIN_TOKEN), { ADMIN_TOKEN_SHA256: missing });
      expect(response.status).toBe(401);
      expect(await errorCode(response)).toBe("UNAUTHENTICATED");
      expect(response.headers.get("set-cookie")).toBeNull();
    }
  });

  it("GET /auth/login with a bad token sends the browser to the sign-in page with the reason, and sets no cookie", async () => {
    const response = await call(
      "/auth/login?token=wrong-token&next=/x",
      { redirect: "manual", headers: { "cf-connecting-ip": freshAddress() } },
      BEHIND_CLOUDFLARE,
    );
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/?login_error=INVALID_TOKEN");
    expect(response.headers.get("set-cookie")).toBeNull();
  });

  it("GET /auth/login redirects to a same-origin `next` with the cookie set", async () => {
    const response = await call(`/auth/login?token=${ADMIN_TOKEN}&next=${encodeURIComponent("/sessions/abc?tab=log#end")}`, {
      headers: { "cf-connecting-ip": freshAddress() },
    });

    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/sessions/abc?tab=log#end");
    expect(response.headers.get("cache-control")).toBe("no-store");
    const me = await call("/api/me", withCookie(sessionCookieFrom(response)));
    expect(me.status).toBe(200);
  });

  it.each([
    "//evil.example/path",
    "/\\evil.example",
    "https://evil.example/",
    "http://lookout.test.evil.example/",
    "/\t/evil.example",
    "javascript:alert(1)",
    "evil",
  ])("never redirects off the origin (next=%j)", async (next) => {
    const response = await call(`/auth/login?token=${ADMIN_TOKEN}&next=${encodeURIComponent(next)}`, {
      headers: { "cf-connecting-ip": freshAddress() },
    });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/");
    expect(safeNextPath(next, `${ORIGIN}/auth/login`)).toBe("/");
  });

  it("throttles a client's wrong tokens with 429 but never refuses it the right token", async () => {
    const address = freshAddress();
    for (let attempt = 0; attempt < MAX_FAILED_LOGINS_PER_WINDOW; attempt++) {
      expect((await call("/auth/login", postLogin("wrong", address), BEHIND_CLOUDFLARE)).status).toBe(401);
    }
    const throttled = await call("/auth/login", postLogin("wrong", address), BEHIND_CLOUDFLARE);
    expect(throttled.status).toBe(429);
    expect(await errorCode(throttled)).toBe("RATE_LIMITED");

    const rightToken = await call("/auth/login", postLogin(ADMIN_TOKEN, address), BEHIND_CLOUDFLARE);
    expect(rightToken.status).toBe(200);
    expect((await call("/api/me", withCookie(sessionCookieFrom(rightToken)))).status).toBe(200);
    // Signing in does not hand the client a fresh budget for guessing.
    expect((await call("/auth/login", postLogin("wrong", address), BEHIND_CLOUDFLARE)).status).toBe(429);
    // Another client's budget is its own.
    expect((await call("/auth/login", postLogin("wrong"), BEHIND_CLOUDFLARE)).status).toBe(401);
  });

  it("without a trusted CF-Connecting-IP every caller shares one budget, so a new header value does not reset it", async () => {
    // Earlier tests in this isolate may have spent some of the shared budget already; either way
    // it is used up after at most this many wrong tokens.
    let status = 0;
    for (let attempt = 0; attempt <= MAX_FAILED_LOGINS_PER_WINDOW && status !== 429; attempt++) {
      status = (await call("/auth/login", postLogin("wrong", freshAddress()))).status;
      expect([401, 429]).toContain(status);
    }
    expect(status).toBe(429);

    for (const address of [freshAddress(), freshAddress(), "203.0.113.77"]) {
      const rotated = await call("/auth/login", postLogin("wrong", address));
      expect(rotated.status).toBe(429);
      expect(await errorCode(rotated)).toBe("RATE_LIMITED");
    }
    const admin = await call("/auth/login", postLogin(ADMIN_TOKEN, freshAddress()));
    expect(admin.status).toBe(200);
    const viaLink = await call(`/auth/login?token=${ADMIN_TOKEN}`, { redirect: "manual" });
    expect(viaLink.status).toBe(302);
    expect(viaLink.headers.get("location")).toBe("/");
    expect((await call("/api/me", withCookie(sessionCookieFrom(viaLink)))).status).toBe(200);
  });

  it("logout deletes the session and clears the cookie", async () => {
    const cookie = sessionCookieFrom(await call("/auth/login", postLogin(ADMIN_TOKEN)));

    const response = await call("/auth/logout", withCookie(cookie, "POST"));
    expect(response.status).toBe(204);
    expect(response.headers.get("set-cookie")).toMatch(/^lookout_session=; Max-Age=0;/);

    const me = await call("/api/me", withCookie(cookie));
    expect(me.status).toBe(401);
    expect(await errorCode(me)).toBe("UNAUTHENTICATED");
  });

  it("refuses an expired session", async () => {
    const cookie = await memberCookie("expired-member");
    const token = cookie.slice("lookout_session=".length);
    await env.DB.prepare("UPDATE auth_sessions SET expires_at = ? WHERE token_hash = ?")
      .bind(Date.now() - 1, await sha256Hex(token))
      .run();

    const response = await call("/api/me", withCookie(cookie));
    expect(response.status).toBe(401);
  });

  it.each(["cross-site", "same-site"])("refuses a state-changing request a browser marks as %s", async (site) => {
    const cookie = await adminCookie();
    const response = await call("/api/secrets/rotate", {
      method: "POST",
      headers: { cookie, "sec-fetch-site": site },
    });
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe("FORBIDDEN_ORIGIN");
  });

  it("a member is signed in but is not an admin", async () => {
    const cookie = await memberCookie();
    const me = await call("/api/me", withCookie(cookie));
    expect(await me.json()).toEqual({ user: { userId: "member-1", name: "Member One" }, role: "member" });

    const write = await call("/api/secrets/TOKEN", withCookie(cookie, "PUT", { value: "x" }));
    expect(write.status).toBe(403);
    expect(await errorCode(write)).toBe("FORBIDDEN");
  });
});
