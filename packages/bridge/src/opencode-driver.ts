import { createOpencodeClient, type OpencodeClient } from "@opencode-ai/sdk/v2/client";
import { z } from "zod";
import { errorMessage, type Logger } from "./logger";
import { MessageWithParts } from "./opencode-events";
import { PermissionRequestInfo, toPermissionRequest, type PermissionBackend, type PermissionRequest } from "./sync-gate";

/** Delay before the SDK re-opens a dropped event stream. */
const EVENT_STREAM_RETRY_MS = 500;

/** What the bridge needs from OpenCode; the SDK-backed implementation is `OpencodeDriver`. */
export interface AgentBackend extends PermissionBackend {
  readonly sessionId: string;
  /** Delivers every raw event from OpenCode's event stream until `close`. */
  subscribe(onEvent: (event: unknown) => void): void;
  prompt(input: { text: string; providerID: string; modelID: string; variant: string | undefined }): Promise<void>;
  abort(): Promise<void>;
  /** Whether OpenCode reports the session as busy (working, or retrying a model call). */
  isBusy(): Promise<boolean>;
  /** The session's messages with their parts (for reconciling after a prompt). */
  messages(): Promise<MessageWithParts[]>;
  close(): void;
}

const SessionInfo = z.looseObject({ id: z.string().min(1) });
const StatusMap = z.record(z.string(), z.looseObject({ type: z.string() }));

/**
 * OpenCode through its SDK (v2 client): one OpenCode session per Lookout session, reused for
 * every prompt so the agent keeps its context.
 */
export class OpencodeDriver implements AgentBackend {
  private readonly abortStream = new AbortController();

  private constructor(
    private readonly client: OpencodeClient,
    readonly sessionId: string,
    private readonly logger: Logger,
  ) {}

  static async connect(options: {
    url: string;
    authorization: string;
    directory: string;
    title: string;
    logger: Logger;
  }): Promise<OpencodeDriver> {
    const client = createOpencodeClient({
      baseUrl: options.url,
      directory: options.directory,
      headers: { authorization: options.authorization },
    });
    // Passing a title skips OpenCode's title-generation model call.
    const created = await client.session.create({ title: options.title });
    const session = SessionInfo.safeParse(created.data);
    if (!session.success) throw new Error(`OpenCode did not create a session: ${errorMessage(created.error ?? session.error)}`);
    options.logger.info("opencode session created", { opencodeSessionId: session.data.id });
    return new OpencodeDriver(client, session.data.id, options.logger);
  }

  subscribe(onEvent: (event: unknown) => void): void {
    const run = async (): Promise<void> => {
      const { stream } = await this.client.event.subscribe(undefined, {
        signal: this.abortStream.signal,
        sseDefaultRetryDelay: EVENT_STREAM_RETRY_MS,
        sseMaxRetryDelay: EVENT_STREAM_RETRY_MS * 10,
        onSseError: (error) => this.logger.warn("opencode event stream error", { error: errorMessage(error) }),
      });
      for await (const event of stream) onEvent(event);
    };
    run().catch((error: unknown) => {
      if (!this.abortStream.signal.aborted) this.logger.error("opencode event stream ended", { error: errorMessage(error) });
    });
  }

  async prompt(input: { text: string; providerID: string; modelID: string; variant: string | undefined }): Promise<void> {
    const result = await this.client.session.promptAsync({
      sessionID: this.sessionId,
      model: { providerID: input.providerID, modelID: input.modelID },
      ...(input.variant ? { variant: input.variant } : {}),
      parts: [{ type: "text", text: input.text }],
    });
    if (result.error !== undefined || !result.response.ok) {
      throw new Error(
        `OpenCode refused the prompt (HTTP ${result.response.status}): ${JSON.stringify(result.error ?? null).slice(0, 500)}`,
      );
    }
  }

  async abort(): Promise<void> {
    await this.client.session.abort({ sessionID: this.sessionId });
  }

  async isBusy(): Promise<boolean> {
    const result = await this.client.session.status();
    const statuses = StatusMap.safeParse(result.data);
    if (!statuses.success) throw new Error("OpenCode returned an unreadable session status.");
    const status = statuses.data[this.sessionId];
    return status !== undefined && status.type !== "idle";
  }

  async messages(): Promise<MessageWithParts[]> {
    const result = await this.client.session.messages({ sessionID: this.sessionId });
    const parsed = z.array(MessageWithParts).safeParse(result.data);
    if (!parsed.success) throw new Error("OpenCode returned unreadable messages.");
    return parsed.data;
  }

  async allowPermission(requestId: string): Promise<void> {
    const result = await this.client.permission.reply({ requestID: requestId, reply: "once" });
    if (result.error !== undefined || !result.response.ok) {
      throw new Error(`OpenCode refused the permission answer (HTTP ${result.response.status}).`);
    }
  }

  async pendingPermissions(): Promise<PermissionRequest[]> {
    const result = await this.client.permission.list();
    const parsed = z.array(PermissionRequestInfo).safeParse(result.data);
    if (!parsed.success) throw new Error("OpenCode returned unreadable permission requests.");
    return parsed.data.map(toPermissionRequest);
  }

  close(): void {
    this.abortStream.abort();
  }
}
