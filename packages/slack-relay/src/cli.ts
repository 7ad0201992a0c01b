/**
 * Runs the Slack Socket Mode relay until SIGINT/SIGTERM. `npm start` starts it when
 * `SLACK_APP_TOKEN` and `SLACK_BOT_TOKEN` are set. Environment: `SLACK_APP_TOKEN` (xapp-…),
 * `LOOKOUT_WORKER_URL` (the control plane), `LOOKOUT_SLACK_RELAY_SECRET` (the Worker's
 * `SERVICE_SECRET_SLACK_RELAY`), optionally `SLACK_API_URL`.
 */
import { SlackRelay } from "./relay";

function required(name: string): string {
  const value = process.env[name]?.trim();
  if (!value) {
    process.stderr.write(`the Slack relay needs ${name}; see docs/slack.md\n`);
    process.exit(2);
  }
  return value;
}

const relay = new SlackRelay({
  appToken: required("SLACK_APP_TOKEN"),
  workerUrl: required("LOOKOUT_WORKER_URL"),
  serviceSecret: required("LOOKOUT_SLACK_RELAY_SECRET"),
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

relay
  .start()
  .then(() => process.stdout.write("connected to Slack in Socket Mode\n"))
  .catch((error: unknown) => {
    process.stderr.write(`the Slack relay could not connect: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
