import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Repository, SessionCommand, SessionSummary, WsTokenResponse } from "@lookout/protocol";
import { z } from "zod";
import { type ControlPlane, startControlPlane } from "./control-plane.ts";
import { FakeGateway } from "./fake-gateway.ts";
import { HANDSHAKE_TIMEOUT_MS, JsonSocket } from "./json-socket.ts";
import { processGroupCpuMs } from "./process-cpu.ts";
import { type PublishProtocol, Publisher } from "./publisher.ts";
import type { Channel, Target } from "./target.ts";

/** The real bridge heartbeats well inside the session's 45 s timeout; so does the benchmark's. */
const BRIDGE_HEARTBEAT_INTERVAL_MS = 10_000;

/** A signed-in REST client for one control plane. */
export class LookoutApi {
  private constructor(
    readonly baseUrl: string,
    private readonly cookie: string,
  ) {}

  static async signIn(baseUrl: string, loginToken: string): Promise<LookoutApi> {
    const response = await fetch(`${baseUrl}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: loginToken }),
    });
    const cookie = response.headers.get("set-cookie")?.split(";")[0];
    await response.body?.cancel();
    if (response.status !== 200 || !cookie) throw new Error(`signing in failed: HTTP ${response.status}`);
    return new LookoutApi(baseUrl, cookie);
  }

  async call<T>(method: string, path: string, body: unknown, schema: z.ZodType<T>): Promise<T> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { cookie: this.cookie, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} failed: HTTP ${response.status} ${text}`);
    return schema.parse(JSON.parse(text));
  }

  async createRepository(name: string): Promise<string> {
    const created = await this.call(
      "POST",
      "/api/repositories",
      { kind: "local", path: `/tmp/${name}`, name },
      z.object({ repository: Repository }),
    );
    return created.repository.id;
  }

  /** Creates a session with a first prompt, which makes the session ask the gateway for a sandbox. */
  async createSession(repositoryId: string, prompt: string): Promise<string> {
    const created = await this.call("POST", "/api/sessions", { repositoryId, prompt }, z.object({ session: SessionSummary }));
    return created.session.id;
  }

  /** A client WebSocket URL carrying a freshly minted token. */
  async clientSocketUrl(sessionId: string): Promise<string> {
    const minted = await this.call("POST", `/api/sessions/${sessionId}/ws-token`, undefined, WsTokenResponse);
    return `${this.baseUrl.replace(/^http/, "ws")}${minted.path}`;
  }
}

const lookoutBridgeProtocol: PublishProtocol = {
  frame: (bseq, event) => ({ type: "bridge.event", bseq, event }),
  ackOf: (message) => {
    const command = SessionCommand.safeParse(message);
    return command.success && command.data.type === "bridge.ack" ? command.data.bseq : undefined;
  },
  refusalOf: (message) => {
    const command = SessionCommand.safeParse(message);
    return command.success && command.data.type === "error" ? `${command.data.code}: ${command.data.message}` : undefined;
  },
  heartbeat: { intervalMs: BRIDGE_HEARTBEAT_INTERVAL_MS, frame: () => ({ type: "bridge.heartbeat", at: Date.now() }) },
};

/**
 * The real control plane on wrangler's dev server with a fake sandbox gateway in this process. Each
 * channel is a new session whose sandbox the benchmark plays: it takes the sandbox token from the
 * gateway request, connects as the bridge, reports ready and receives the prompt.
 */
export class LookoutTarget implements Target {
  readonly name = "Lookout";

  private constructor(
    private readonly controlPlane: ControlPlane,
    private readonly gateway: FakeGateway,
    /** Signed in as the admin. */
    readonly api: LookoutApi,
    /** A registered repository for sessions and automations. */
    readonly repositoryId: string,
  ) {}

  /** `entry` runs another build of the Worker (a patched copy) instead of the repository's. */
  static async start(workDir: string, entry?: string): Promise<LookoutTarget> {
    const gatewaySecret = randomBytes(32).toString("base64url");
    const gateway = await FakeGateway.start(gatewaySecret);
    let controlPlane: ControlPlane | null = null;
    try {
      controlPlane = await startControlPlane({
        workDir: join(workDir, "control-plane"),
        gatewayUrl: gateway.url,
        gatewaySecret,
        ...(entry ? { entry } : {}),
      });
      const api = await LookoutApi.signIn(controlPlane.url, controlPlane.loginToken);
      const repositoryId = await api.createRepository("bench");
      return new LookoutTarget(controlPlane, gateway, api, repositoryId);
    } catch (error) {
      await controlPlane?.stop();
      await gateway.stop();
      throw error;
    }
  }

  get logFile(): string {
    return this.controlPlane.logFile;
  }

  async openChannel(label: string): Promise<Channel> {
    const sessionId = await this.api.createSession(this.repositoryId, `Benchmark: ${label}`);
    const sandbox = await this.gateway.sandboxFor(sessionId);
    const bridge = await JsonSocket.connect(`${this.api.baseUrl.replace(/^http/, "ws")}/api/sessions/${sessionId}/bridge`, {
      authorization: `Bearer ${sandbox.sandboxToken}`,
      "x-lookout-sandbox-id": sandbox.sandboxId,
    });
    await bridge.next((message) => commandOf(message, "bridge.welcome"));
    bridge.send({ type: "bridge.event", bseq: 1, event: { type: "bridge.ready", opencodeVersion: "bench" } });
    const prompt = await bridge.next((message) => commandOf(message, "command.prompt"), HANDSHAKE_TIMEOUT_MS);
    return {
      promptId: prompt.promptId,
      publisher: new Publisher(bridge, lookoutBridgeProtocol, 2),
      openSubscriber: async () => JsonSocket.connect(await this.api.clientSocketUrl(sessionId)),
    };
  }

  serverCpuMs(): number {
    return processGroupCpuMs(this.controlPlane.pid);
  }

  async stop(): Promise<void> {
    await this.controlPlane.stop();
    await this.gateway.stop();
  }
}

function commandOf<T extends SessionCommand["type"]>(message: unknown, type: T): Extract<SessionCommand, { type: T }> | undefined {
  const parsed = SessionCommand.safeParse(message);
  if (!parsed.success || parsed.data.type !== type) return undefined;
  return parsed.data as Extract<SessionCommand, { type: T }>;
}
