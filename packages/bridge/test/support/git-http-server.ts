import { spawn } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the server saw, with the credential it carried. */
export interface GitHttpRequest {
  method: string;
  path: string;
  /** The basic-auth password, if any. */
  password: string | undefined;
  status: number;
}

/**
 * Repositories under `root` over git's smart HTTP protocol (`git http-backend` as CGI), for
 * exactly one password: a stand-in for the gateway's git endpoint or GitHub. Requests without it
 * get 401 with a basic challenge, as there.
 */
export class GitHttpServer {
  readonly requests: GitHttpRequest[] = [];

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
  ) {}

  static async start(options: { root: string; password: string }): Promise<GitHttpServer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const started = new GitHttpServer(server, `http://127.0.0.1:${port}`);
    server.on("request", (request: IncomingMessage, response: ServerResponse) => {
      started.answer(request, response, options).catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(500).end(String(error));
        else response.destroy();
      });
    });
    return started;
  }

  /** The URL of the repository `<root>/<name>`. */
  url(name: string): string {
    return `${this.baseUrl}/${name}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async answer(request: IncomingMessage, response: ServerResponse, options: { root: string; password: string }): Promise<void> {
    const url = new URL(request.url ?? "/", "http://git");
    const authorization = request.headers.authorization ?? "";
    const password = authorization.startsWith("Basic ")
      ? Buffer.from(authorization.slice("Basic ".length), "base64").toString("utf8").split(":").slice(1).join(":")
      : undefined;
    const record: GitHttpRequest = { method: request.method ?? "GET", path: url.pathname, password, status: 0 };
    this.requests.push(record);
    if (password !== options.password) {
      request.resume();
      record.status = 401;
      response.writeHead(401, { "www-authenticate": 'Basic realm="test git"' }).end("credentials required\n");
      return;
    }
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_PROJECT_ROOT: options.root,
      GIT_HTTP_EXPORT_ALL: "1",
      PATH_INFO: url.pathname,
      QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: request.method ?? "GET",
      REMOTE_USER: "lookout",
      REMOTE_ADDR: "127.0.0.1",
      ...(request.headers["content-type"] ? { CONTENT_TYPE: request.headers["content-type"] } : {}),
      ...(typeof request.headers["content-encoding"] === "string" ? { HTTP_CONTENT_ENCODING: request.headers["content-encoding"] } : {}),
      ...(typeof request.headers["git-protocol"] === "string" ? { GIT_PROTOCOL: request.headers["git-protocol"] } : {}),
    };
    const child = spawn("git", ["http-backend"], { env, stdio: ["pipe", "pipe", "ignore"] });
    request.pipe(child.stdin);
    child.stdin.on("error", () => {
      // The backend may answer before reading everything.
    });
    await new Promise<void>((resolve, reject) => {
      let header = Buffer.alloc(0);
      let done = false;
      child.stdout.on("data", (chunk: Buffer) => {
        if (done) return void response.write(chunk);
        header = Buffer.concat([header, chunk]);
        const end = header.indexOf("\r\n\r\n");
        if (end === -1) return;
        done = true;
        let status = 200;
        const headers: Record<string, string> = {};
        for (const line of header.subarray(0, end).toString("latin1").split("\r\n")) {
          const colon = line.indexOf(":");
          const name = line.slice(0, colon).trim().toLowerCase();
          const value = line.slice(colon + 1).trim();
          if (name === "status") status = Number.parseInt(value, 10);
          else headers[name] = value;
        }
        record.status = status;
        response.writeHead(status, headers);
        response.write(header.subarray(end + 4));
      });
      child.once("error", reject);
      child.once("close", () => {
        if (!done) return reject(new Error("git http-backend answered nothing"));
        response.end();
        resolve();
      });
    });
  }
}
