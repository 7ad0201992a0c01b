/**
 * A fake of the slice of Slack's Web API Lookout calls, bound to the workerd tests as the
 * `SLACK_API` service (Bolt's `WebClient` reaches it through `slackApiUrl` and the Worker's fetch
 * wrapper). It checks what Slack checks — `Authorization: Bearer` with the bot token, the
 * arguments each method requires, form- or JSON-encoded like WebClient sends them — answers in
 * Slack's `{ ok, … }` shape, and records every call. Tests read the calls under `/__fake/calls`.
 */
export const FAKE_SLACK = {
  botToken: "xoxb-fake-bot-token",
  signingSecret: "fake-slack-signing-secret-0123456789",
  teamId: "T0LOOKOUT",
  teamName: "Acme",
  botUserId: "U0LOOKOUT",
  botId: "B0LOOKOUT",
  apiUrl: "https://slack.test/api/",
} as const;

export interface FakeSlackCall {
  method: string;
  args: Record<string, unknown>;
  /** The ts a posting method returned. */
  ts?: string;
}

/** Channels whose ids start with this refuse posts with `not_in_channel`. */
export const NOT_IN_CHANNEL_PREFIX = "C0NOTIN";

const calls: FakeSlackCall[] = [];
let clock = 1_700_000_000;

/** Required arguments per method, as Slack's reference lists them. */
const REQUIRED: Record<string, string[]> = {
  "auth.test": [],
  "reactions.add": ["channel", "timestamp", "name"],
  "chat.postMessage": ["channel"],
  "chat.update": ["channel", "ts"],
  "chat.postEphemeral": ["channel", "user"],
  "users.info": ["user"],
  "views.publish": ["user_id", "view"],
};

/** People the fake knows, with the profile fields `users.info` returns; Alice has a picture. */
const USERS: Record<string, { real_name: string; display_name: string; image_72?: string }> = {
  U0ALICE: { real_name: "Alice Example", display_name: "alice", image_72: "https://avatars.slack-edge.test/U0ALICE-72.png" },
  U0BOB: { real_name: "Bob Example", display_name: "bob" },
};

export async function fakeSlack(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/__fake/calls") return Response.json(calls);
  const method = url.pathname.replace(/^\/api\//, "");
  if (!(method in REQUIRED)) return Response.json({ ok: false, error: "unknown_method" }, { status: 404 });
  if (request.headers.get("authorization") !== `Bearer ${FAKE_SLACK.botToken}`) return Response.json({ ok: false, error: "invalid_auth" });
  const args = await argumentsOf(request);
  const missing = REQUIRED[method]!.find((name) => args[name] === undefined || args[name] === "");
  if (missing) return Response.json({ ok: false, error: `missing_argument: ${missing}` });
  const call: FakeSlackCall = { method, args };
  calls.push(call);
  switch (method) {
    case "auth.test":
      return Response.json({
        ok: true,
        url: "https://acme.slack.com/",
        team: FAKE_SLACK.teamName,
        user: "lookout",
        team_id: FAKE_SLACK.teamId,
        user_id: FAKE_SLACK.botUserId,
        bot_id: FAKE_SLACK.botId,
      });
    case "chat.postMessage": {
      // A channel the bot was never invited to, as Slack answers for it.
      if (String(args.channel).startsWith(NOT_IN_CHANNEL_PREFIX)) return Response.json({ ok: false, error: "not_in_channel" });
      call.ts = `${++clock}.000100`;
      return Response.json({ ok: true, channel: args.channel, ts: call.ts, message: { text: args.text } });
    }
    case "chat.update": {
      const exists = calls.some((c) => c.method === "chat.postMessage" && c.ts === args.ts && c.args.channel === args.channel);
      if (!exists) return Response.json({ ok: false, error: "message_not_found" });
      return Response.json({ ok: true, channel: args.channel, ts: args.ts });
    }
    case "users.info": {
      const user = USERS[String(args.user)];
      if (!user) return Response.json({ ok: false, error: "user_not_found" });
      return Response.json({ ok: true, user: { id: args.user, name: user.display_name, real_name: user.real_name, profile: user } });
    }
    default:
      return Response.json({ ok: true });
  }
}

/** WebClient form-encodes arguments, JSON-encoding the structured ones (`blocks`, `view`). */
async function argumentsOf(request: Request): Promise<Record<string, unknown>> {
  const type = request.headers.get("content-type") ?? "";
  if (type.startsWith("application/json")) return request.json<Record<string, unknown>>();
  const form = new URLSearchParams(await request.text());
  const args: Record<string, unknown> = {};
  for (const [key, value] of form) {
    args[key] = (key === "blocks" || key === "view") && /^[[{]/.test(value) ? JSON.parse(value) : value;
  }
  return args;
}
