/**
 * Runs the Slack Socket Mode relay until SIGINT/SIGTERM. `npm start` starts it when
 * `SLACK_APP_TOKEN` and `SLACK_BOT_TOKEN` are set, or when the control plane reports tokens pasted
 * in the dashboard for Socket Mode. Environment: `LOOKOUT_WORKER_URL` (the control plane),
 * `LOOKOUT_SLACK_RELAY_SECRET` (the Worker's `SERVICE_SECRET_SLACK_RELAY`), `SLACK_APP_TOKEN`
 * (xapp-…; when unset, the one stored in the dashboard is fetched from the control plane),
 * optionally `SLACK_API_URL`. With `--mode` it only prints how the control plane says Slack reaches
 * it (`socket`, `http` or `none`) and exits, so `npm start` knows whether to start it.
 */
import { SlackRelay } from "./relay";
import { fetchRelaySettings } from "./settings";

function required(name: string): string {
  const value = process.env[name]?.trim();
  if (!value) {
    process.stderr.write(`the Slack relay needs ${name}; see docs/slack.md\n`);
    process.exit(2);
  }
  return value;
}

const workerUrl = required("LOOKOUT_WORKER_URL");
const serviceSecret = required("LOOKOUT_SLACK_RELAY_SECRET");

/** The app-level token: the environment's, else the one pasted in the dashboard. */
async function appToken(): Promise<string> {
  const fromEnvironment = process.env.SLACK_APP_TOKEN?.trim();
  if (fromEnvironment) return fromEnvironment;
  const settings = await fetchRelaySettings(workerUrl, serviceSecret);
  if (settings.mode !== "socket" || !settings.appToken) {
    throw new Error("Slack is not set up for Socket Mode: set SLACK_APP_TOKEN or paste an app-level token under Settings → Slack");
  }
  return settings.appToken;
}

async function main(): Promise<void> {
  const relay = new SlackRelay({
    appToken: await appToken(),
    workerUrl,
    serviceSecret,
    ...(process.env.SLACK_API_URL ? { slackApiUrl: process.env.SLACK_API_URL } : {}),
    onForwarded: (result) => {
      if (result.ok)
        process.stdout.write(
          `${JSON.stringify({ level: "info", message: "envelope handed to the Worker", envelopeId: result.envelopeId })}\n`,
        );
    },
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      void relay.stop().finally(() => process.exit(0));
    });
  }
  await relay.start();
  process.stdout.write("connected to Slack in Socket Mode\n");
}

const run = process.argv.includes("--mode")
  ? fetchRelaySettings(workerUrl, serviceSecret).then((settings) => {
      process.stdout.write(`${settings.mode ?? "none"}\n`);
    })
  : main();

run.catch((error: unknown) => {
  process.stderr.write(`the Slack relay could not connect: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
