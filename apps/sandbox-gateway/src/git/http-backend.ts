import { spawn } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type GitCredentialClaims, LookoutError, verifyGitCredential } from "@lookout/protocol";
import type { RepositoryRoots } from "./repo-roots";
import { describeError, type Logger } from "@lookout/sandbox";

/**
 * Local repositories over git's smart HTTP protocol: `/git/<session id>.git/...` on the gateway,
 * answered by `git http-backend` run as a CGI program against the repository the credential
 * names. The sandbox reaches the repository only through this endpoint, exactly as it reaches
 * GitHub, and never sees the host's filesystem.
 */
export const GIT_PATH_PREFIX = "/git/";
const GIT_PATH = /^\/git\/([A-Za-z0-9_-]{1,128})\.git\/(info\/refs|git-upload-pack|git-receive-pack)$/;
const SERVICES = new Set(["git-upload-pack", "git-receive-pack"]);
/** The realm git shows when it asks its credential helper. */
const REALM = "Lookout git";
/** Largest CGI header block accepted from `git http-backend`. */
const MAX_CGI_HEADER_BYTES = 64 * 1024;

export interface GitHttpContext {
  /** The secret shared with the control plane; without it every request is refused. */
  readonly credentialSecret: string | undefined;
  /** The gateway-owned directory `core.hooksPath` points at (see `installHooks`). */
  readonly hooksDir: string;
  /** An empty directory used as HOME, so no user or global git configuration applies. */
  readonly gitHome: string;
  /** Where host repositories may live; checked on every request. */
  readonly roots: RepositoryRoots;
  readonly logger: Logger;
  readonly now?: () => number;
}

/**
 * Writes the gateway's hooks directory: a `pre-receive` that runs `pre-receive.ts` with this Node.
 * Both paths are the gateway's own; they are quoted for the shell git runs hooks with.
 */
export async function installHooks(dataDir: string): Promise<{ hooksDir: string; gitHome: string }> {
  const hooksDir = join(dataDir, "git-hooks");
  const gitHome = join(dataDir, "git-home");
  await mkdir(hooksDir, { recursive: true });
  await mkdir(gitHome, { recursive: true });
  const script = fileURLToPath(new URL("./pre-receive.ts", import.meta.url));
  const hook = `#!/bin/sh\nexec ${shellQuote(process.execPath)} --no-warnings --experimental-strip-types ${shellQuote(script)}\n`;
  const path = join(hooksDir, "pre-receive");
  await writeFile(path, hook, { mode: 0o755 });
  await chmod(path, 0o755);
  return { hooksDir, gitHome };
}

/** Answers one git smart-HTTP request, streaming both ways. */
export async function handleGitHttp(request: IncomingMessage, response: ServerResponse, context: GitHttpContext): Promise<void> {
  const url = new URL(request.url ?? "/", "http://gateway");
  const match = GIT_PATH.exec(url.pathname);
  if (!match?.[1] || !match[2]) throw new LookoutError("NOT_FOUND", "Git repositories are served at /git/<session id>.git.");
  const sessionId = match[1];
  const endpoint = match[2];
  const service = endpoint === "info/refs" ? url.searchParams.get("service") : endpoint;
  if (!service || !SERVICES.has(service)) throw new LookoutError("BAD_REQUEST", "Only git's smart HTTP protocol is served.");
  const method = request.method ?? "GET";
  if ((endpoint === "info/refs" && method !== "GET") || (endpoint !== "info/refs" && method !== "POST")) {
    throw new LookoutError("BAD_REQUEST", `${method} is not a git smart-HTTP request for ${endpoint}.`);
  }

  const password = basicPassword(request.headers.authorization);
  let claims: GitCredentialClaims;
  try {
    if (!password) throw new LookoutError("UNAUTHENTICATED", "Git requests need a credential from the Lookout credential helper.");
    claims = await verifyGitCredential(context.credentialSecret, password, { sessionId, now: context.now?.() ?? Date.now() });
  } catch (error) {
    if (error instanceof LookoutError && (error.code === "UNAUTHENTICATED" || error.code === "INVALID_TOKEN")) {
      // 401 with a challenge makes git ask its credential helper (again) instead of giving up.
      request.resume();
      const text = `${error.message}\n`;
      response.writeHead(401, {
        "www-authenticate": `Basic realm="${REALM}"`,
        "content-type": "text/plain; charset=utf-8",
        "content-length": Buffer.byteLength(text),
      });
      response.end(text);
      context.logger.info("git request refused", { sessionId, service, reason: error.message });
      return;
    }
    throw error;
  }

  // The credential names the repository; it is served only while it is still an admitted one.
  const repo = await context.roots.check(claims.repo);
  await runBackend(request, response, {
    claims: { ...claims, repo },
    endpoint,
    query: url.search.slice(1),
    context,
  });
  context.logger.info("git request served", { sessionId, service, status: response.statusCode });
}

/** The environment `git http-backend` and the hook run with: nothing of the gateway's own. */
function backendEnvironment(
  request: IncomingMessage,
  claims: GitCredentialClaims,
  endpoint: string,
  query: string,
  context: GitHttpContext,
): NodeJS.ProcessEnv {
  const config: [string, string][] = [
    ["core.hooksPath", context.hooksDir],
    ["http.receivepack", "true"],
    ["http.uploadpack", "true"],
    ["receive.denyDeletes", "true"],
  ];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: context.gitHome,
    LANG: "C",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_PROJECT_ROOT: claims.repo,
    GIT_HTTP_EXPORT_ALL: "1",
    PATH_INFO: `/${endpoint}`,
    QUERY_STRING: query,
    REQUEST_METHOD: request.method ?? "GET",
    REMOTE_USER: `lookout-session-${claims.sid}`,
    REMOTE_ADDR: request.socket.remoteAddress ?? "127.0.0.1",
    GIT_CONFIG_COUNT: String(config.length),
    LOOKOUT_GIT_ALLOWED_REF: claims.ref,
    LOOKOUT_GIT_WORKFLOW_SHA: claims.workflowSha ?? "",
  };
  config.forEach(([key, value], index) => {
    env[`GIT_CONFIG_KEY_${index}`] = key;
    env[`GIT_CONFIG_VALUE_${index}`] = value;
  });
  const contentType = request.headers["content-type"];
  if (contentType) env.CONTENT_TYPE = contentType;
  const contentLength = request.headers["content-length"];
  if (contentLength) env.CONTENT_LENGTH = contentLength;
  const encoding = request.headers["content-encoding"];
  if (encoding) env.HTTP_CONTENT_ENCODING = encoding;
  const protocol = request.headers["git-protocol"];
  if (typeof protocol === "string" && /^[A-Za-z0-9=:._-]{1,200}$/.test(protocol)) env.GIT_PROTOCOL = protocol;
  return env;
}

async function runBackend(
  request: IncomingMessage,
  response: ServerResponse,
  options: { claims: GitCredentialClaims; endpoint: string; query: string; context: GitHttpContext },
): Promise<void> {
  const { claims, endpoint, query, context } = options;
  const child = spawn("git", ["http-backend"], {
    env: backendEnvironment(request, claims, endpoint, query, context),
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4000);
  });
  request.pipe(child.stdin);
  child.stdin.on("error", () => {
    // The backend may answer and exit before reading everything (a refused push); that is fine.
  });

  await new Promise<void>((resolve, reject) => {
    let header = Buffer.alloc(0);
    let headersDone = false;
    child.stdout.on("data", (chunk: Buffer) => {
      if (headersDone) {
        if (!response.write(chunk)) {
          child.stdout.pause();
          response.once("drain", () => child.stdout.resume());
        }
        return;
      }
      header = Buffer.concat([header, chunk]);
      const end = headerEnd(header);
      if (end === null) {
        if (header.byteLength > MAX_CGI_HEADER_BYTES) {
          child.kill("SIGKILL");
          reject(new Error("git http-backend sent an oversized header block"));
        }
        return;
      }
      headersDone = true;
      const { status, headers } = parseCgiHeaders(header.subarray(0, end.index).toString("latin1"));
      response.writeHead(status, { ...headers, "cache-control": "no-cache" });
      const rest = header.subarray(end.index + end.length);
      if (rest.byteLength > 0) response.write(rest);
    });
    child.on("error", (error) => reject(error));
    child.on("close", (code) => {
      if (!headersDone) {
        reject(new Error(`git http-backend exited with ${String(code)} before answering: ${stderr.trim()}`));
        return;
      }
      response.end();
      if (code !== 0) context.logger.warn("git http-backend failed", { sessionId: claims.sid, code, stderr: stderr.trim() });
      resolve();
    });
  }).catch((error: unknown) => {
    context.logger.error("git request failed", { sessionId: claims.sid, error: describeError(error) });
    throw new LookoutError("INTERNAL", "The repository could not be served.");
  });
}

function headerEnd(buffer: Buffer): { index: number; length: number } | null {
  const crlf = buffer.indexOf("\r\n\r\n");
  const lf = buffer.indexOf("\n\n");
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) return { index: crlf, length: 4 };
  if (lf >= 0) return { index: lf, length: 2 };
  return null;
}

/** CGI response headers: `Status: 404 Not Found` sets the status, the rest pass through. */
export function parseCgiHeaders(block: string): { status: number; headers: Record<string, string> } {
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of block.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "status") {
      const code = Number(value.split(" ")[0]);
      if (Number.isInteger(code) && code >= 100 && code < 600) status = code;
    } else {
      headers[name] = value;
    }
  }
  return { status, headers };
}

/** The password of a `Basic` authorization header, or null. */
export function basicPassword(header: string | undefined): string | null {
  if (!header?.startsWith("Basic ")) return null;
  const decoded = Buffer.from(header.slice("Basic ".length).trim(), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon >= 0 ? decoded.slice(colon + 1) || null : null;
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
