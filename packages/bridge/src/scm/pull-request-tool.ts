import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { CreatePullRequestRequest, PullRequestResponse, summarizeIssues } from "@lookout/protocol";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { McpRemoteConfig } from "@opencode-ai/sdk/v2/client";
import { z } from "zod";

/**
 * The agent's `create_pull_request` tool, served to OpenCode by an MCP server (the official SDK's
 * `McpServer`) on loopback.
 *
 * A custom tool file would need `@opencode-ai/plugin`, which OpenCode tries to install from npm
 * and hangs on without network; MCP is built into OpenCode and needs nothing installed. The tool
 * runs in the bridge, which holds the sandbox token (OpenCode's processes do not) and makes the
 * authenticated call to the control plane, which opens the pull request for this session only.
 */

/** The MCP server's name in OpenCode's config; OpenCode prefixes its tools with it. */
export const MCP_SERVER_NAME = "lookout";
export const PULL_REQUEST_TOOL_NAME = "create_pull_request";
/** The name the model sees: OpenCode joins server and tool names with `_`. */
export const PULL_REQUEST_TOOL_ID = `${MCP_SERVER_NAME}_${PULL_REQUEST_TOOL_NAME}`;
/** The MCP endpoint's path on the tool server. */
export const MCP_PATH = "/mcp";
/** Largest request body the transport reads; tool arguments are a title and a Markdown body. */
const MAX_REQUEST_BYTES = 256 * 1024;
/** How long the control plane gets to open the pull request (it asks the gateway or GitHub). */
const CONTROL_PLANE_TIMEOUT_MS = 60_000;

/**
 * What the model may pass, as the tool advertises it. Blank strings pass here and are dropped
 * before `CreatePullRequestRequest` (the control plane's own contract) checks the fields.
 */
const PullRequestToolInput = z.strictObject({
  title: z.string().optional().describe("Pull request title (optional)"),
  body: z.string().optional().describe("Pull request description in Markdown (optional)"),
  draft: z.boolean().optional().describe("Open as a draft (default: the deployment's setting)"),
});

/** What a tool call produced: text for the model, and whether it failed. */
export interface ToolResult {
  text: string;
  isError: boolean;
}

export type PullRequestOpener = (input: CreatePullRequestRequest) => Promise<ToolResult>;

/**
 * The MCP server with the one tool. Stateless: every HTTP request gets a server and transport
 * of its own (the SDK's pattern for a server without sessions), so nothing is shared between calls.
 */
export function pullRequestMcpServer(openPullRequest: PullRequestOpener): McpServer {
  const server = new McpServer({ name: MCP_SERVER_NAME, version: "1.0.0" });
  server.registerTool(
    PULL_REQUEST_TOOL_NAME,
    {
      title: "Create pull request",
      description:
        "Open a pull request for this session's branch, or update the one already open. Call it when the work is ready for review, " +
        "after committing it (git add, git commit): your commits are pushed before the pull request opens, and anything left " +
        "uncommitted is committed and pushed when the prompt ends. Title and body default to the session's.",
      inputSchema: PullRequestToolInput,
    },
    async (args) => {
      const input = CreatePullRequestRequest.safeParse(withoutBlanks(args));
      const result = input.success
        ? await openPullRequest(input.data)
        : { text: `The pull request fields are invalid: ${summarizeIssues(input.error)}.`, isError: true };
      return { content: [{ type: "text", text: result.text }], isError: result.isError };
    },
  );
  return server;
}

/** Models often send empty strings for optional fields; those mean "use the default". */
function withoutBlanks(args: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).filter(([, value]) => !(typeof value === "string" && value.trim() === "")));
}

/** What pushing before the pull request opens needs: the bridge's `PushCoordinator` fits. */
export interface PendingPush {
  afterCommit(promptId?: string): Promise<void>;
}

/**
 * Pushes the commits the agent already made before the pull request is opened: a pull request
 * needs its branch on the remote (GitHub refuses a head it does not have), and the branch is
 * otherwise pushed only when the prompt ends. Without a pusher (a session that may not push) the
 * opener runs as it is, and the control plane refuses it.
 */
export function pushingFirst(pusher: PendingPush | undefined, opener: PullRequestOpener): PullRequestOpener {
  if (!pusher) return opener;
  return async (input) => {
    try {
      await pusher.afterCommit();
    } catch (error) {
      return { text: `Pushing the branch before opening the pull request failed: ${String(error)}`, isError: true };
    }
    return opener(input);
  };
}

export interface ControlPlaneTarget {
  controlPlaneUrl: string;
  sessionId: string;
  sandboxId: string;
  sandboxToken: string;
  fetcher?: typeof fetch;
}

/** Opens (or updates) the session's pull request as the sandbox, and says what happened in a sentence. */
export function controlPlaneOpener(target: ControlPlaneTarget): PullRequestOpener {
  const fetcher = target.fetcher ?? fetch;
  return async (input) => {
    const url = `${target.controlPlaneUrl.replace(/\/+$/, "")}/api/sessions/${encodeURIComponent(target.sessionId)}/pull-request`;
    let response: Response;
    try {
      response = await fetcher(url, {
        method: "POST",
        headers: {
          authorization: `Bearer ${target.sandboxToken}`,
          "x-lookout-sandbox-id": target.sandboxId,
          "content-type": "application/json",
        },
        body: JSON.stringify(input),
        signal: AbortSignal.timeout(CONTROL_PLANE_TIMEOUT_MS),
      });
    } catch (error) {
      return { text: `Opening the pull request failed: the control plane could not be reached (${String(error)}).`, isError: true };
    }
    const text = await response.text();
    if (!response.ok) return { text: `Opening the pull request failed (${response.status}): ${errorText(text)}`, isError: true };
    const parsed = PullRequestResponse.safeParse(safeJson(text));
    if (!parsed.success) return { text: "The control plane answered with something that is not a pull request.", isError: true };
    const { pullRequest: pr, created } = parsed.data;
    const where = pr.number ? `#${pr.number} ` : "";
    const link = pr.url ? ` ${pr.url}` : "";
    return {
      text: `${created ? "Opened" : "Updated"} pull request ${where}"${pr.title}" (${pr.headBranch} → ${pr.baseBranch}, ${pr.state}${pr.draft ? ", draft" : ""}).${link}`,
      isError: false,
    };
  };
}

/** The message of a Lookout error body (`{ error: { message } }`), else the text itself, shortened. */
function errorText(text: string): string {
  const parsed = z.object({ error: z.object({ message: z.string() }) }).safeParse(safeJson(text));
  return (parsed.success ? parsed.data.error.message : text).slice(0, 1000);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export interface ToolServer {
  /** The MCP endpoint, e.g. `http://127.0.0.1:41234/mcp`. */
  url: string;
  /** OpenCode's `mcp.lookout` entry for this server. */
  opencodeConfig: McpRemoteConfig;
  close(): Promise<void>;
}

/**
 * Serves MCP (streamable HTTP, JSON answers) on a free loopback port. Requests must carry the
 * per-start `token` as a bearer token (OpenCode sends it from its config), so only OpenCode's
 * connection reaches the tool.
 */
export async function startToolServer(options: { token: string; opener: PullRequestOpener }): Promise<ToolServer> {
  const expected = Buffer.from(`Bearer ${options.token}`);
  const serve = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (new URL(request.url ?? "/", "http://loopback").pathname !== MCP_PATH) return refuse(request, response, 404, "not found");
    const authorization = Buffer.from(request.headers.authorization ?? "");
    if (authorization.length !== expected.length || !timingSafeEqual(authorization, expected)) {
      return refuse(request, response, 401, "unauthorized");
    }
    // Nothing is ever sent unasked, so the stream GET and the session DELETE of streamable HTTP are not offered.
    if (request.method !== "POST") {
      request.resume();
      response.writeHead(405, { allow: "POST" }).end();
      return;
    }
    const mcp = pullRequestMcpServer(options.opener);
    const transport = new StreamableHTTPServerTransport({ enableJsonResponse: true, maxRequestBodySize: MAX_REQUEST_BYTES });
    response.on("close", () => void mcp.close());
    await mcp.connect(transport);
    await transport.handleRequest(request, response);
  };
  const server: Server = createServer((request, response) => {
    void serve(request, response).catch(() => {
      if (!response.headersSent) sendJson(response, 500, { jsonrpc: "2.0", id: null, error: { code: -32603, message: "Internal error." } });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}${MCP_PATH}`;
  return {
    url,
    opencodeConfig: { type: "remote", url, enabled: true, oauth: false, headers: { authorization: `Bearer ${options.token}` } },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Answers without reading the request: its body is drained, not parsed. */
function refuse(request: IncomingMessage, response: ServerResponse, status: number, error: string): void {
  request.resume();
  sendJson(response, status, { error });
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  response.end(text);
}
