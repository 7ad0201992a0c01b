import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { bodyText, requestUrl } from "../../test/support/fetch-request";
import { localPullRequest } from "../../test/support/pull-request";
import {
  controlPlaneOpener,
  MCP_SERVER_NAME,
  PULL_REQUEST_TOOL_ID,
  pushingFirst,
  startToolServer,
  type ToolServer,
} from "./pull-request-tool";

/** An MCP client as OpenCode runs one: the SDK's `Client` over streamable HTTP, with the bearer from the config. */
async function connectClient(server: ToolServer, authorization = server.opencodeConfig.headers?.authorization ?? ""): Promise<Client> {
  const client = new Client({ name: "opencode", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { authorization } } }));
  return client;
}

describe("the create_pull_request tool over MCP", () => {
  const servers: ToolServer[] = [];
  const clients: Client[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close();
    for (const server of servers.splice(0)) await server.close();
  });

  async function serve(opener: Parameters<typeof startToolServer>[0]["opener"]): Promise<ToolServer> {
    const server = await startToolServer({ token: "per-start-secret", opener });
    servers.push(server);
    return server;
  }

  it("answers the MCP handshake, lists the one tool and calls it with validated fields", async () => {
    const opened: unknown[] = [];
    const server = await serve(async (input) => {
      opened.push(input);
      return { text: "Opened.", isError: false };
    });
    const client = await connectClient(server);
    clients.push(client);
    expect(client.getServerVersion()).toMatchObject({ name: MCP_SERVER_NAME });
    expect(client.getServerCapabilities()?.tools).toBeDefined();

    const { tools } = await client.listTools();
    expect(tools).toHaveLength(1);
    expect(tools[0]).toMatchObject({
      name: "create_pull_request",
      title: "Create pull request",
      inputSchema: {
        type: "object",
        properties: { title: { type: "string" }, body: { type: "string" }, draft: { type: "boolean" } },
        additionalProperties: false,
      },
    });
    expect(tools[0]?.inputSchema.required ?? []).toEqual([]);
    expect(PULL_REQUEST_TOOL_ID).toBe("lookout_create_pull_request");

    const called = await client.callTool({ name: "create_pull_request", arguments: { title: "Fix it", body: " " } });
    expect(called).toEqual({ content: [{ type: "text", text: "Opened." }], isError: false });
    // A blank optional field means "use the session's default".
    expect(opened).toEqual([{ title: "Fix it" }]);

    // Wrong types, fields the control plane refuses and unknown fields all fail without opening anything.
    for (const args of [{ draft: "yes" }, { title: "x".repeat(300) }, { reviewers: ["eve"] }]) {
      const invalid = await client.callTool({ name: "create_pull_request", arguments: args });
      expect(invalid).toMatchObject({ isError: true, content: [{ type: "text", text: expect.stringMatching(/invalid/i) }] });
    }
    expect(opened).toHaveLength(1);

    const unknownTool = await client.callTool({ name: "rm_rf", arguments: {} });
    expect(unknownTool).toMatchObject({ isError: true, content: [{ type: "text", text: expect.stringMatching(/rm_rf not found/) }] });
    expect(opened).toHaveLength(1);
    // A method the server does not offer is a protocol error, not a tool result.
    const unsupported = client.listResources();
    await expect(unsupported).rejects.toBeInstanceOf(McpError);
    await expect(unsupported).rejects.toMatchObject({ code: ErrorCode.MethodNotFound });
  });

  it("tells the model when the control plane refuses, as a tool error", async () => {
    const server = await serve(async () => ({ text: "Opening the pull request failed (409): Push the branch first.", isError: true }));
    const client = await connectClient(server);
    clients.push(client);
    expect(await client.callTool({ name: "create_pull_request", arguments: {} })).toEqual({
      content: [{ type: "text", text: "Opening the pull request failed (409): Push the branch first." }],
      isError: true,
    });
  });

  it("opens the pull request as the sandbox and tells the model what happened", async () => {
    const forwarded: { url: string; headers: Headers; body: string }[] = [];
    const target = { controlPlaneUrl: "http://cp/", sessionId: "ses_1", sandboxId: "sbx_1", sandboxToken: "sandbox-token" };
    const opener = controlPlaneOpener({
      ...target,
      fetcher: async (input, init) => {
        forwarded.push({ url: requestUrl(input), headers: new Headers(init?.headers), body: bodyText(init) });
        return Response.json(
          { created: true, pullRequest: localPullRequest({ title: "T", url: "http://cp/sessions/ses_1" }) },
          { status: 201 },
        );
      },
    });
    expect(await opener({ title: "T" })).toEqual({
      text: 'Opened pull request "T" (lookout/ses_1 → main, open, draft). http://cp/sessions/ses_1',
      isError: false,
    });
    expect(forwarded[0]?.url).toBe("http://cp/api/sessions/ses_1/pull-request");
    expect(forwarded[0]?.headers.get("authorization")).toBe("Bearer sandbox-token");
    expect(forwarded[0]?.headers.get("x-lookout-sandbox-id")).toBe("sbx_1");
    expect(JSON.parse(forwarded[0]?.body ?? "")).toEqual({ title: "T" });

    const refused = controlPlaneOpener({
      ...target,
      fetcher: async () => Response.json({ error: { code: "BRANCH_NOT_PUSHED", message: "Push the branch first." } }, { status: 409 }),
    });
    expect(await refused({})).toEqual({ text: "Opening the pull request failed (409): Push the branch first.", isError: true });
  });

  it("serves MCP on loopback only to callers with the per-start token", async () => {
    const opened: unknown[] = [];
    const server = await serve(async (input) => {
      opened.push(input);
      return { text: "Opened.", isError: false };
    });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    expect(server.opencodeConfig).toEqual({
      type: "remote",
      url: server.url,
      enabled: true,
      oauth: false,
      headers: { authorization: "Bearer per-start-secret" },
    });
    await expect(connectClient(server, "Bearer wrong")).rejects.toThrow(/unauthorized/);
    await expect(connectClient(server, "")).rejects.toThrow(/unauthorized/);

    const post = (authorization: string, body: string, path = "/mcp") =>
      fetch(new URL(path, server.url), {
        method: "POST",
        headers: { authorization, "content-type": "application/json", accept: "application/json, text/event-stream" },
        body,
      });
    const call = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "create_pull_request", arguments: {} } });
    expect((await post("Bearer wrong", call)).status).toBe(401);
    expect((await post("Bearer per-start-secret", call, "/other")).status).toBe(404);
    expect(opened).toHaveLength(0);
    expect((await fetch(server.url, { headers: { authorization: "Bearer per-start-secret" } })).status).toBe(405);
    const tooLarge = JSON.stringify({
      jsonrpc: "2.0",
      id: 2,
      method: "tools/call",
      params: { name: "create_pull_request", arguments: { body: "x".repeat(300 * 1024) } },
    });
    expect((await post("Bearer per-start-secret", tooLarge)).status).toBe(413);
    expect(opened).toHaveLength(0);
    // The right token with the same request opens the pull request.
    expect(await (await post("Bearer per-start-secret", call)).json()).toMatchObject({ id: 1, result: { isError: false } });
    expect(opened).toEqual([{}]);
  });
});

describe("opening a pull request pushes the agent's commits first", () => {
  it("pushes before the control plane is asked, so the pull request's branch exists on the remote", async () => {
    const order: string[] = [];
    const opener = pushingFirst({ afterCommit: async () => void order.push("push") }, async (input) => {
      order.push(`open ${input.title ?? ""}`);
      return { text: "Opened", isError: false };
    });
    expect(await opener({ title: "Rename" })).toEqual({ text: "Opened", isError: false });
    expect(order).toEqual(["push", "open Rename"]);
  });

  it("opens nothing when the push fails, and says why", async () => {
    const opened: unknown[] = [];
    const opener = pushingFirst(
      {
        afterCommit: () => Promise.reject(new Error("remote refused")),
      },
      async (input) => {
        opened.push(input);
        return { text: "Opened", isError: false };
      },
    );
    const result = await opener({});
    expect(result.isError).toBe(true);
    expect(result.text).toContain("remote refused");
    expect(opened).toEqual([]);
  });

  it("leaves the opener as it is for a session that may not push", () => {
    const opener = async () => ({ text: "refused by the control plane", isError: true });
    expect(pushingFirst(undefined, opener)).toBe(opener);
  });
});
