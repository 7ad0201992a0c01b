import type { PullRequest } from "@lookout/protocol";

/**
 * A local pull request as the control plane answers `POST /api/sessions/:id/pull-request`: open,
 * a draft, from the session's branch into `main`, with no review yet; `fields` set what a test reads.
 */
export function localPullRequest(fields: Partial<PullRequest> = {}): PullRequest {
  const sessionId = fields.sessionId ?? "ses_1";
  return {
    id: "pr_1",
    sessionId,
    repositoryId: "r_1",
    provider: "local",
    number: null,
    url: `http://lookout.test/sessions/${sessionId}`,
    title: "A pull request",
    body: "",
    baseBranch: "main",
    headBranch: `lookout/${sessionId}`,
    headSha: null,
    state: "open",
    draft: true,
    openedBy: { userId: "u_ada", name: "Ada" },
    openedAs: "local",
    review: null,
    mergeSha: null,
    createdAt: 1,
    updatedAt: 1,
    mergedAt: null,
    closedAt: null,
    ...fields,
  };
}
