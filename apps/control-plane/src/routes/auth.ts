import { LookoutError } from "@lookout/protocol";
import { Hono } from "hono";
import { z } from "zod";
import { safeNextPath, signInWithAdminToken, signOut } from "../auth/login";
import type { AppEnv } from "../http/app-env";
import { browserWritesOnly } from "../http/browser-writes";
import { readJson, readQuery } from "../http/validate";
import { meOf } from "./me";

const LoginToken = z.string().min(1).max(512);

const LoginQuery = z.object({
  token: LoginToken,
  next: z.string().max(2048).optional(),
});

const LoginBody = z.object({ token: LoginToken });

/**
 * Sign-in and sign-out, mounted at `/auth` before `requireAuth`. `GET /auth/login?token=` is the
 * link the start command prints (the way Jupyter prints its URL); `POST /auth/login` serves the
 * dashboard's sign-in form.
 */
export const authRoutes = new Hono<AppEnv>();

authRoutes.get("/login", async (c) => {
  // The token sits in this URL: keep the answer out of caches and history-adjacent places.
  c.header("Cache-Control", "no-store");
  c.header("Referrer-Policy", "no-referrer");
  try {
    const query = readQuery(c, LoginQuery);
    await signInWithAdminToken(c, query.token);
    return c.redirect(safeNextPath(query.next, c.req.url), 302);
  } catch (error) {
    // A person followed this link in a browser: send them to the sign-in page with the reason,
    // not to a JSON error body.
    if (!(error instanceof LookoutError)) throw error;
    return c.redirect(`/?login_error=${encodeURIComponent(error.code)}`, 302);
  }
});

// Writes here are refused from other origins like cookie-authenticated `/api` writes: a forged
// sign-in would put the victim's browser in someone else's session, a forged sign-out is a nuisance.
authRoutes.post("/login", browserWritesOnly, async (c) => {
  const body = await readJson(c, LoginBody);
  const principal = await signInWithAdminToken(c, body.token);
  c.header("Cache-Control", "no-store");
  return c.json(meOf(principal));
});

authRoutes.post("/logout", browserWritesOnly, async (c) => {
  await signOut(c);
  return c.body(null, 204);
});
