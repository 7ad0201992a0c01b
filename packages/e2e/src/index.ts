export { startStack, REPO_ROOT, type Stack, type StackOptions } from "./stack";
export { apiClient, SessionClient } from "./client";
export { createRepoFixture, git } from "./repo";
export { sentryEventAlertPayload, sentryHeaders, sentryIssuePayload, sentrySignature } from "./sentry";
