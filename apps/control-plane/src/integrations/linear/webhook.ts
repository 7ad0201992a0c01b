import { Buffer } from "node:buffer";
import { LinearWebhookClient } from "@linear/sdk/webhooks";
import { LookoutError } from "@lookout/protocol";
import { z } from "zod";
import type { Env } from "../../env";
import { LinearInstallations } from "./installations";

/** Largest delivery accepted: an agent session event carries the issue, its comments and guidance. */
export const MAX_LINEAR_BODY_BYTES = 1024 * 1024;

const Person = z.object({ id: z.string().min(1), name: z.string() });

/**
 * The parts of Linear's `AgentSessionEventWebhookPayload` Lookout acts on (the SDK's type, checked
 * at the boundary). Unknown members pass through unread.
 */
export const AgentSessionEvent = z.object({
  type: z.literal("AgentSessionEvent"),
  action: z.enum(["created", "prompted"]),
  organizationId: z.string().min(1).max(128),
  webhookTimestamp: z.number(),
  promptContext: z.string().nullish(),
  agentSession: z.object({
    id: z.string().min(1).max(128),
    issue: z
      .object({
        id: z.string().min(1).max(128),
        identifier: z.string().min(1).max(64),
        title: z.string(),
        url: z.string().optional(),
        teamId: z.string().optional(),
        team: z.object({ key: z.string() }).partial().passthrough().optional(),
      })
      .nullish(),
    creator: Person.nullish(),
    comment: z.object({ body: z.string() }).nullish(),
  }),
  agentActivity: z
    .object({
      content: z.object({ type: z.string(), body: z.string().optional() }).passthrough(),
      signal: z.string().nullish(),
      user: Person.nullish(),
    })
    .nullish(),
});
export type AgentSessionEvent = z.infer<typeof AgentSessionEvent>;

export type LinearDelivery = { kind: "agent-session"; event: AgentSessionEvent } | { kind: "ignored"; type: string };

/**
 * Refuses, after the signature verified and before anything is recorded, an agent session event
 * from a workspace that never installed Lookout: nothing could answer it in Linear (there is no
 * token), so accepting it would only fail later in the background. Linear retries a refused
 * delivery at most three times (after a minute, an hour and six hours), each refused the same way;
 * no status is retried less.
 */
export async function requireInstalledWorkspace(env: Env, organizationId: string): Promise<void> {
  if (await new LinearInstallations(env).has(organizationId)) return;
  throw new LookoutError(
    "LINEAR_WORKSPACE_UNKNOWN",
    `Linear workspace ${organizationId} has not installed Lookout; its deliveries are refused until it is connected under Settings → Linear.`,
  );
}

/** The webhook signing secret; without it every delivery is refused, saying what to set. */
function webhookSecret(env: Env): string {
  if (!env.LINEAR_WEBHOOK_SECRET) {
    throw new LookoutError(
      "SERVICE_NOT_CONFIGURED",
      "Linear deliveries are refused until LINEAR_WEBHOOK_SECRET is set to the signing secret of your Linear app's webhook.",
    );
  }
  return env.LINEAR_WEBHOOK_SECRET;
}

/**
 * Verifies a delivery the way Linear signs it, with the SDK's `LinearWebhookClient`: the hex
 * HMAC-SHA256 of the raw bytes in `Linear-Signature` (constant-time), then the signed
 * `webhookTimestamp` within a minute of now. Only then is the body parsed. Other webhook types
 * (issues, comments, the app's own OAuth events) verify and are ignored.
 */
export function verifyLinearDelivery(env: Env, body: Uint8Array, signature: string | null): LinearDelivery {
  const secret = webhookSecret(env);
  if (!signature) throw new LookoutError("WEBHOOK_SIGNATURE_INVALID", "The Linear-Signature header is missing.");
  try {
    // The SDK reads the body back with Buffer's toString, so it takes a Node Buffer; the Worker's
    // types leave out Node's (nodejs_compat provides it at run time), so Buffer is untyped here.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access
    new LinearWebhookClient(secret).verify(Buffer.from(body), signature);
  } catch {
    throw new LookoutError(
      "WEBHOOK_SIGNATURE_INVALID",
      "The Linear-Signature does not verify, or the signed webhookTimestamp is more than a minute from now; check LINEAR_WEBHOOK_SECRET.",
    );
  }
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new LookoutError("INVALID_JSON");
  }
  const type = z.object({ type: z.string() }).safeParse(payload);
  if (!type.success) throw new LookoutError("VALIDATION_FAILED", "A Linear delivery names its type.");
  if (type.data.type !== "AgentSessionEvent") return { kind: "ignored", type: type.data.type };
  const event = AgentSessionEvent.safeParse(payload);
  if (!event.success) {
    throw new LookoutError(
      "VALIDATION_FAILED",
      `The agent session event is not in the shape Linear documents: ${event.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  return { kind: "agent-session", event: event.data };
}
