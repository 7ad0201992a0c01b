import { createHash } from "node:crypto";
import {
  GIT_CREDENTIAL_TTL_MS,
  GIT_CREDENTIAL_USERNAME,
  LookoutError,
  mintGitCredential,
  PoolBridgeReport,
  summarizeIssues,
  type GitCredentialResponse,
} from "@lookout/protocol";
import { Hono, type Context } from "hono";
import { type GatewayEnv, jsonResponse } from "../http";
import type { WarmPool } from "./pool";

/** The longest a pool bridge's claim poll is held open. */
export const MAX_CLAIM_WAIT_MS = 25_000;
/** Largest report body read (the setup script's output tail is the bulk of it). */
const MAX_REPORT_BYTES = 64 * 1024;
/**
 * The one ref a pool sandbox's git credential may push: `..` is in no valid ref name, so git
 * updates nothing with it and the credential reads only.
 */
export const POOL_READ_ONLY_REF = "refs/heads/..pool-read-only";

const POOL_ID = ":sandboxId{pool-[a-f0-9]{18}}";

/**
 * A warm-pool sandbox's channel to the gateway (`<gateway>/pool-bridge/<id>/…`, reached through
 * its relay), each request authenticated by the pool token only that sandbox's bridge holds:
 *
 * - `POST report`: its preparation (cloning, setup, OpenCode, warm with the base commit, failed
 *   with the setup script's output);
 * - `POST git-credentials`: a short-lived read-only credential for the local repository;
 * - `GET claim?waitMs=`: a long poll answered with the claiming session's values (`PoolClaim`,
 *   the sandbox token among them), or 204 when none came in time.
 */
export function poolBridgeRoutes(pool: () => WarmPool | undefined, gitCredentialSecret: string | undefined): Hono<GatewayEnv> {
  return new Hono<GatewayEnv>()
    .post(`/${POOL_ID}/report`, async (c) => {
      const { warmPool, sandboxId } = authenticate(c, pool());
      const text = await c.req.text();
      if (text.length > MAX_REPORT_BYTES)
        throw new LookoutError("PAYLOAD_TOO_LARGE", `Pool reports are limited to ${MAX_REPORT_BYTES} bytes.`);
      const parsed = PoolBridgeReport.safeParse(parseJson(text));
      if (!parsed.success) throw new LookoutError("VALIDATION_FAILED", summarizeIssues(parsed.error));
      warmPool.report(sandboxId, parsed.data);
      return jsonResponse(200, { ok: true });
    })
    .post(`/${POOL_ID}/git-credentials`, async (c) => {
      const { target, sandboxId } = authenticate(c, pool());
      if (target.repository.kind === "remote") {
        // The control plane's read-only token for the repository, sent with the targets.
        const credential = target.gitCredential;
        if (!credential || credential.expiresAt <= Date.now())
          throw new LookoutError("SCM_NOT_CONFIGURED", "The control plane sent no read-only credential for this repository.");
        return jsonResponse(200, credential satisfies GitCredentialResponse);
      }
      const expiresAt = Date.now() + GIT_CREDENTIAL_TTL_MS;
      const password = await mintGitCredential(gitCredentialSecret, {
        sid: sandboxId,
        repo: target.repository.path,
        ref: POOL_READ_ONLY_REF,
        exp: expiresAt,
      });
      const body: GitCredentialResponse = { username: GIT_CREDENTIAL_USERNAME, password, expiresAt };
      return jsonResponse(200, body);
    })
    .get(`/${POOL_ID}/claim`, async (c) => {
      const { warmPool, sandboxId } = authenticate(c, pool());
      const requested = Number(c.req.query("waitMs") ?? MAX_CLAIM_WAIT_MS);
      const waitMs = Number.isFinite(requested) ? Math.max(0, Math.min(requested, MAX_CLAIM_WAIT_MS)) : MAX_CLAIM_WAIT_MS;
      const claim = await warmPool.waitForClaim(sandboxId, waitMs, c.req.raw.signal);
      return claim ? jsonResponse(200, claim) : new Response(null, { status: 204 });
    });
}

function authenticate(
  c: Context<GatewayEnv>,
  warmPool: WarmPool | undefined,
): { warmPool: WarmPool; sandboxId: string; target: NonNullable<ReturnType<WarmPool["entryFor"]>>["target"] } {
  const header = c.req.header("authorization") ?? "";
  const token = /^Bearer (\S+)$/.exec(header)?.[1];
  const sandboxId = c.req.param("sandboxId") ?? "";
  if (!warmPool || !token) throw new LookoutError("UNAUTHENTICATED", "The pool channel takes the pool sandbox's token as a bearer token.");
  const entry = warmPool.entryFor(sandboxId, createHash("sha256").update(token).digest("hex"));
  // A claimed or retired pool sandbox's token opens nothing here any more.
  if (!entry) throw new LookoutError("INVALID_TOKEN", "This token opens no waiting pool sandbox.");
  return { warmPool, sandboxId, target: entry.target };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new LookoutError("INVALID_JSON");
  }
}
