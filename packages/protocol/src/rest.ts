import { z } from "zod";
import { Author, Id, MAX_PROMPT_CHARS, ParticipantRole, ModelRef, ReasoningEffort, RequestId, Seq, SessionStatus } from "./common.ts";
import { PresenceEntry, QueuedPrompt, SessionState } from "./client.ts";
import { SessionEvent } from "./events.ts";
import { SessionOrigin } from "./origin.ts";

/**
 * REST DTOs for `/api/*`. Every response that is not 2xx has the body `{ error: { code, message } }`
 * (see `errors.ts`).
 */

export const BranchName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)(?!\/)(?!.*\/$)(?!.*\.lock$)(?!.*\.$)[A-Za-z0-9._/-]+$/, "not a valid branch name");

export const RepositoryInput = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("local"),
    /** Absolute path of a git repository on the host that runs Lookout. */
    path: z.string().min(1).max(4096).startsWith("/"),
    name: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9._-]+$/),
    defaultBranch: BranchName.default("main"),
    description: z.string().max(2000).optional(),
  }),
  z.object({
    kind: z.literal("github"),
    owner: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9-]+$/),
    name: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9._-]+$/),
    defaultBranch: BranchName.default("main"),
    description: z.string().max(2000).optional(),
  }),
]);
export type RepositoryInput = z.infer<typeof RepositoryInput>;

export const RepositoryUpdate = z
  .object({
    defaultBranch: BranchName,
    description: z.string().max(2000),
    name: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9._-]+$/),
  })
  .partial()
  .refine((v) => Object.keys(v).length > 0, "send at least one field to change");

export const Repository = z.object({
  id: Id,
  kind: z.enum(["local", "github"]),
  /** `owner/name` for GitHub, the registered name for local repositories. */
  fullName: z.string(),
  name: z.string(),
  owner: z.string().nullable(),
  path: z.string().nullable(),
  defaultBranch: z.string(),
  description: z.string().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type Repository = z.infer<typeof Repository>;

export const CreateSessionRequest = z.object({
  repositoryId: Id,
  title: z.string().trim().min(1).max(200).optional(),
  baseBranch: BranchName.optional(),
  model: ModelRef.optional(),
  reasoningEffort: ReasoningEffort.optional(),
  /** An optional first prompt, queued at once. */
  prompt: z.string().trim().min(1).max(MAX_PROMPT_CHARS).optional(),
  requestId: RequestId.optional(),
  parentSessionId: Id.optional(),
});
export type CreateSessionRequest = z.infer<typeof CreateSessionRequest>;

export const SessionSummary = z.object({
  id: Id,
  title: z.string(),
  repositoryId: Id,
  repositoryName: z.string(),
  status: SessionStatus,
  archived: z.boolean(),
  owner: Author,
  model: ModelRef,
  costUsd: z.number(),
  createdAt: z.number(),
  updatedAt: z.number(),
  lastActivityAt: z.number(),
  /** Where the session's work came from (older servers omit it: read as `api`). */
  origin: SessionOrigin.optional(),
  /** Set when a report to the origin failed after its last retry. */
  reportError: z.string().nullable().optional(),
});
export type SessionSummary = z.infer<typeof SessionSummary>;

export const ListSessionsQuery = z.object({
  status: SessionStatus.optional(),
  repositoryId: Id.optional(),
  ownerId: Id.optional(),
  q: z.string().max(200).optional(),
  archived: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .optional(),
  cursor: z.string().max(500).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(25),
});
export type ListSessionsQuery = z.infer<typeof ListSessionsQuery>;

export const ListSessionsResponse = z.object({
  sessions: z.array(SessionSummary),
  nextCursor: z.string().nullable(),
});
export type ListSessionsResponse = z.infer<typeof ListSessionsResponse>;

export const SessionDetail = z.object({
  session: SessionState,
  /** The caller's role in this session, or null if they have not joined it. */
  role: ParticipantRole.nullable(),
  queue: z.array(QueuedPrompt),
  presence: z.array(PresenceEntry),
  latestSeq: Seq,
});
export type SessionDetail = z.infer<typeof SessionDetail>;

export const UpdateSessionRequest = z.object({ title: z.string().trim().min(1).max(200) });
export type UpdateSessionRequest = z.infer<typeof UpdateSessionRequest>;

/** The owner lets a participant steer (`member`) or only watch (`viewer`). */
export const SetParticipantRoleRequest = z.object({ role: z.enum(["member", "viewer"]) }).strict();
export type SetParticipantRoleRequest = z.infer<typeof SetParticipantRoleRequest>;

export const SendPromptRequest = z.object({
  requestId: RequestId,
  text: z.string().trim().min(1).max(MAX_PROMPT_CHARS),
  model: ModelRef.optional(),
  reasoningEffort: ReasoningEffort.optional(),
});
export type SendPromptRequest = z.infer<typeof SendPromptRequest>;

export const SendPromptResponse = z.object({ promptId: Id, duplicate: z.boolean() });

export const EventsQuery = z.object({
  after: z.coerce.number().int().nonnegative().default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});

export const EventsPage = z.object({
  events: z.array(SessionEvent),
  /** Pass as `after` to read the next page; equals `latestSeq` when the page is the last. */
  nextAfter: Seq,
  latestSeq: Seq,
});
export type EventsPage = z.infer<typeof EventsPage>;

export const WsTokenResponse = z.object({
  token: z.string(),
  expiresAt: z.number(),
  /** Path (with the token) to open the session WebSocket on this origin. */
  path: z.string(),
});

export const SecretName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "secret names are letters, digits and '_', not starting with a digit");

export const SetSecretRequest = z.object({
  value: z
    .string()
    .min(1)
    .max(16 * 1024),
});

export const SecretListResponse = z.object({
  secrets: z.array(z.object({ name: z.string(), updatedAt: z.number() })),
});

export const ModelsResponse = z.object({
  models: z.array(z.object({ id: ModelRef, label: z.string(), offline: z.boolean() })),
  defaultModel: ModelRef,
});

export const Me = z.object({ user: Author, role: z.enum(["admin", "member"]) });
