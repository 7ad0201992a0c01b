import { SlackRelayCredentials, signRequest } from "@lookout/protocol";
import { SLACK_RELAY_SERVICE } from "./relay";

/** Where the relay asks the Worker how Slack is set up (a signed service request). */
export const RELAY_SETTINGS_PATH = "/api/slack/relay";

/**
 * Asks the control plane whether Slack is set up for Socket Mode and, when the app-level token was
 * pasted in the dashboard rather than set in the relay's environment, for that token. Signed as the
 * `slack-relay` service with `SERVICE_SECRET_SLACK_RELAY`; a refusal throws with the Worker's error.
 */
export async function fetchRelaySettings(workerUrl: string, serviceSecret: string): Promise<SlackRelayCredentials> {
  const url = new URL(RELAY_SETTINGS_PATH, workerUrl);
  const headers = await signRequest({ service: SLACK_RELAY_SERVICE, method: "GET", pathAndQuery: url.pathname, body: "" }, serviceSecret);
  const response = await fetch(url, { headers });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`the control plane refused the relay's settings request (${response.status}): ${text.slice(0, 300)}`);
  }
  return SlackRelayCredentials.parse(JSON.parse(text));
}
