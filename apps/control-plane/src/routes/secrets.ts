import { type Context, Hono } from "hono";
import type { z } from "zod";
import { type SecretListResponse, SetSecretRequest } from "@lookout/protocol";
import { requireAdmin } from "../auth/middleware";
import { GLOBAL_SECRETS, type SecretScope, SecretStore } from "../db/secrets";
import type { AppEnv } from "../http/app-env";
import { SlackCredentialStore } from "../integrations/slack/credentials";
import { readJson } from "../http/validate";

type SecretList = z.infer<typeof SecretListResponse>;

/** Names and update times only: a value never goes back to a browser once stored. */
export async function listSecrets(c: Context<AppEnv>, scope: SecretScope): Promise<Response> {
  const body: SecretList = { secrets: await SecretStore.fromEnv(c.env).list(scope) };
  return c.json(body);
}

export async function putSecret(c: Context<AppEnv>, scope: SecretScope, name: string): Promise<Response> {
  const { value } = await readJson(c, SetSecretRequest);
  await SecretStore.fromEnv(c.env).put(scope, name, value);
  return c.body(null, 204);
}

export async function deleteSecret(c: Context<AppEnv>, scope: SecretScope, name: string): Promise<Response> {
  await SecretStore.fromEnv(c.env).remove(scope, name);
  return c.body(null, 204);
}

/** Global secrets, mounted at `/api/secrets`; repository secrets live under their repository. */
export const secretsRoutes = new Hono<AppEnv>();

secretsRoutes.get("/", (c) => listSecrets(c, GLOBAL_SECRETS));

/** Re-seals every stored value (the Slack tokens pasted in the dashboard too) under the newest key, so older keys can be retired. */
secretsRoutes.post("/rotate", requireAdmin, async (c) => {
  const secrets = await SecretStore.fromEnv(c.env).reencryptAll();
  const slack = await SlackCredentialStore.fromEnv(c.env).reseal(Date.now());
  return c.json({ ...secrets, resealed: secrets.resealed + slack.resealed, failed: [...secrets.failed, ...slack.failed] });
});

secretsRoutes.put("/:name", requireAdmin, (c) => putSecret(c, GLOBAL_SECRETS, c.req.param("name")));

secretsRoutes.delete("/:name", requireAdmin, (c) => deleteSecret(c, GLOBAL_SECRETS, c.req.param("name")));
