import { z } from "zod";
import { Id } from "./common.ts";

/**
 * Per-repository settings for GitHub pull request @mentions (`@<app> please …` in a comment, a
 * review, or a review comment on a line). A repository without a row uses `DEFAULT_GITHUB_TRIGGER_SETTINGS`.
 */

/**
 * Where the agent's commits go. `child-pull-request` (the default): a new branch with a pull request
 * based on the mentioned pull request's branch, so the author's branch changes only when they merge
 * it. `direct-push`: onto the pull request's own branch, and only when the requester may push there.
 */
export const GithubPushPolicy = z.enum(["child-pull-request", "direct-push"]);
export type GithubPushPolicy = z.infer<typeof GithubPushPolicy>;

/** A GitHub login: letters, digits and single hyphens, at most 39 characters. */
export const GithubLogin = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/, "a GitHub login (letters, digits, single hyphens)");

export const GithubTriggerSettings = z.object({
  /** Off: mentions on this repository's pull requests are acknowledged and ignored. */
  enabled: z.boolean(),
  /**
   * Logins that may trigger work besides everyone GitHub says has write access. Compared
   * case-insensitively, as GitHub compares logins.
   */
  allowlist: z.array(GithubLogin).max(200),
  pushPolicy: GithubPushPolicy,
  /** Review pull requests when they are opened (or marked ready) or Lookout is requested as a reviewer. */
  autoReview: z.boolean(),
});
export type GithubTriggerSettings = z.infer<typeof GithubTriggerSettings>;

export const DEFAULT_GITHUB_TRIGGER_SETTINGS: GithubTriggerSettings = {
  enabled: true,
  allowlist: [],
  pushPolicy: "child-pull-request",
  autoReview: false,
};

/** `PUT /api/github-triggers/:repositoryId`: the whole settings object. */
export const PutGithubTriggerSettingsRequest = GithubTriggerSettings;
export type PutGithubTriggerSettingsRequest = z.infer<typeof PutGithubTriggerSettingsRequest>;

/** `GET`/`PUT /api/github-triggers/:repositoryId`. `saved` is false while the defaults apply. */
export const GithubTriggerSettingsResponse = z.object({
  repositoryId: Id,
  repository: z.string(),
  settings: GithubTriggerSettings,
  saved: z.boolean(),
});
export type GithubTriggerSettingsResponse = z.infer<typeof GithubTriggerSettingsResponse>;
