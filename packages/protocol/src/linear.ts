import { z } from "zod";
import { Id } from "./common.ts";

/**
 * The Linear agent's REST DTOs: the connected workspace and the rules that pick a repository for
 * an issue. A rule matches an issue's team (by key, e.g. `ENG`), project (by id) or label (by
 * name, case-insensitive); labels win over projects, projects over teams.
 */
export const LinearRuleKind = z.enum(["team", "project", "label"]);
export type LinearRuleKind = z.infer<typeof LinearRuleKind>;

export const LinearMappingRule = z
  .object({
    kind: LinearRuleKind,
    value: z.string().trim().min(1).max(200),
    repositoryId: Id,
  })
  .strict();
export type LinearMappingRule = z.infer<typeof LinearMappingRule>;

/** Most rules one deployment keeps. */
export const MAX_LINEAR_RULES = 200;

/** `PUT /api/linear/mappings`: replaces every rule at once. */
export const PutLinearMappingsRequest = z
  .object({ rules: z.array(LinearMappingRule).max(MAX_LINEAR_RULES) })
  .strict()
  .refine((request) => new Set(request.rules.map((rule) => `${rule.kind}:${rule.value.toLowerCase()}`)).size === request.rules.length, {
    message: "Each team, project or label may map to one repository only.",
    path: ["rules"],
  });
export type PutLinearMappingsRequest = z.infer<typeof PutLinearMappingsRequest>;

/** The workspace Lookout is installed in as a Linear app. */
export const LinearConnection = z.object({
  organizationId: z.string(),
  organizationName: z.string(),
  /** The app user Linear created for Lookout: the one people mention or assign. */
  appUserId: z.string().nullable(),
  scopes: z.array(z.string()),
  connectedAt: z.number(),
  /** When the access token expires; it is refreshed before then. Null: it does not expire. */
  expiresAt: z.number().nullable(),
});
export type LinearConnection = z.infer<typeof LinearConnection>;

/** `GET /api/linear/settings`. */
export const LinearSettingsView = z.object({
  connections: z.array(LinearConnection),
  /** Where Linear sends agent session events (set it as the app's webhook URL). */
  webhookUrl: z.string(),
  /** Starts the OAuth install (`actor=app`); null until LINEAR_CLIENT_ID and LINEAR_CLIENT_SECRET are set. */
  installUrl: z.string().nullable(),
  rules: z.array(LinearMappingRule),
});
export type LinearSettingsView = z.infer<typeof LinearSettingsView>;
