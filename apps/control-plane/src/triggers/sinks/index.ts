import type { ReportSinks } from "../outbox";
import { automationSink } from "./automation";
import { githubSink } from "./github";
import { linearSink } from "./linear";
import { slackSink } from "./slack";

/**
 * The report sink for each kind of session origin. Origins without one (the dashboard, the API)
 * are never reported to; a new platform adds its sink here.
 */
export const REPORT_SINKS: ReportSinks = {
  automation: automationSink,
  github: githubSink,
  linear: linearSink,
  slack: slackSink,
};
