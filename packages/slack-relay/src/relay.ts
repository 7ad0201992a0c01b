import { SocketModeClient } from "@slack/socket-mode";
import { signRequest, type SlackSocketEnvelope } from "@lookout/protocol";

/** The service name the relay signs as; the Worker admits `POST /api/slack/socket` only from it. */
export const SLACK_RELAY_SERVICE = "slack-relay";

/** Where the relay hands envelopes: the Worker's one Slack ingest. */
export const SOCKET_INGEST_PATH = "/api/slack/socket";

export interface SlackRelayOptions {
  /** The app-level token (`xapp-…`, scope `connections:write`) that opens Socket Mode connections. */
  appToken: string;
  /** The control plane's base URL, e.g. `http://127.0.0.1:8787`. */
  workerUrl: string;
  /** `SERVICE_SECRET_SLACK_RELAY`: signs each hand-off as the `slack-relay` service. */
  serviceSecret: string;
  /** Slack's Web API (for `apps.connections.open`); a fake in tests. */
  slackApiUrl?: string;
  /**
   * How long a ping may go unanswered before the connection counts as dead; also the client's wait
   * before reconnecting after a `disconnect`. Slack's client default (5 s) unless set.
   */
  clientPingTimeoutMs?: number;
  /** Told about each envelope handed off, or that failed to be; for logs and tests. */
  onForwarded?: (result: ForwardResult) => void;
}

export type ForwardResult =
  | { envelopeId: string; ok: true; status: number; answer: unknown }
  | { envelopeId: string; ok: false; status: number | null; error: string };

interface SocketEvent {
  ack: (response?: Record<string, unknown>) => Promise<void>;
  envelope_id: string;
  type: string;
  body: Record<string, unknown>;
  retry_num?: number;
  retry_reason?: string;
}

const ENVELOPE_TYPES = new Set<SlackSocketEnvelope["type"]>(["events_api", "interactive", "slash_commands"]);

/**
 * Slack Socket Mode for installs with no public URL. The relay holds the WebSocket (Slack's own
 * `SocketModeClient`: `apps.connections.open`, `hello`, reconnects on `disconnect`), acknowledges
 * each envelope at once — Slack wants the ack within 3 s and the Worker's work can take longer —
 * then posts it to the Worker as a signed service request, where it runs through the same ingest
 * as an Events API delivery. The relay decides nothing itself.
 */
export class SlackRelay {
  private readonly client: SocketModeClient;

  constructor(private readonly options: SlackRelayOptions) {
    this.client = new SocketModeClient({
      appToken: options.appToken,
      ...(options.clientPingTimeoutMs ? { clientPingTimeout: options.clientPingTimeoutMs } : {}),
      ...(options.slackApiUrl ? { clientOptions: { slackApiUrl: options.slackApiUrl } } : {}),
    });
    this.client.on("slack_event", (event: SocketEvent) => {
      void this.relay(event);
    });
  }

  /** Opens the connection; resolves once Slack said `hello`. */
  async start(): Promise<void> {
    await this.client.start();
  }

  async stop(): Promise<void> {
    await this.client.disconnect();
  }

  private async relay(event: SocketEvent): Promise<void> {
    await event.ack();
    const result = await this.forward(event);
    this.options.onForwarded?.(result);
    if (!result.ok)
      console.error(JSON.stringify({ level: "error", message: "the Slack relay could not hand an envelope to the Worker", ...result }));
  }

  private async forward(event: SocketEvent): Promise<ForwardResult> {
    const envelopeId = event.envelope_id;
    if (!ENVELOPE_TYPES.has(event.type as SlackSocketEnvelope["type"])) {
      return { envelopeId, ok: false, status: null, error: `envelope type ${event.type} is not handed on` };
    }
    const envelope: SlackSocketEnvelope = {
      envelopeId,
      type: event.type as SlackSocketEnvelope["type"],
      payload: event.body,
      ...(event.retry_num !== undefined ? { retryAttempt: event.retry_num } : {}),
      ...(event.retry_reason ? { retryReason: event.retry_reason } : {}),
    };
    const body = JSON.stringify(envelope);
    const url = new URL(SOCKET_INGEST_PATH, this.options.workerUrl);
    try {
      const headers = await signRequest(
        { service: SLACK_RELAY_SERVICE, method: "POST", pathAndQuery: url.pathname, body },
        this.options.serviceSecret,
      );
      const response = await fetch(url, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body });
      const text = await response.text();
      if (!response.ok) return { envelopeId, ok: false, status: response.status, error: text.slice(0, 500) };
      return { envelopeId, ok: true, status: response.status, answer: text ? (JSON.parse(text) as unknown) : null };
    } catch (error) {
      return { envelopeId, ok: false, status: null, error: error instanceof Error ? error.message : String(error) };
    }
  }
}
