import { z } from "zod";

/**
 * Turns an auto-review session's answer into a GitHub review: the prose is the review's body, and a
 * fenced `review-comments` block (a JSON array of {path, line, body}) becomes its line comments.
 * Pure; the GitHub sink posts the result.
 */

export const REVIEW_COMMENTS_FENCE = "review-comments";
const MAX_COMMENTS = 50;
const MAX_BODY = 60_000;

const LineComment = z.object({
  path: z.string().min(1).max(1_000),
  line: z.number().int().positive(),
  body: z.string().min(1).max(10_000),
});
export type LineComment = z.infer<typeof LineComment>;

export interface ParsedReview {
  body: string;
  comments: LineComment[];
}

const BLOCK = new RegExp("(^|\\n)(`{3,})" + REVIEW_COMMENTS_FENCE + "[^\\n]*\\n([\\s\\S]*?)\\n\\2[ \\t]*(?=\\n|$)");

export function parseReview(answer: string): ParsedReview {
  const match = BLOCK.exec(answer);
  if (!match) return { body: answer.trim().slice(0, MAX_BODY), comments: [] };
  const body = (answer.slice(0, match.index) + answer.slice(match.index + match[0].length)).trim();
  let comments: LineComment[] = [];
  try {
    const parsed = z.array(z.unknown()).parse(JSON.parse(match[3] ?? ""));
    // A malformed entry is dropped, not the whole review.
    comments = parsed.flatMap((entry) => {
      const comment = LineComment.safeParse(entry);
      return comment.success ? [comment.data] : [];
    });
  } catch {
    return { body: answer.trim().slice(0, MAX_BODY), comments: [] };
  }
  return { body: body.slice(0, MAX_BODY), comments: comments.slice(0, MAX_COMMENTS) };
}

/** A marker GitHub does not render, so the sink can tell the review it already posted for a report. */
export function reviewMarker(idempotencyKey: string): string {
  return `<!-- lookout-review:${idempotencyKey.replace(/[^A-Za-z0-9_:.-]/g, "")} -->`;
}

/** The review's body when GitHub refuses its line comments (a line outside the diff): they are listed instead. */
export function withInlineComments(body: string, comments: LineComment[]): string {
  if (comments.length === 0) return body;
  const listed = comments.map((comment) => `- \`${comment.path}:${comment.line}\`: ${comment.body.replace(/\s+/g, " ")}`);
  return [body, "", "Line comments:", ...listed].join("\n");
}
