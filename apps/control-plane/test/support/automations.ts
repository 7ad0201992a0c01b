import { env } from "cloudflare:test";
import type { Automation } from "@lookout/protocol";
import type { Env } from "../../src/env";
import { api } from "../helpers";

let counter = 0;

/** A fresh local repository registered through the API. */
export async function createRepository(cookie: string): Promise<string> {
  const suffix = `${++counter}-${crypto.randomUUID().slice(0, 8)}`;
  const repo = await api(cookie)("POST", "/api/repositories", { kind: "local", path: `/srv/repos/auto-${suffix}`, name: `auto-${suffix}` });
  if (repo.status !== 201) throw new Error(`repository: ${repo.status} ${JSON.stringify(repo.json)}`);
  return repo.json.repository.id as string;
}

/** An automation created through `POST /api/automations` on a fresh repository. */
export async function createAutomation(cookie: string, fields: Record<string, unknown> = {}): Promise<Automation> {
  const repositoryId = (fields.repositoryId as string | undefined) ?? (await createRepository(cookie));
  const created = await api(cookie)("POST", "/api/automations", {
    name: `Nightly ${++counter}`,
    instructions: "Update the dependencies and open a pull request.",
    repositoryId,
    trigger: { kind: "manual" },
    ...fields,
  });
  if (created.status !== 201) throw new Error(`automation: ${created.status} ${JSON.stringify(created.json)}`);
  return created.json.automation as Automation;
}

/** The test environment with trigger limits of the test's own. */
export function withLimits(limits: Record<string, number>): Env {
  return { ...env, TRIGGER_LIMITS: JSON.stringify(limits) };
}

/** Rows of a table matching a column, for assertions on what was stored. */
export async function rows<T>(sql: string, ...params: unknown[]): Promise<T[]> {
  return (
    await env.DB.prepare(sql)
      .bind(...params)
      .all<T>()
  ).results;
}
