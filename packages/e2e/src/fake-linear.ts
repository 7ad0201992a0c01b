import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Shared by the real-stack tests here and the control plane's workerd tests
 * (`@lookout/e2e/fake-linear`). A local fake of the slice of Linear Lookout uses, for the SDK's `apiUrl` and the OAuth token
 * endpoint. The GraphQL endpoint answers the operations the SDK sends (by operation name) and
 * checks the bearer token against the ones its token endpoint minted; activities are recorded once
 * per id, as Linear keeps one activity per client-chosen id. `/__fake/*` is for tests: read what
 * was recorded, configure answers, reset.
 */
export interface FakeLinearActivity {
  id: string;
  agentSessionId: string;
  content: { type: string; body?: string; action?: string; parameter?: string; result?: string };
  signal: string | null;
  signalMetadata: unknown;
  /** Linear replaces an ephemeral activity with the next one. */
  ephemeral: boolean;
  at: number;
}

export interface FakeLinearState {
  activities: FakeLinearActivity[];
  /** Every `agentSessionUpdate`, in order. */
  sessionUpdates: { id: string; input: unknown; at: number }[];
  /** Every GraphQL operation, with the token it carried. */
  operations: { name: string; token: string | null; variables: unknown; at: number }[];
  /** Token endpoint calls, by grant. */
  grants: { grantType: string; code?: string; refreshToken?: string; clientId: string }[];
  tokens: string[];
  suggestions: { repositoryFullName: string; confidence: number }[];
  issues: Record<string, { projectId: string | null; labels: string[] }>;
  organization: { id: string; name: string };
  appUserId: string;
  /** Seconds an issued access token lives; `null` leaves `expires_in` out. */
  expiresIn: number | null;
}

export const FAKE_LINEAR_CLIENT = { id: "test-linear-client", secret: "test-linear-client-secret" };

function initialState(): FakeLinearState {
  return {
    activities: [],
    sessionUpdates: [],
    operations: [],
    grants: [],
    tokens: [],
    suggestions: [],
    issues: {},
    organization: { id: "org-acme", name: "Acme" },
    appUserId: "app-user-lookout",
    expiresIn: 86_400,
  };
}

export interface FakeLinear {
  url: string;
  state: FakeLinearState;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).toString("utf8");
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

export async function startFakeLinear(options: { unref?: boolean } = {}): Promise<FakeLinear> {
  const fake: { state: FakeLinearState } = { state: initialState() };

  const mint = () => {
    const access = `lin_oauth_${randomBytes(12).toString("hex")}`;
    fake.state.tokens.push(access);
    return {
      access_token: access,
      refresh_token: `lin_refresh_${randomBytes(12).toString("hex")}`,
      token_type: "Bearer",
      scope: "read write app:assignable app:mentionable",
      ...(fake.state.expiresIn === null ? {} : { expires_in: fake.state.expiresIn }),
    };
  };

  const graphql = (name: string, variables: Record<string, unknown>): unknown => {
    const now = Date.now();
    switch (name) {
      case "createAgentActivity": {
        const input = variables.input as Omit<FakeLinearActivity, "at" | "signal" | "signalMetadata" | "ephemeral"> & {
          signal?: string;
          signalMetadata?: unknown;
          ephemeral?: boolean;
        };
        if (!fake.state.activities.some((activity) => activity.id === input.id)) {
          fake.state.activities.push({
            id: input.id,
            agentSessionId: input.agentSessionId,
            content: input.content,
            signal: input.signal ?? null,
            signalMetadata: input.signalMetadata ?? null,
            ephemeral: input.ephemeral ?? false,
            at: now,
          });
        }
        return {
          agentActivityCreate: { __typename: "AgentActivityPayload", agentActivity: { id: input.id }, lastSyncId: 1, success: true },
        };
      }
      case "updateAgentSession":
        fake.state.sessionUpdates.push({ id: String(variables.id), input: variables.input, at: now });
        return {
          agentSessionUpdate: { __typename: "AgentSessionPayload", agentSession: { id: variables.id }, lastSyncId: 1, success: true },
        };
      case "issueRepositorySuggestions":
        return {
          issueRepositorySuggestions: {
            __typename: "RepositorySuggestionsPayload",
            suggestions: fake.state.suggestions.map((s) => ({ __typename: "RepositorySuggestion", hostname: "github.com", ...s })),
          },
        };
      case "lookoutIssueContext": {
        const issue = fake.state.issues[String(variables.id)] ?? { projectId: null, labels: [] };
        return {
          issue: { project: issue.projectId ? { id: issue.projectId } : null, labels: { nodes: issue.labels.map((name) => ({ name })) } },
        };
      }
      case "lookoutInstallation":
        return { viewer: { id: fake.state.appUserId }, organization: fake.state.organization };
      default:
        throw new Error(`the fake Linear does not know operation ${name}`);
    }
  };

  const server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? "/", "http://fake");
      const body = await readBody(request);
      if (url.pathname === "/__fake/state") return send(response, 200, fake.state);
      if (url.pathname === "/__fake/reset") {
        fake.state = initialState();
        return send(response, 200, { ok: true });
      }
      if (url.pathname === "/__fake/configure") {
        fake.state = { ...fake.state, ...(JSON.parse(body) as Partial<FakeLinearState>) };
        return send(response, 200, { ok: true });
      }
      if (url.pathname === "/oauth/token" && request.method === "POST") {
        const form = new URLSearchParams(body);
        const grantType = form.get("grant_type") ?? "";
        if (form.get("client_id") !== FAKE_LINEAR_CLIENT.id || form.get("client_secret") !== FAKE_LINEAR_CLIENT.secret) {
          return send(response, 401, { error: "invalid_client" });
        }
        fake.state.grants.push({
          grantType,
          clientId: form.get("client_id") ?? "",
          ...(form.get("code") ? { code: form.get("code") ?? "" } : {}),
          ...(form.get("refresh_token") ? { refreshToken: form.get("refresh_token") ?? "" } : {}),
        });
        if (grantType !== "authorization_code" && grantType !== "refresh_token")
          return send(response, 400, { error: "unsupported_grant_type" });
        return send(response, 200, mint());
      }
      if (url.pathname === "/graphql" && request.method === "POST") {
        const token = request.headers.authorization?.replace(/^Bearer /, "") ?? null;
        const { query, variables } = JSON.parse(body) as { query: string; variables?: Record<string, unknown> };
        const name = /^\s*(?:query|mutation)\s+(\w+)/.exec(query)?.[1] ?? "anonymous";
        fake.state.operations.push({ name, token, variables: variables ?? {}, at: Date.now() });
        if (!token || !fake.state.tokens.includes(token)) {
          return send(response, 200, {
            errors: [{ message: "Authentication required", extensions: { type: "authentication error", code: "AUTHENTICATION_ERROR" } }],
          });
        }
        try {
          return send(response, 200, { data: graphql(name, variables ?? {}) });
        } catch (error) {
          return send(response, 200, { errors: [{ message: error instanceof Error ? error.message : String(error) }] });
        }
      }
      return send(response, 404, { error: `no fake route for ${request.method} ${url.pathname}` });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  if (options.unref) server.unref();
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get state() {
      return fake.state;
    },
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
