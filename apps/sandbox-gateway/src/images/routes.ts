import { createHash } from "node:crypto";
import {
  GIT_CREDENTIAL_TTL_MS,
  GIT_CREDENTIAL_USERNAME,
  ImageBuildReport,
  ImageBuildRequest,
  LookoutError,
  mintGitCredential,
  summarizeIssues,
  type GitCredentialResponse,
} from "@lookout/protocol";
import { Hono, type Context } from "hono";
import { type GatewayEnv, jsonResponse } from "../http";
import { POOL_READ_ONLY_REF } from "../pool/bridge-routes";
import type { BuildChannelEntry, ImageBuilds } from "./builds";
import { SNAPSHOT_ID_PATTERN } from "./snapshots";

/** Largest report body read (the setup script's output tail is the bulk of it). */
const MAX_REPORT_BYTES = 64 * 1024;
const BUILD_ID = ":buildId{[A-Za-z0-9_-]{1,128}}";
const BUILD_SANDBOX_ID = ":sandboxId{img-[a-f0-9]{18}}";
const SNAPSHOT_ID = `:snapshotId{${SNAPSHOT_ID_PATTERN}}`;

/**
 * `/v1/images` (behind the service signature):
 *
 * - `POST builds` (`ImageBuildRequest`): starts a build, answered at once with `202` and its state;
 * - `GET builds/:buildId`: the build's state (`ImageBuildState`), `ready` with its snapshot id;
 * - `DELETE snapshots/:snapshotId`: deletes a superseded image's snapshot from the provider
 *   (`200 { snapshotId }`; a snapshot already gone too), `409 CONFLICT` while a sandbox starts or
 *   runs from it.
 */
export function imageRoutes(builds: () => ImageBuilds): Hono<GatewayEnv> {
  return new Hono<GatewayEnv>()
    .post("/builds", (c) => {
      const parsed = ImageBuildRequest.safeParse(parseJson(new TextDecoder().decode(c.var.body)));
      if (!parsed.success) throw new LookoutError("VALIDATION_FAILED", summarizeIssues(parsed.error));
      return jsonResponse(202, builds().start(parsed.data));
    })
    .get(`/builds/${BUILD_ID}`, (c) => {
      const state = builds().get(c.req.param("buildId"));
      if (!state) throw new LookoutError("NOT_FOUND", "This gateway knows no such image build (it may have restarted).");
      return jsonResponse(200, state);
    })
    .delete(`/snapshots/${SNAPSHOT_ID}`, async (c) => {
      const snapshotId = c.req.param("snapshotId");
      await builds().deleteSnapshot(snapshotId);
      return jsonResponse(200, { snapshotId });
    });
}

/**
 * A build sandbox's channel (`<gateway>/image-build/<id>/…`, through its relay), each request
 * authenticated by the token only that sandbox's bridge holds, and only while the build waits:
 *
 * - `POST git-credentials`: a short-lived read-only credential: minted here for a local repository,
 *   the control plane's installation token (sent with the build request) for a remote one;
 * - `POST report` (`ImageBuildReport`): the clone and the setup script's outcome.
 */
export function imageBuildChannelRoutes(builds: () => ImageBuilds, gitCredentialSecret: string | undefined): Hono<GatewayEnv> {
  return new Hono<GatewayEnv>()
    .post(`/${BUILD_SANDBOX_ID}/report`, async (c) => {
      const { sandboxId } = authenticate(c, builds());
      const text = await c.req.text();
      if (text.length > MAX_REPORT_BYTES)
        throw new LookoutError("PAYLOAD_TOO_LARGE", `Build reports are limited to ${MAX_REPORT_BYTES} bytes.`);
      const parsed = ImageBuildReport.safeParse(parseJson(text));
      if (!parsed.success) throw new LookoutError("VALIDATION_FAILED", summarizeIssues(parsed.error));
      builds().report(sandboxId, parsed.data);
      return jsonResponse(200, { ok: true });
    })
    .post(`/${BUILD_SANDBOX_ID}/git-credentials`, async (c) => {
      const { sandboxId, repository } = authenticate(c, builds());
      if (repository.kind === "remote") {
        // The control plane's read-only token for the repository, sent with the build request.
        const credential = repository.gitCredential;
        if (!credential || credential.expiresAt <= Date.now())
          throw new LookoutError("SCM_NOT_CONFIGURED", "The control plane sent no valid read-only credential for this repository.");
        return jsonResponse(200, credential satisfies GitCredentialResponse);
      }
      const expiresAt = Date.now() + GIT_CREDENTIAL_TTL_MS;
      // Pushes nothing: the one ref it names is no valid ref name.
      const password = await mintGitCredential(gitCredentialSecret, {
        sid: sandboxId,
        repo: repository.path,
        ref: POOL_READ_ONLY_REF,
        exp: expiresAt,
      });
      const body: GitCredentialResponse = { username: GIT_CREDENTIAL_USERNAME, password, expiresAt };
      return jsonResponse(200, body);
    });
}

function authenticate(c: Context<GatewayEnv>, builds: ImageBuilds): BuildChannelEntry {
  const token = /^Bearer (\S+)$/.exec(c.req.header("authorization") ?? "")?.[1];
  if (!token) throw new LookoutError("UNAUTHENTICATED", "The build channel takes the build sandbox's token as a bearer token.");
  const entry = builds.entryFor(c.req.param("sandboxId") ?? "", createHash("sha256").update(token).digest("hex"));
  if (!entry) throw new LookoutError("INVALID_TOKEN", "This token opens no image build that is waiting for its report.");
  return entry;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new LookoutError("INVALID_JSON");
  }
}
