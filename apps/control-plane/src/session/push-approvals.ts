import { Author, LookoutError } from "@lookout/protocol";
import { z } from "zod";
import { one, type Sql } from "./sql";

/**
 * How long an approval lets credentials carry workflow rights: long enough for the bridge to
 * push right after the decision, short enough that an old approval cannot be replayed later.
 */
export const PUSH_APPROVAL_WINDOW_MS = 30 * 60_000;

const KEY_PREFIX = "push-approval:";

const PushApprovalRecord = z.object({
  approvalId: z.string(),
  branch: z.string(),
  headSha: z.string(),
  files: z.array(z.string()),
  state: z.enum(["pending", "approved", "rejected"]),
  requestedAt: z.number(),
  decidedBy: Author.optional(),
  decidedAt: z.number().optional(),
});
export type PushApprovalRecord = z.infer<typeof PushApprovalRecord>;

/**
 * Pushes held back because they change protected paths, and the decisions on them. They live in
 * the session's `meta` table (one JSON row each, parsed on read) so no schema change is needed.
 */
export class PushApprovals {
  constructor(private readonly sql: Sql) {}

  get(approvalId: string): PushApprovalRecord | null {
    const row = one(this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, KEY_PREFIX + approvalId));
    return row ? PushApprovalRecord.parse(JSON.parse(row.value)) : null;
  }

  /** Records a request; a repeated request (the bridge re-sends) returns what is stored. */
  request(
    input: Pick<PushApprovalRecord, "approvalId" | "branch" | "headSha" | "files">,
    now: number,
  ): { record: PushApprovalRecord; created: boolean } {
    const existing = this.get(input.approvalId);
    if (existing) return { record: existing, created: false };
    const record: PushApprovalRecord = { ...input, state: "pending", requestedAt: now };
    this.write(record);
    return { record, created: true };
  }

  /** The decision already taken on `headSha`, so a bridge asking again after a restart is answered at once. */
  decidedFor(headSha: string): PushApprovalRecord | null {
    return this.all().find((record) => record.headSha === headSha && record.state !== "pending") ?? null;
  }

  decide(approvalId: string, decision: "approve" | "reject", by: Author, now: number): PushApprovalRecord {
    const record = this.get(approvalId);
    if (!record) throw new LookoutError("PUSH_APPROVAL_NOT_FOUND");
    if (record.state !== "pending") throw new LookoutError("CONFLICT", `This push was already ${record.state}.`);
    const decided: PushApprovalRecord = {
      ...record,
      state: decision === "approve" ? "approved" : "rejected",
      decidedBy: by,
      decidedAt: now,
    };
    this.write(decided);
    return decided;
  }

  /** The commit most recently approved within the window, which credentials may let through. */
  approvedSha(now: number, windowMs: number = PUSH_APPROVAL_WINDOW_MS): string | null {
    const approved = this.all()
      .filter((record) => record.state === "approved" && record.decidedAt !== undefined && now - record.decidedAt <= windowMs)
      .sort((a, b) => (b.decidedAt ?? 0) - (a.decidedAt ?? 0));
    return approved[0]?.headSha ?? null;
  }

  private all(): PushApprovalRecord[] {
    return this.sql
      .exec<{ value: string }>(`SELECT value FROM meta WHERE key >= ? AND key < ?`, KEY_PREFIX, `${KEY_PREFIX}\uffff`)
      .map((row) => PushApprovalRecord.parse(JSON.parse(row.value)));
  }

  private write(record: PushApprovalRecord): void {
    this.sql.exec(
      `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
      KEY_PREFIX + record.approvalId,
      JSON.stringify(record),
    );
  }
}
