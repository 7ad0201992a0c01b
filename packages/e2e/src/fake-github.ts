import { createPublicKey, generateKeyPairSync, randomBytes, verify } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { FakeGitRepository } from "./fake-github-git";

export type { FakeGitRequest } from "./fake-github-git";

/**
 * The end-to-end fake of the slice of GitHub the @mention flow uses (packages may not import the
 * control plane's `test/support/fake-github.ts`): the REST API and git's smart HTTP for one
 * repository, on one origin that plays both `GITHUB_API_URL` and `GITHUB_WEB_URL` (as a GitHub
 * Enterprise Server does). Like GitHub it checks that App endpoints carry an RS256 JWT signed with
 * the App's key (issuer = App id, unexpired), that repository endpoints and git carry an
 * installation token it minted, and that only a token minted with `contents: write` pushes. What
 * it was asked is recorded.
 */
export interface FakeGitHubComment {
  id: number;
  number: number;
  body: string;
  /** Every body after the first, in order. */
  edits: string[];
}

export interface FakeGitHubPull {
  number: number;
  title: string;
  head: string;
  base: string;
  headSha: string;
  /** The fork the head branch lives in (`someone/widgets`); unset for a branch of this repository. */
  fork?: string;
}

/** A pull request the App opened (`POST /repos/{owner}/{repo}/pulls`). */
export interface FakeGitHubCreatedPull {
  number: number;
  title: string;
  body: string;
  head: string;
  base: string;
}

export interface FakeGitHub {
  url: string;
  appId: string;
  privateKey: string;
  installationId: number;
  appSlug: string;
  /** Repository permission by login; others have `read`. */
  permissions: Record<string, string>;
  pulls: FakeGitHubPull[];
  createdPulls: FakeGitHubCreatedPull[];
  comments: FakeGitHubComment[];
  reactions: { commentId: number; content: string }[];
  /** The repository served over git, and every git request it answered or refused. */
  git: FakeGitRepository;
  /**
   * Adds a pull request whose head is a commit with `files` on top of `base`: on the branch `head`
   * of this repository, or for a fork only at `refs/pull/<number>/head` (as GitHub keeps it).
   */
  addPull(pull: Omit<FakeGitHubPull, "headSha"> & { files: Record<string, string> }): FakeGitHubPull;
  close(): Promise<void>;
}

export interface FakeGitHubOptions {
  repository: string;
  /** The address to listen on; default 127.0.0.1. */
  host?: string;
  /** The files of the repository's first commit on `main`. */
  files?: Record<string, string>;
}

const DEFAULT_FILES = {
  "README.md": "# Widgets\n\nA repository for Lookout's end-to-end tests.\n",
  "src/widget.js": 'export const name = "widget";\n',
};

export async function startFakeGitHub(options: FakeGitHubOptions): Promise<FakeGitHub> {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const verifyKey = createPublicKey(publicKey);
  /** Installation tokens it minted, with their `contents` permission. */
  const tokens = new Map<string, string>();
  const repository = new FakeGitRepository(options.repository, options.files ?? DEFAULT_FILES);
  let nextComment = 7_000_000;
  let nextPull = 100;
  const state = {
    appId: "515151",
    privateKey,
    installationId: 11,
    appSlug: "lookout-app",
    permissions: {} as Record<string, string>,
    pulls: [] as FakeGitHubPull[],
    createdPulls: [] as FakeGitHubCreatedPull[],
    git: repository,
    comments: [] as FakeGitHubComment[],
    reactions: [] as FakeGitHub["reactions"],
  };
  const [owner = "", repo = ""] = options.repository.split("/");

  const appJwt = (authorization: string): boolean => {
    const [header, payload, signature] = authorization.replace(/^bearer /i, "").split(".");
    if (!header || !payload || !signature) return false;
    if (!verify("RSA-SHA256", Buffer.from(`${header}.${payload}`), verifyKey, Buffer.from(signature, "base64url"))) return false;
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as { iss?: unknown; exp?: number };
    return String(claims.iss) === state.appId && typeof claims.exp === "number" && claims.exp > Date.now() / 1000;
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (await repository.serve(request, response, (token) => tokens.get(token))) return;
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString();
    const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    const path = new URL(request.url ?? "/", "http://fake").pathname;
    const method = request.method ?? "GET";
    const authorization = request.headers.authorization ?? "";
    const send = (status: number, payload: unknown) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(payload));
    };
    if (path === "/app" && method === "GET") {
      if (!appJwt(authorization)) return send(401, { message: "A JSON web token could not be decoded" });
      return send(200, { id: Number(state.appId), slug: state.appSlug });
    }
    if (path === `/app/installations/${state.installationId}/access_tokens` && method === "POST") {
      if (!appJwt(authorization)) return send(401, { message: "A JSON web token could not be decoded" });
      const token = `ghs_${randomBytes(18).toString("hex")}`;
      // Without a permissions body GitHub grants everything the installation has.
      const contents = (body.permissions as { contents?: string } | undefined)?.contents ?? "write";
      tokens.set(token, contents);
      return send(201, { token, expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: body.permissions ?? {} });
    }
    if (!tokens.has(authorization.replace(/^(token|bearer) /i, ""))) return send(401, { message: "Bad credentials" });
    const full = `${owner}/${repo}`;
    const webUrl = `http://${request.headers.host ?? "fake"}`;
    const prefix = `/repos/${owner}/${repo}/`;
    if (!path.startsWith(prefix)) return send(404, { message: "Not Found" });
    const rest = path.slice(prefix.length);
    const permission = /^collaborators\/([^/]+)\/permission$/.exec(rest);
    if (permission && method === "GET") {
      const level = state.permissions[permission[1] ?? ""] ?? "read";
      return send(200, { permission: level, role_name: level });
    }
    const pullPayload = (pull: FakeGitHubPull | FakeGitHubCreatedPull, headRepository: string, headSha: string) => ({
      number: pull.number,
      title: pull.title,
      body: "body" in pull ? pull.body : null,
      html_url: `${webUrl}/${full}/pull/${pull.number}`,
      state: "open",
      draft: false,
      head: { ref: pull.head, sha: headSha, repo: { full_name: headRepository } },
      base: { ref: pull.base, repo: { full_name: full } },
    });
    const described = (number: number) => {
      const registered = state.pulls.find((candidate) => candidate.number === number);
      if (registered) {
        const sha = registered.fork ? registered.headSha : (repository.sha(`refs/heads/${registered.head}`) ?? registered.headSha);
        return pullPayload(registered, registered.fork ?? full, sha);
      }
      const created = state.createdPulls.find((candidate) => candidate.number === number);
      return created ? pullPayload(created, full, repository.sha(`refs/heads/${created.head}`) ?? "") : undefined;
    };
    const pull = /^pulls\/(\d+)$/.exec(rest);
    if (pull && method === "GET") {
      const found = described(Number(pull[1]));
      return found ? send(200, found) : send(404, { message: "Not Found" });
    }
    if (rest === "pulls" && method === "GET") {
      const head = new URL(request.url ?? "/", "http://fake").searchParams.get("head");
      const open = state.createdPulls.filter((candidate) => head === null || head === `${owner}:${candidate.head}`);
      return send(
        200,
        open.map((candidate) => described(candidate.number)),
      );
    }
    if (rest === "pulls" && method === "POST") {
      const [head, base] = [String(body.head), String(body.base)];
      // GitHub refuses a pull request whose head or base branch it does not have.
      if (!repository.sha(`refs/heads/${head}`) || !repository.sha(`refs/heads/${base}`)) {
        return send(422, { message: "Validation Failed", errors: [{ resource: "PullRequest", field: "head", code: "invalid" }] });
      }
      const created = { number: nextPull++, title: String(body.title), body: typeof body.body === "string" ? body.body : "", head, base };
      state.createdPulls.push(created);
      return send(201, described(created.number));
    }
    const reaction = /^issues\/comments\/(\d+)\/reactions$/.exec(rest);
    if (reaction && method === "POST") {
      state.reactions.push({ commentId: Number(reaction[1]), content: String(body.content) });
      return send(201, { id: state.reactions.length, content: body.content });
    }
    const comment = /^issues\/(\d+)\/comments$/.exec(rest);
    if (comment && method === "POST") {
      const created = { id: nextComment++, number: Number(comment[1]), body: String(body.body), edits: [] };
      state.comments.push(created);
      return send(201, { id: created.id, body: created.body });
    }
    const edit = /^issues\/comments\/(\d+)$/.exec(rest);
    if (edit && method === "PATCH") {
      const found = state.comments.find((candidate) => candidate.id === Number(edit[1]));
      if (!found) return send(404, { message: "Not Found" });
      found.body = String(body.body);
      found.edits.push(found.body);
      return send(200, { id: found.id, body: found.body });
    }
    return send(404, { message: `Not Found: ${method} ${path}` });
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.writeHead(500, { "content-type": "application/json" });
      response.end(JSON.stringify({ message: String(error) }));
    });
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(state, {
    url: `http://${host}:${port}`,
    addPull(input: Omit<FakeGitHubPull, "headSha"> & { files: Record<string, string> }): FakeGitHubPull {
      const ref = input.fork ? `refs/pull/${input.number}/head` : `refs/heads/${input.head}`;
      const headSha = repository.addHead(input.base, ref, input.files, input.title);
      const added: FakeGitHubPull = {
        number: input.number,
        title: input.title,
        head: input.head,
        base: input.base,
        headSha,
        ...(input.fork ? { fork: input.fork } : {}),
      };
      state.pulls.push(added);
      return added;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          repository.close();
          resolve();
        });
        server.closeAllConnections();
      }),
  });
}
