import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { createRequire } from "node:module";
import path from "node:path";
import { defineConfig } from "vitest/config";
import { fakeGateway, GATEWAY_SECRET } from "./test/fake-gateway";
import { startFakeGitHub } from "./test/support/fake-github";
import { FAKE_LINEAR_CLIENT, startFakeLinear } from "@lookout/e2e/fake-linear";
import { FAKE_SLACK, fakeSlack } from "./test/support/fake-slack";

const root = path.resolve(__dirname, "../..");
const migrations = await readD1Migrations(path.join(__dirname, "migrations"));

/** Real `pull_request` payloads published by Octokit, picked here in Node and bound as JSON. */
const webhookExamples = createRequire(import.meta.url)("@octokit/webhooks-examples/api.github.com/index.json") as {
  name: string;
  examples: { action: string }[];
}[];
const pullRequestExamples = Object.fromEntries(
  ["opened", "closed", "reopened", "converted_to_draft"].map((action) => [
    action,
    webhookExamples.find((group) => group.name === "pull_request")?.examples.find((example) => example.action === action),
  ]),
);

/** One fake Linear for the run: the SDK's `apiUrl` and the OAuth token endpoint point at it. */
const fakeLinear = await startFakeLinear({ unref: true });

/** The first example of each event a pull request @mention arrives in, by event name. */
const mentionExamples = Object.fromEntries(
  (
    [
      ["issue_comment", "created"],
      ["pull_request_review_comment", "created"],
      ["pull_request_review", "submitted"],
    ] as const
  ).map(([name, action]) => [
    name,
    webhookExamples.find((group) => group.name === name)?.examples.find((example) => example.action === action),
  ]),
);

/**
 * One fake GitHub for the run, bound as `GITHUB_API`. Nothing uses it unless a test configures the
 * App (`GITHUB_APP_*` in an env override, with the fake's key from `/__fake/state`).
 */
const fakeGithub = await startFakeGitHub({ repositories: ["acme/widgets", "acme/private-widgets"], unref: true });
async function githubBinding(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
  return fetch(`${fakeGithub.url}${url.pathname}${url.search}`, { method: request.method, headers: request.headers, body });
}

/**
 * Integration tests run inside workerd with the real Durable Object and D1 bindings from the root
 * `wrangler.toml`. Pure modules (`*.unit.test.ts`) run in Node through `vitest.unit.config.ts`.
 */
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: path.join(root, "wrangler.toml") },
      miniflare: {
        serviceBindings: { GATEWAY: fakeGateway, GITHUB_API: githubBinding, SLACK_API: fakeSlack },
        bindings: {
          TEST_MIGRATIONS: migrations,
          ADMIN_TOKEN_SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", // sha256("test")
          WS_TOKEN_SECRET: "test-ws-token-secret-0123456789abcdef",
          SECRETS_ENCRYPTION_KEYS: "k2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,k1:HxoZGBcWFRQTEhEQDw4NDAsKCQgHBgUEAwIBAB8eHRw=",
          GATEWAY_SERVICE_SECRET: GATEWAY_SECRET,
          SERVICE_SECRET_TEST_BOT: "test-bot-secret",
          GIT_CREDENTIAL_SECRET: "test-git-credential-secret",
          GITHUB_WEBHOOK_SECRET: "test-github-webhook-secret",
          TEST_PULL_REQUEST_EXAMPLES: JSON.stringify(pullRequestExamples),
          TEST_MENTION_EXAMPLES: JSON.stringify(mentionExamples),
          LINEAR_WEBHOOK_SECRET: "test-linear-webhook-secret",
          LINEAR_CLIENT_ID: FAKE_LINEAR_CLIENT.id,
          LINEAR_CLIENT_SECRET: FAKE_LINEAR_CLIENT.secret,
          LINEAR_API_URL: `${fakeLinear.url}/graphql`,
          LINEAR_OAUTH_TOKEN_URL: `${fakeLinear.url}/oauth/token`,
          TEST_FAKE_LINEAR_URL: fakeLinear.url,
          // Sessions in these tests never finish (the gateway is fake), so the shipped caps would fill
          // up across a file; tests of the caps pass their own (test/support/automations.ts withLimits).
          SLACK_BOT_TOKEN: FAKE_SLACK.botToken,
          SLACK_SIGNING_SECRET: FAKE_SLACK.signingSecret,
          SLACK_API_URL: FAKE_SLACK.apiUrl,
          SERVICE_SECRET_SLACK_RELAY: "test-slack-relay-secret",
          TRIGGER_LIMITS: JSON.stringify({ maxRunningSandboxes: 100_000, maxNewSessionsPerHour: 100_000 }),
        },
      },
    }),
  ],
  // The Worker's stand-in for undici, as in wrangler.toml's [alias] (see the module's comment).
  resolve: { alias: { undici: path.join(__dirname, "src/integrations/slack/undici-unavailable.cjs") } },
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/**/*.unit.test.ts"],
    setupFiles: ["./test/apply-migrations.ts"],
  },
});
