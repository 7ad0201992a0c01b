import { lazy } from "../../lazy";

/**
 * Bolt and the Web API client it carries, loaded by the first Slack request or report: the Slack
 * stack (Bolt, `@slack/web-api`, axios, express) is several MB of live heap in the isolate every
 * session shares, and the session path never uses it (ADR 0016).
 */
export const slackSdk = lazy("Slack", () => import("@slack/bolt"));
