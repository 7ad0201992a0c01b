import type { D1Migration } from "@cloudflare/vitest-plugin";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      /** JSON: `@octokit/webhooks-examples` pull_request payloads by action. */
      TEST_PULL_REQUEST_EXAMPLES: string;
      /** JSON: `@octokit/webhooks-examples` issue_comment, pull_request_review_comment and pull_request_review payloads. */
      TEST_MENTION_EXAMPLES: string;
      /** The fake Linear (`@lookout/e2e/fake-linear`) the Linear bindings point at. */
      TEST_FAKE_LINEAR_URL: string;
    }
  }
}
