import { LookoutError } from "@lookout/protocol";
import type { Env } from "../../env";
import { log } from "../../log";
import { recordRefusedDelivery } from "../../triggers/dispatch";
import { slackAppFor } from "./bolt-app";
import { SlackClient } from "./client";
import { type SlackConfig, slackConfig } from "./config";
import type { AckBody } from "./receiver";
import type { VerifiedSlackRequest } from "./request";
import { SlackStore, type SlackWorkspace } from "./store";

/** Slack retries a request not answered within 3 s; Lookout answers well before. */
export const ACK_DEADLINE_MS = 2_500;

/** What the route answers Slack with. */
export type SlackAnswer = { kind: "ack"; body: AckBody } | { kind: "challenge"; challenge: string } | { kind: "ignored"; reason: string };

/** Runs background work past the answer (`ctx.waitUntil`). */
export type WaitUntil = (work: Promise<unknown>) => void;

/**
 * The one ingest both paths share: an Events API/interactivity request verified by its signature,
 * and a Socket Mode envelope forwarded by the relay. `url_verification` is answered here; a request
 * from a team other than the connected workspace is refused and recorded, starting nothing; the
 * rest runs through Bolt, answered when Bolt acknowledges it (at most `ACK_DEADLINE_MS`), with the
 * listeners continuing under `waitUntil`.
 */
export async function ingestSlack(env: Env, waitUntil: WaitUntil, request: VerifiedSlackRequest): Promise<SlackAnswer> {
  const { body } = request;
  if (body.type === "url_verification") {
    if (typeof body.challenge !== "string") throw new LookoutError("BAD_REQUEST", "A url_verification request carries a challenge.");
    return { kind: "challenge", challenge: body.challenge };
  }
  const config = await slackConfig(env);
  const teamId = teamOf(body);
  if (!teamId) throw new LookoutError("BAD_REQUEST", "A Slack request names its workspace (team_id).");
  const store = new SlackStore(env.DB);
  const workspace = await store.workspace(teamId);
  if (workspace) return run(env, config, workspace, request, waitUntil);

  const connected = await store.anyWorkspace();
  if (connected) return refuseTeam(env, teamId, body);
  // Nothing is connected yet: learn the workspace from `auth.test` after answering, then run.
  waitUntil(
    connectWorkspace(env, config)
      .then(async (learned) => {
        if (learned.teamId !== teamId) {
          await refuseTeam(env, teamId, body);
          return;
        }
        await run(env, config, learned, request, waitUntil);
      })
      .catch((error: unknown) => log.error("could not connect the Slack workspace", { teamId, error })),
  );
  return { kind: "ack", body: null };
}

/** Asks Slack (`auth.test`) which workspace and bot the token belongs to, and stores it. */
export async function connectWorkspace(env: Env, config?: SlackConfig): Promise<SlackWorkspace> {
  const client = await SlackClient.fromConfig(env, config ?? (await slackConfig(env)));
  const result = await client.web.auth.test();
  if (!result.team_id || !result.user_id) throw new Error("auth.test named no team or bot user");
  const workspace: SlackWorkspace = {
    teamId: result.team_id,
    teamName: result.team ?? result.team_id,
    botUserId: result.user_id,
    botId: result.bot_id ?? null,
    botName: result.user ?? "lookout",
    connectedAt: Date.now(),
  };
  await new SlackStore(env.DB).saveWorkspace(workspace);
  return workspace;
}

async function run(
  env: Env,
  config: SlackConfig,
  workspace: SlackWorkspace,
  request: VerifiedSlackRequest,
  waitUntil: WaitUntil,
): Promise<SlackAnswer> {
  const { receiver } = await slackAppFor(env, config, workspace);
  const { acked, done } = receiver.dispatch(request.body, {
    ...(request.retryNum !== undefined ? { retryNum: request.retryNum } : {}),
    ...(request.retryReason !== undefined ? { retryReason: request.retryReason } : {}),
  });
  waitUntil(done.catch((error: unknown) => log.error("a Slack listener failed", { teamId: workspace.teamId, error })));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<AckBody>((resolve) => {
    timer = setTimeout(() => resolve(null), ACK_DEADLINE_MS);
  });
  try {
    return { kind: "ack", body: await Promise.race([acked, deadline]) };
  } finally {
    clearTimeout(timer);
  }
}

async function refuseTeam(env: Env, teamId: string, body: Record<string, unknown>): Promise<SlackAnswer> {
  const reason = `team ${teamId} is not the connected Slack workspace`;
  const claimed = typeof body.event_id === "string" ? body.event_id : "(none)";
  await recordRefusedDelivery(env, null, { source: "slack", deliveryId: claimed, dedupeKey: null }, `FORBIDDEN: ${reason}`);
  return { kind: "ignored", reason };
}

/** The workspace a request comes from: events carry `team_id`, interactions `team.id`, commands `team_id`. */
function teamOf(body: Record<string, unknown>): string | null {
  if (typeof body.team_id === "string" && body.team_id) return body.team_id;
  const team = body.team;
  if (typeof team === "object" && team !== null && "id" in team && typeof team.id === "string") return team.id;
  return null;
}
