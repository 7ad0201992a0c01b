import { Hono } from "hono";
import type { z } from "zod";
import { ModelRef, type ModelsResponse } from "@lookout/protocol";
import type { Env } from "../env";
import type { AppEnv } from "../http/app-env";
import { log } from "../log";

type ModelsBody = z.infer<typeof ModelsResponse>;

/** The scripted model plays canned answers without any network: the offline demo. */
const OFFLINE_PROVIDER = "scripted";
/** What is offered when the configuration names no usable model, so a fresh install still runs. */
const FALLBACK_MODEL = "scripted/demo";

/**
 * The models offered to users, from `MODELS` (comma-separated `provider/model`) and
 * `DEFAULT_MODEL`. Entries that are not `provider/model` are skipped with a warning rather than
 * taking the list down; the default is always in the list.
 */
export function modelsFromEnv(env: Pick<Env, "MODELS" | "DEFAULT_MODEL">): ModelsBody {
  const ids: string[] = [];
  for (const entry of (env.MODELS ?? "").split(",")) {
    const id = entry.trim();
    if (id === "") continue;
    if (!ModelRef.safeParse(id).success) {
      log.warn("MODELS has an entry that is not provider/model; skipping it", { entry: id });
      continue;
    }
    if (!ids.includes(id)) ids.push(id);
  }
  const configuredDefault = (env.DEFAULT_MODEL ?? "").trim();
  let defaultModel = ids[0] ?? FALLBACK_MODEL;
  if (ModelRef.safeParse(configuredDefault).success) defaultModel = configuredDefault;
  else if (configuredDefault !== "") log.warn("DEFAULT_MODEL is not provider/model; ignoring it", { value: configuredDefault });
  if (!ids.includes(defaultModel)) ids.unshift(defaultModel);
  return { models: ids.map(describeModel), defaultModel };
}

function describeModel(id: string): ModelsBody["models"][number] {
  const slash = id.indexOf("/");
  const provider = id.slice(0, slash);
  const model = id.slice(slash + 1);
  const offline = provider === OFFLINE_PROVIDER;
  return { id, label: offline ? `Offline demo (${model})` : `${model} (${provider})`, offline };
}

/** `GET /api/models`. */
export const modelsRoutes = new Hono<AppEnv>();

modelsRoutes.get("/", (c) => c.json(modelsFromEnv(c.env)));
