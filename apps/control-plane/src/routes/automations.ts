import { CreateAutomationRequest, CronPreviewQuery, ListRunsQuery, RunAutomationRequest, UpdateAutomationRequest } from "@lookout/protocol";
import { Hono } from "hono";
import { AutomationStore } from "../db/automations";
import { runView, TriggerRunStore } from "../db/trigger-runs";
import type { AppEnv } from "../http/app-env";
import { readJson, readQuery } from "../http/validate";
import {
  actorOf,
  createAutomation,
  deleteAutomation,
  getAutomation,
  pauseAutomation,
  resumeAutomation,
  runAutomationNow,
  updateAutomation,
} from "../triggers/automations";
import { localIso, nextRuns, validateSchedule } from "../triggers/cron";
import { triggerLimits } from "../triggers/limits";

/**
 * `/api/automations`: list, create, read, change, pause, resume, run now, delete, run history, and
 * a preview of a cron expression's next runs. Who may change what is in `triggers/automations.ts`.
 */
export const automationsRoutes = new Hono<AppEnv>();

automationsRoutes.get("/", async (c) => {
  return c.json({ automations: await new AutomationStore(c.env.DB).list() });
});

automationsRoutes.post("/", async (c) => {
  const input = await readJson(c, CreateAutomationRequest);
  const automation = await createAutomation(c.env, await actorOf(c.env, c.get("principal")), input);
  return c.json({ automation }, 201);
});

// Before `/:id`, so "cron-preview" is never read as an id.
automationsRoutes.get("/cron-preview", (c) => {
  const query = readQuery(c, CronPreviewQuery);
  const now = Date.now();
  validateSchedule(query.expression, query.timeZone, triggerLimits(c.env).minCronIntervalMinutes, now);
  const runs = nextRuns(query.expression, query.timeZone, now, query.count);
  return c.json({ nextRuns: runs, nextRunsLocal: runs.map((at) => localIso(at, query.timeZone)) });
});

automationsRoutes.get("/:id", async (c) => {
  return c.json({ automation: await getAutomation(c.env, c.req.param("id")) });
});

automationsRoutes.patch("/:id", async (c) => {
  const patch = await readJson(c, UpdateAutomationRequest);
  const automation = await updateAutomation(c.env, await actorOf(c.env, c.get("principal")), c.req.param("id"), patch);
  return c.json({ automation });
});

automationsRoutes.delete("/:id", async (c) => {
  await deleteAutomation(c.env, await actorOf(c.env, c.get("principal")), c.req.param("id"));
  return c.body(null, 204);
});

automationsRoutes.post("/:id/pause", async (c) => {
  return c.json({ automation: await pauseAutomation(c.env, await actorOf(c.env, c.get("principal")), c.req.param("id")) });
});

automationsRoutes.post("/:id/resume", async (c) => {
  return c.json({ automation: await resumeAutomation(c.env, await actorOf(c.env, c.get("principal")), c.req.param("id")) });
});

automationsRoutes.post("/:id/run", async (c) => {
  const input = await readJson(c, RunAutomationRequest);
  const result = await runAutomationNow(c.env, await actorOf(c.env, c.get("principal")), c.req.param("id"), input.requestId);
  const run = result.runId ? await new TriggerRunStore(c.env.DB).get(result.runId) : null;
  return c.json({ status: result.status, reason: result.reason, run: run ? runView(run) : null }, run ? 201 : 200);
});

automationsRoutes.get("/:id/runs", async (c) => {
  const query = readQuery(c, ListRunsQuery);
  const automation = await getAutomation(c.env, c.req.param("id"));
  const page = await new TriggerRunStore(c.env.DB).listForAutomation(automation.id, query.before ?? null, query.limit + 1);
  const runs = page.slice(0, query.limit);
  const last = runs[runs.length - 1];
  return c.json({ runs: runs.map(runView), nextBefore: page.length > query.limit && last ? last.id : null });
});
