import { createPublicKey, generateKeyPairSync, randomBytes, verify } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local fake of the slice of GitHub's REST API Lookout uses, for Octokit's `baseUrl`. It checks
 * what GitHub checks: App endpoints need an RS256 JWT signed by the App's key (issuer = App id,
 * unexpired), installation endpoints an installation token it minted, user endpoints a user token
 * it knows. Everything it was asked is recorded for assertions.
 */
export interface FakeGitHub {
  url: string;
  appId: string;
  /** The App's private key, PKCS#1 PEM as GitHub issues them. */
  privateKey: string;
  installationId: number;
  /** Installation tokens minted, with the permissions and repositories asked for. */
  minted: { token: string; permissions: Record<string, string>; repositories: string[] | undefined }[];
  requests: { method: string; path: string; auth: "app" | "installation" | "user" | "none"; login?: string; body: unknown }[];
  pulls: FakePull[];
  /** User tokens the fake accepts, by login. */
  userTokens: Map<string, { login: string; id: number }>;
  /** Makes the next pull-request creation by a user token fail like a revoked token. */
  refuseUserCreates: boolean;
  /** The App's slug (`GET /app`): people mention it as `@<slug>`. */
  appSlug: string;
  /** Repository permission by login (`GET …/collaborators/{login}/permission`); unknown logins have `read`. */
  permissions: Record<string, string>;
  /** Comments the App posted (pull request comments and review-thread replies), with every edit. */
  comments: FakeComment[];
  reactions: { kind: "issue" | "review-comment"; commentId: number; content: string; auth: string }[];
  /** Reviews posted on pull requests. */
  reviews: { number: number; event: string; body: string; comments: { path: string; line: number; side?: string; body: string }[] }[];
  close(): Promise<void>;
}

export interface FakeComment {
  id: number;
  kind: "issue" | "review-comment";
  owner: string;
  repo: string;
  number: number;
  /** For a review-thread reply, the comment it answers. */
  inReplyTo: number | null;
  body: string;
  /** Every body this comment had after the first, in order. */
  edits: string[];
}

export interface FakePull {
  number: number;
  owner: string;
  repo: string;
  head: string;
  base: string;
  title: string;
  body: string;
  draft: boolean;
  state: "open" | "closed";
  merged: boolean;
  user: string;
  headSha: string;
  /** `owner/name` of the head branch's repository, when it is a fork. */
  headRepository?: string;
}

const INSTALLATION_TOKEN_TTL_MS = 3600_000;

/**
 * Besides GitHub's API, the fake answers `/__fake/*` (no auth) so a test that reaches it only
 * through a binding can read and steer it: `GET /__fake/state`, `POST /__fake/pulls` (adds a pull
 * request), `POST /__fake/permissions` (merges logins' permissions).
 */
export async function startFakeGitHub(options: { repositories?: string[]; unref?: boolean } = {}): Promise<FakeGitHub> {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const verifyKey = createPublicKey(publicKey);
  const appId = "424242";
  const installationId = 7;
  const repositories = options.repositories ?? ["acme/app", "acme/api"];
  const tokens = new Map<string, number>();
  const state: Omit<FakeGitHub, "url" | "close"> = {
    appId,
    privateKey,
    installationId,
    minted: [],
    requests: [],
    pulls: [],
    userTokens: new Map(),
    refuseUserCreates: false,
    appSlug: "lookout-app",
    permissions: {},
    comments: [],
    reactions: [],
    reviews: [],
  };
  let nextCommentId = 9_000_000;

  const appJwtValid = (token: string): boolean => {
    const [header, payload, signature] = token.split(".");
    if (!header || !payload || !signature) return false;
    const head = JSON.parse(Buffer.from(header, "base64url").toString()) as { alg?: string };
    if (head.alg !== "RS256") return false;
    if (!verify("RSA-SHA256", Buffer.from(`${header}.${payload}`), verifyKey, Buffer.from(signature, "base64url"))) return false;
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as { iss?: unknown; exp?: number; iat?: number };
    const now = Math.floor(Date.now() / 1000);
    return (
      String(claims.iss) === appId &&
      typeof claims.exp === "number" &&
      claims.exp > now &&
      typeof claims.iat === "number" &&
      claims.iat <= now + 60
    );
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? "/", "http://fake");
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString();
    const body: unknown = text ? JSON.parse(text) : null;
    const authorization = request.headers.authorization ?? "";
    const bearer = authorization.replace(/^(bearer|token) /i, "");
    let auth: FakeGitHub["requests"][number]["auth"] = "none";
    let login: string | undefined;
    if (/^bearer /i.test(authorization) && bearer.split(".").length === 3 && appJwtValid(bearer)) auth = "app";
    else if ((tokens.get(bearer) ?? 0) > Date.now()) auth = "installation";
    else if (state.userTokens.has(bearer)) {
      auth = "user";
      login = state.userTokens.get(bearer)?.login;
    }
    state.requests.push({ method: request.method ?? "GET", path: url.pathname, auth, ...(login ? { login } : {}), body });
    const send = (status: number, payload: unknown) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(payload));
    };
    const method = request.method ?? "GET";
    const path = url.pathname;

    if (path === "/login/oauth/access_token" && method === "POST") {
      const code = (body as { code?: string } | null)?.code ?? url.searchParams.get("code");
      const user = code ? [...state.userTokens.entries()].find(([, u]) => `code-${u.login}` === code) : undefined;
      if (!user) return send(200, { error: "bad_verification_code", error_description: "The code passed is incorrect or expired." });
      return send(200, {
        access_token: user[0],
        token_type: "bearer",
        scope: "",
        expires_in: 28800,
        refresh_token: `refresh-${user[1].login}`,
        refresh_token_expires_in: 15897600,
      });
    }

    if (path.startsWith("/__fake/")) {
      if (path === "/__fake/state" && method === "GET") {
        return send(200, { ...state, userTokens: Object.fromEntries(state.userTokens), requests: state.requests.slice(-500) });
      }
      if (path === "/__fake/pulls" && method === "POST") {
        const input = body as Omit<FakePull, "number">;
        const pull: FakePull = { ...input, number: state.pulls.length + 1 };
        state.pulls.push(pull);
        return send(201, pull);
      }
      if (path === "/__fake/permissions" && method === "POST") {
        Object.assign(state.permissions, body as Record<string, string>);
        return send(200, state.permissions);
      }
      return send(404, { message: "no such fake control" });
    }

    if (path === "/app" && method === "GET") {
      if (auth !== "app") return send(401, { message: "A JSON web token could not be decoded" });
      return send(200, { id: Number(appId), slug: state.appSlug, name: "Lookout App", owner: { login: "acme" } });
    }

    const installationTokenPath = `/app/installations/${installationId}/access_tokens`;
    if (path === installationTokenPath && method === "POST") {
      if (auth !== "app") return send(401, { message: "A JSON web token could not be decoded" });
      const token = `ghs_${randomBytes(18).toString("hex")}`;
      const expiresAt = Date.now() + INSTALLATION_TOKEN_TTL_MS;
      tokens.set(token, expiresAt);
      const input = (body ?? {}) as { permissions?: Record<string, string>; repositories?: string[] };
      state.minted.push({ token, permissions: input.permissions ?? {}, repositories: input.repositories });
      return send(201, {
        token,
        expires_at: new Date(expiresAt).toISOString(),
        permissions: input.permissions ?? {},
        repository_selection: "selected",
      });
    }
    if (path.startsWith("/app/")) return send(auth === "app" ? 404 : 401, { message: "Not Found" });

    if (auth === "none") return send(401, { message: "Requires authentication" });
    if (path === "/user" && method === "GET" && auth === "user") {
      const user = state.userTokens.get(bearer);
      return send(200, {
        login: user?.login,
        id: user?.id,
        name: `${user?.login} Name`,
        email: null,
        avatar_url: "https://avatars.example/u.png",
      });
    }
    if (path === "/installation/repositories" && method === "GET") {
      if (auth !== "installation") return send(403, { message: "installation token required" });
      return send(200, {
        total_count: repositories.length,
        repositories: repositories.map((full, index) => {
          const [owner = "", name = ""] = full.split("/");
          return { id: 100 + index, name, full_name: full, owner: { login: owner }, default_branch: "main", private: index % 2 === 1 };
        }),
      });
    }
    const repoPath = /^\/repos\/([^/]+)\/([^/]+)\/(.+)$/.exec(path);
    if (repoPath && auth === "installation") {
      const [, owner = "", repo = "", rest = ""] = repoPath;
      if (!repositories.includes(`${owner}/${repo}`)) return send(404, { message: "Not Found" });
      const permission = /^collaborators\/([^/]+)\/permission$/.exec(rest);
      if (permission && method === "GET") {
        const level = state.permissions[permission[1] ?? ""] ?? "read";
        return send(200, {
          permission: level === "maintain" ? "write" : level === "triage" ? "read" : level,
          role_name: level,
          user: { login: permission[1] },
        });
      }
      const reaction = /^(issues|pulls)\/comments\/(\d+)\/reactions$/.exec(rest);
      if (reaction && method === "POST") {
        const content = (body as { content?: string } | null)?.content ?? "";
        state.reactions.push({
          kind: reaction[1] === "issues" ? "issue" : "review-comment",
          commentId: Number(reaction[2]),
          content,
          auth,
        });
        return send(201, { id: state.reactions.length, content });
      }
      const created = (kind: FakeComment["kind"], number: number, inReplyTo: number | null) => {
        const comment: FakeComment = {
          id: nextCommentId++,
          kind,
          owner,
          repo,
          number,
          inReplyTo,
          body: (body as { body?: string } | null)?.body ?? "",
          edits: [],
        };
        state.comments.push(comment);
        return send(201, {
          id: comment.id,
          body: comment.body,
          html_url: `https://github.com/${owner}/${repo}/pull/${number}#comment-${comment.id}`,
        });
      };
      const reviews = /^pulls\/(\d+)\/reviews$/.exec(rest);
      if (reviews && method === "GET") {
        return send(
          200,
          state.reviews
            .filter((review) => review.number === Number(reviews[1]))
            .map((review, index) => ({ id: index + 1, body: review.body })),
        );
      }
      if (reviews && method === "POST") {
        const input = body as { event?: string; body?: string; comments?: FakeGitHub["reviews"][number]["comments"] };
        state.reviews.push({
          number: Number(reviews[1]),
          event: input.event ?? "",
          body: input.body ?? "",
          comments: input.comments ?? [],
        });
        return send(200, { id: state.reviews.length, state: "COMMENTED" });
      }
      const issueComment = /^issues\/(\d+)\/comments$/.exec(rest);
      if (issueComment && method === "POST") return created("issue", Number(issueComment[1]), null);
      const threadReply = /^pulls\/(\d+)\/comments\/(\d+)\/replies$/.exec(rest);
      if (threadReply && method === "POST") return created("review-comment", Number(threadReply[1]), Number(threadReply[2]));
      const edit = /^(issues|pulls)\/comments\/(\d+)$/.exec(rest);
      if (edit && method === "PATCH") {
        const kind = edit[1] === "issues" ? "issue" : "review-comment";
        const comment = state.comments.find((c) => c.id === Number(edit[2]) && c.kind === kind && c.owner === owner && c.repo === repo);
        if (!comment) return send(404, { message: "Not Found" });
        comment.body = (body as { body?: string } | null)?.body ?? comment.body;
        comment.edits.push(comment.body);
        return send(200, { id: comment.id, body: comment.body });
      }
    }

    const pulls = /^\/repos\/([^/]+)\/([^/]+)\/pulls(?:\/(\d+))?$/.exec(path);
    if (pulls) {
      const [, owner = "", repo = "", number] = pulls;
      if (!repositories.includes(`${owner}/${repo}`)) return send(404, { message: "Not Found" });
      const render = (pull: FakePull) => ({
        number: pull.number,
        html_url: `https://github.com/${owner}/${repo}/pull/${pull.number}`,
        state: pull.state,
        merged: pull.merged,
        merged_at: pull.merged ? new Date().toISOString() : null,
        draft: pull.draft,
        title: pull.title,
        body: pull.body,
        user: { login: pull.user },
        head: { sha: pull.headSha, ref: pull.head, repo: { full_name: pull.headRepository ?? `${owner}/${repo}` } },
        base: { ref: pull.base, repo: { full_name: `${owner}/${repo}` } },
      });
      if (!number && method === "GET") {
        const head = url.searchParams.get("head") ?? "";
        const wanted = url.searchParams.get("state") ?? "open";
        return send(
          200,
          state.pulls
            .filter(
              (p) => p.owner === owner && p.repo === repo && `${owner}:${p.head}` === head && (wanted === "all" || p.state === wanted),
            )
            .map(render),
        );
      }
      if (!number && method === "POST") {
        if (auth === "user" && state.refuseUserCreates) return send(403, { message: "Resource not accessible by integration" });
        const input = body as { title: string; head: string; base: string; body?: string; draft?: boolean };
        if (state.pulls.some((p) => p.owner === owner && p.repo === repo && p.head === input.head && p.state === "open")) {
          return send(422, {
            message: "Validation Failed",
            errors: [{ message: `A pull request already exists for ${owner}:${input.head}.` }],
          });
        }
        const pull: FakePull = {
          number: state.pulls.length + 1,
          owner,
          repo,
          head: input.head,
          base: input.base,
          title: input.title,
          body: input.body ?? "",
          draft: input.draft ?? false,
          state: "open",
          merged: false,
          user: auth === "user" ? (login ?? "") : "lookout[bot]",
          headSha: "a".repeat(40),
        };
        state.pulls.push(pull);
        return send(201, render(pull));
      }
      const pull = state.pulls.find((p) => p.owner === owner && p.repo === repo && p.number === Number(number));
      if (!pull) return send(404, { message: "Not Found" });
      if (method === "GET") return send(200, render(pull));
      if (method === "PATCH") {
        const input = body as { title?: string; body?: string };
        if (input.title !== undefined) pull.title = input.title;
        if (input.body !== undefined) pull.body = input.body;
        return send(200, render(pull));
      }
    }
    return send(404, { message: `Not Found: ${method} ${path}` });
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.writeHead(500, { "content-type": "application/json" });
      response.end(JSON.stringify({ message: String(error) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  // A fake started for a whole test run (the workerd tests' binding) must not keep the run alive.
  if (options.unref) server.unref();
  const port = (server.address() as AddressInfo).port;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}
