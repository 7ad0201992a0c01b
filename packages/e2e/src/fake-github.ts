import { createPublicKey, generateKeyPairSync, randomBytes, verify } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * The end-to-end fake of the slice of GitHub's REST API the @mention flow uses (packages may not
 * import the control plane's `test/support/fake-github.ts`). Like GitHub it checks that App
 * endpoints carry an RS256 JWT signed with the App's key (issuer = App id, unexpired) and that
 * repository endpoints carry an installation token it minted; what it was asked is recorded.
 */
export interface FakeGitHubComment {
  id: number;
  number: number;
  body: string;
  /** Every body after the first, in order. */
  edits: string[];
}

export interface FakeGitHub {
  url: string;
  appId: string;
  privateKey: string;
  installationId: number;
  appSlug: string;
  /** Repository permission by login; others have `read`. */
  permissions: Record<string, string>;
  pulls: { number: number; title: string; head: string; base: string; headSha: string }[];
  comments: FakeGitHubComment[];
  reactions: { commentId: number; content: string }[];
  close(): Promise<void>;
}

export async function startFakeGitHub(options: { repository: string }): Promise<FakeGitHub> {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const verifyKey = createPublicKey(publicKey);
  const tokens = new Set<string>();
  let nextComment = 7_000_000;
  const state = {
    appId: "515151",
    privateKey,
    installationId: 11,
    appSlug: "lookout-app",
    permissions: {} as Record<string, string>,
    pulls: [] as FakeGitHub["pulls"],
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
      tokens.add(token);
      return send(201, { token, expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: body.permissions ?? {} });
    }
    if (!tokens.has(authorization.replace(/^(token|bearer) /i, ""))) return send(401, { message: "Bad credentials" });
    const prefix = `/repos/${owner}/${repo}/`;
    if (!path.startsWith(prefix)) return send(404, { message: "Not Found" });
    const rest = path.slice(prefix.length);
    const permission = /^collaborators\/([^/]+)\/permission$/.exec(rest);
    if (permission && method === "GET") {
      const level = state.permissions[permission[1] ?? ""] ?? "read";
      return send(200, { permission: level, role_name: level });
    }
    const pull = /^pulls\/(\d+)$/.exec(rest);
    if (pull && method === "GET") {
      const found = state.pulls.find((candidate) => candidate.number === Number(pull[1]));
      if (!found) return send(404, { message: "Not Found" });
      const full = `${owner}/${repo}`;
      return send(200, {
        number: found.number,
        title: found.title,
        head: { ref: found.head, sha: found.headSha, repo: { full_name: full } },
        base: { ref: found.base, repo: { full_name: full } },
      });
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
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
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
