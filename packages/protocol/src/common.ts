import { z } from "zod";

/** Session, prompt, participant and sandbox ids: URL-safe, bounded. */
export const Id = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_-]+$/, "ids contain only letters, digits, '_' and '-'");

/** A client-chosen idempotency key for a request (a retry with the same key is not applied twice). */
export const RequestId = z.string().min(1).max(128);

export const Seq = z.number().int().nonnegative();

/**
 * A full commit hash (SHA-1, or SHA-256 repositories): the one schema every component validates
 * commit hashes with. It lives here, beside `Id`, because events, bridge frames and the SCM DTOs
 * all need it and `scm.ts` depends on the REST DTOs that depend on the events.
 */
export const CommitSha = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, "a full commit hash");

export const ReasoningEffort = z.enum(["minimal", "low", "medium", "high", "max"]);
export type ReasoningEffort = z.infer<typeof ReasoningEffort>;

/** A model as `provider/model`, e.g. `anthropic/claude-sonnet-4-5` or `scripted/demo`. */
export const ModelRef = z
  .string()
  .min(3)
  .max(200)
  .regex(/^[a-z0-9][a-z0-9._-]*\/[A-Za-z0-9._:/@-]+$/, "models are written provider/model");
export type ModelRef = z.infer<typeof ModelRef>;

export const SessionStatus = z.enum(["created", "starting", "running", "idle", "stopped", "failed"]);
export type SessionStatus = z.infer<typeof SessionStatus>;

export const SandboxStatus = z.enum([
  "none",
  "spawning",
  "connecting",
  "ready",
  "running",
  "idle",
  "snapshotting",
  "stale",
  "stopped",
  "failed",
]);
export type SandboxStatus = z.infer<typeof SandboxStatus>;

export const PromptStatus = z.enum(["pending", "running", "completed", "failed", "stopped", "cancelled"]);
export type PromptStatus = z.infer<typeof PromptStatus>;

export const ParticipantRole = z.enum(["owner", "member", "viewer"]);
export type ParticipantRole = z.infer<typeof ParticipantRole>;

/** Who a prompt or action is attributed to: a user, or a bot acting for one. */
export const Author = z.object({
  userId: Id,
  name: z.string().min(1).max(200),
  email: z.string().email().max(320).optional(),
  avatarUrl: z.string().url().max(2000).optional(),
  /** The user's GitHub account, when they signed in with GitHub: commits use its noreply address. */
  github: z.object({ id: z.number().int().positive(), login: z.string().min(1).max(100) }).optional(),
});
export type Author = z.infer<typeof Author>;

export const TokenUsage = z.object({
  input: z.number().int().nonnegative(),
  output: z.number().int().nonnegative(),
  reasoning: z.number().int().nonnegative().default(0),
  cacheRead: z.number().int().nonnegative().default(0),
  cacheWrite: z.number().int().nonnegative().default(0),
});
export type TokenUsage = z.infer<typeof TokenUsage>;

/** Largest WebSocket frame any endpoint accepts, in bytes. */
export const MAX_FRAME_BYTES = 256 * 1024;
/** Largest prompt text, in characters. */
export const MAX_PROMPT_CHARS = 64_000;
