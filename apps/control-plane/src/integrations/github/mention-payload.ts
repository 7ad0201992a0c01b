import { LookoutError } from "@lookout/protocol";
import { z } from "zod";

/**
 * The three GitHub webhook events that can carry an @mention on a pull request, parsed and
 * normalized. Pure: the route verifies the signature first, and `mention.ts` does the work.
 */

export const MENTION_EVENTS = ["issue_comment", "pull_request_review_comment", "pull_request_review"] as const;
export type MentionEvent = (typeof MENTION_EVENTS)[number];

export function isMentionEvent(event: string): event is MentionEvent {
  return (MENTION_EVENTS as readonly string[]).includes(event);
}

/** A review comment's place in the diff, brought into the prompt. */
export interface ReviewLocation {
  path: string;
  /** The line range the comment is on (new side unless `side` says otherwise); null on an outdated comment. */
  startLine: number | null;
  line: number | null;
  side: string | null;
  diffHunk: string;
}

export interface GithubMention {
  event: MentionEvent;
  owner: string;
  name: string;
  /** `owner/name` as GitHub spells it. */
  fullName: string;
  pullRequest: number;
  comment: {
    /** `review` is a submitted review's body, which has no reactions or thread of its own. */
    kind: "issue" | "review" | "review-comment";
    id: number;
    body: string;
    url: string;
  };
  author: { login: string; id: number; bot: boolean };
  review: ReviewLocation | null;
}

const User = z.object({ login: z.string().min(1), id: z.number().int().positive(), type: z.string() });
const Repository = z.object({ name: z.string().min(1), full_name: z.string().min(3), owner: z.object({ login: z.string().min(1) }) });
const PullRef = z.object({ number: z.number().int().positive() });

const IssueComment = z.object({
  action: z.string(),
  issue: z.object({ number: z.number().int().positive(), pull_request: z.object({}).passthrough().nullable().optional() }),
  comment: z.object({ id: z.number().int().positive(), body: z.string().nullable(), html_url: z.string(), user: User }),
  repository: Repository,
});
const ReviewComment = z.object({
  action: z.string(),
  comment: z.object({
    id: z.number().int().positive(),
    body: z.string(),
    html_url: z.string(),
    user: User,
    path: z.string(),
    diff_hunk: z.string(),
    line: z.number().int().nullable().optional(),
    start_line: z.number().int().nullable().optional(),
    original_line: z.number().int().nullable().optional(),
    side: z.string().nullable().optional(),
  }),
  pull_request: PullRef,
  repository: Repository,
});
const Review = z.object({
  action: z.string(),
  review: z.object({ id: z.number().int().positive(), body: z.string().nullable(), html_url: z.string(), user: User }),
  pull_request: PullRef,
  repository: Repository,
});

export type ParsedMentionEvent = { kind: "mention"; mention: GithubMention } | { kind: "ignored"; reason: string };

/** The parsed body, or `VALIDATION_FAILED` when it is not JSON in the shape GitHub documents. */
function parse<T>(schema: z.ZodType<T>, raw: string, event: string): T {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new LookoutError("VALIDATION_FAILED", `The ${event} delivery is not JSON.`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new LookoutError("VALIDATION_FAILED", `The ${event} payload is not in the shape GitHub documents.`);
  return parsed.data;
}

function isBot(user: z.infer<typeof User>): boolean {
  return user.type === "Bot" || /\[bot\]$/i.test(user.login);
}

/**
 * Normalizes a delivery. Only new comments and submitted reviews on pull requests can ask for work;
 * everything else (edits, deletions, comments on issues) is ignored with a reason.
 */
export function parseMentionEvent(event: MentionEvent, raw: string): ParsedMentionEvent {
  if (event === "issue_comment") {
    const payload = parse(IssueComment, raw, event);
    if (payload.action !== "created") return { kind: "ignored", reason: `issue_comment.${payload.action} is not a new comment` };
    if (!payload.issue.pull_request) return { kind: "ignored", reason: "the comment is on an issue, not a pull request" };
    return {
      kind: "mention",
      mention: {
        event,
        ...repository(payload.repository),
        pullRequest: payload.issue.number,
        comment: { kind: "issue", id: payload.comment.id, body: payload.comment.body ?? "", url: payload.comment.html_url },
        author: author(payload.comment.user),
        review: null,
      },
    };
  }
  if (event === "pull_request_review_comment") {
    const payload = parse(ReviewComment, raw, event);
    if (payload.action !== "created")
      return { kind: "ignored", reason: `pull_request_review_comment.${payload.action} is not a new comment` };
    const comment = payload.comment;
    return {
      kind: "mention",
      mention: {
        event,
        ...repository(payload.repository),
        pullRequest: payload.pull_request.number,
        comment: { kind: "review-comment", id: comment.id, body: comment.body, url: comment.html_url },
        author: author(comment.user),
        review: {
          path: comment.path,
          startLine: comment.start_line ?? null,
          line: comment.line ?? comment.original_line ?? null,
          side: comment.side ?? null,
          diffHunk: comment.diff_hunk,
        },
      },
    };
  }
  const payload = parse(Review, raw, event);
  if (payload.action !== "submitted") return { kind: "ignored", reason: `pull_request_review.${payload.action} is not a submitted review` };
  return {
    kind: "mention",
    mention: {
      event,
      ...repository(payload.repository),
      pullRequest: payload.pull_request.number,
      comment: { kind: "review", id: payload.review.id, body: payload.review.body ?? "", url: payload.review.html_url },
      author: author(payload.review.user),
      review: null,
    },
  };
}

function repository(repo: z.infer<typeof Repository>) {
  return { owner: repo.owner.login, name: repo.name, fullName: repo.full_name };
}

function author(user: z.infer<typeof User>) {
  return { login: user.login, id: user.id, bot: isBot(user) };
}

/**
 * Whether `body` mentions `@slug` as a whole handle (`@slug`, `@slug[bot]`), not inside an email
 * address or a longer handle, and not inside quoted (`>`) lines or code, which repeat earlier text.
 */
export function mentions(body: string, slug: string): boolean {
  const escaped = slug.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const handle = new RegExp(`(^|[^A-Za-z0-9_.\\-/@])@${escaped}(\\[bot\\])?(?![A-Za-z0-9_-])`, "i");
  let fenced = false;
  for (const line of body.replace(/\r\n?/g, "\n").split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      continue;
    }
    if (fenced || /^\s*>/.test(line)) continue;
    if (handle.test(line.replace(/`[^`]*`/g, ""))) return true;
  }
  return false;
}
