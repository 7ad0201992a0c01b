import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * The fake GitHub's git smart HTTP: one bare repository served by real `git http-backend` (CGI
 * over node:http), behind the same basic auth GitHub takes from an App (`x-access-token:<token>`),
 * with pushes allowed only to tokens minted with `contents: write`.
 */

/** One git request the fake answered (or refused), for tests to assert on. */
export interface FakeGitRequest {
  service: "git-upload-pack" | "git-receive-pack";
  /** `info/refs` (the advertisement) or `rpc` (the pack exchange). */
  stage: "info/refs" | "rpc";
  /** 200 served, 401 no or unknown credential, 403 a read-only token asked to push. */
  status: number;
}

const COMMITTER = ["-c", "user.name=Fixture", "-c", "user.email=fixture@example.com"];
const GIT_PATH = /^\/([^/]+)\/([^/]+)\.git\/(info\/refs|git-upload-pack|git-receive-pack)$/;

export class FakeGitRepository {
  /** The bare repository the fake serves (`<root>/<owner>/<name>.git`). */
  readonly bare: string;
  readonly requests: FakeGitRequest[] = [];
  private readonly root: string;
  private readonly work: string;

  constructor(
    readonly fullName: string,
    files: Record<string, string>,
  ) {
    this.root = mkdtempSync(join(tmpdir(), "lookout-fake-github-"));
    this.bare = join(this.root, `${fullName}.git`);
    this.work = join(this.root, "work");
    mkdirSync(dirname(this.bare), { recursive: true });
    git(this.root, "init", "-q", "--bare", "-b", "main", this.bare);
    git(this.root, "init", "-q", "-b", "main", this.work);
    this.commitFiles(files, "Initial commit");
    git(this.work, "push", "-q", this.bare, "HEAD:refs/heads/main");
  }

  /**
   * A pull request's head: a commit with `files` on top of `base`, pushed to `ref` (a branch,
   * `refs/heads/<head>`, or a fork's `refs/pull/<n>/head`). Returns its sha.
   */
  addHead(base: string, ref: string, files: Record<string, string>, message: string): string {
    git(this.work, "fetch", "-q", this.bare, `+refs/heads/${base}:refs/remotes/fake/${base}`);
    git(this.work, "checkout", "-q", "--detach", `refs/remotes/fake/${base}`);
    const sha = this.commitFiles(files, message);
    git(this.work, "push", "-q", this.bare, `${sha}:${ref}`);
    return sha;
  }

  /** The sha a ref points at in the served repository, or undefined. */
  sha(ref: string): string | undefined {
    try {
      return git(this.bare, "rev-parse", "--verify", "--quiet", `${ref}^{commit}`);
    } catch {
      return undefined;
    }
  }

  /** A file's content at `ref`, or undefined. */
  fileAt(ref: string, path: string): string | undefined {
    try {
      return execFileSync("git", ["show", `${ref}:${path}`], { cwd: this.bare, encoding: "utf8" });
    } catch {
      return undefined;
    }
  }

  /** Whether `ancestor` is in `ref`'s history. */
  contains(ref: string, ancestor: string): boolean {
    try {
      git(this.bare, "merge-base", "--is-ancestor", ancestor, ref);
      return true;
    } catch {
      return false;
    }
  }

  /** Every branch of the served repository. */
  branches(): string[] {
    return git(this.bare, "for-each-ref", "--format=%(refname:short)", "refs/heads").split("\n").filter(Boolean);
  }

  /**
   * Answers a git request for this repository, or returns false when the path is not git's.
   * `permissionOf` gives the token's `contents` permission (undefined: no such token).
   */
  async serve(request: IncomingMessage, response: ServerResponse, permissionOf: (token: string) => string | undefined): Promise<boolean> {
    const url = new URL(request.url ?? "/", "http://fake");
    const match = GIT_PATH.exec(url.pathname);
    if (!match || `${match[1]}/${match[2]}` !== this.fullName) return false;
    const endpoint = match[3] ?? "";
    const service = endpoint === "info/refs" ? url.searchParams.get("service") : endpoint;
    if (service !== "git-upload-pack" && service !== "git-receive-pack") {
      request.resume();
      response.writeHead(403, { "content-type": "text/plain" }).end("Dumb HTTP is not served.\n");
      return true;
    }
    const stage = endpoint === "info/refs" ? "info/refs" : "rpc";
    const permission = permissionOf(basicToken(request.headers.authorization) ?? "");
    const refuse = (status: number, text: string, headers: Record<string, string> = {}) => {
      this.requests.push({ service, stage, status });
      request.resume();
      response.writeHead(status, { "content-type": "text/plain", ...headers }).end(text);
      return true;
    };
    if (permission === undefined) return refuse(401, "Invalid username or password.\n", { "www-authenticate": 'Basic realm="GitHub"' });
    if (service === "git-receive-pack" && permission !== "write") {
      return refuse(403, `Permission to ${this.fullName}.git denied to lookout-app[bot].\n`);
    }
    this.requests.push({ service, stage, status: 200 });
    await runBackend(request, response, {
      GIT_PROJECT_ROOT: this.root,
      GIT_HTTP_EXPORT_ALL: "1",
      PATH_INFO: url.pathname,
      QUERY_STRING: url.search.replace(/^\?/, ""),
      REQUEST_METHOD: request.method ?? "GET",
      REMOTE_USER: "x-access-token",
    });
    return true;
  }

  close(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  private commitFiles(files: Record<string, string>, message: string): string {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(this.work, path)), { recursive: true });
      writeFileSync(join(this.work, path), content);
    }
    git(this.work, "add", "-A");
    git(this.work, ...COMMITTER, "commit", "-q", "--allow-empty", "-m", message);
    return git(this.work, "rev-parse", "HEAD");
  }
}

/** The token of `Authorization: Basic base64(x-access-token:<token>)`, as GitHub takes an App's. */
function basicToken(header: string | undefined): string | undefined {
  if (!header?.startsWith("Basic ")) return undefined;
  const [user, token] = Buffer.from(header.slice("Basic ".length).trim(), "base64").toString("utf8").split(":", 2);
  return user === "x-access-token" && token ? token : undefined;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1" } }).trim();
}

/** Runs `git http-backend` as a CGI program for one request and streams its answer. */
function runBackend(request: IncomingMessage, response: ServerResponse, cgi: Record<string, string>): Promise<void> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: tmpdir(),
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_CONFIG_COUNT: "1",
    GIT_CONFIG_KEY_0: "http.receivepack",
    GIT_CONFIG_VALUE_0: "true",
    ...cgi,
  };
  const contentType = request.headers["content-type"];
  if (contentType) env.CONTENT_TYPE = contentType;
  const encoding = request.headers["content-encoding"];
  if (encoding) env.HTTP_CONTENT_ENCODING = encoding;
  const protocol = request.headers["git-protocol"];
  if (typeof protocol === "string") env.GIT_PROTOCOL = protocol;
  const child = spawn("git", ["http-backend"], { env, stdio: ["pipe", "pipe", "pipe"] });
  request.pipe(child.stdin);
  child.stdin.on("error", () => undefined);
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  return new Promise((resolve, reject) => {
    let header = Buffer.alloc(0);
    let started = false;
    child.stdout.on("data", (chunk: Buffer) => {
      if (started) {
        response.write(chunk);
        return;
      }
      header = Buffer.concat([header, chunk]);
      const crlf = header.indexOf("\r\n\r\n");
      const end = crlf >= 0 ? { at: crlf, length: 4 } : header.indexOf("\n\n") >= 0 ? { at: header.indexOf("\n\n"), length: 2 } : null;
      if (!end) return;
      started = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of header.subarray(0, end.at).toString("latin1").split(/\r?\n/)) {
        const colon = line.indexOf(":");
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (name === "status") status = Number(value.split(" ")[0]) || 200;
        else headers[name] = value;
      }
      response.writeHead(status, headers);
      const rest = header.subarray(end.at + end.length);
      if (rest.byteLength > 0) response.write(rest);
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (!started) {
        reject(new Error(`git http-backend exited with ${String(code)} before answering: ${stderr}`));
        return;
      }
      response.end();
      resolve();
    });
  });
}
