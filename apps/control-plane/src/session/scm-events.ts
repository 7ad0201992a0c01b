import type { ArtifactEvent, Author, BridgeEventPayload } from "@lookout/protocol";
import type { SessionContext } from "./context";
import type { ScmContext } from "./ports";
import type { PushApprovalRecord } from "./push-approvals";
import { actingRole, authorize } from "./roles";

type GitPushEvent = Extract<BridgeEventPayload, { type: "git.push" }>;
type ApprovalRequest = Extract<BridgeEventPayload, { type: "push.approval.requested" }>;

/**
 * The session's side of source control: what credentials and pull requests need to know, pushes
 * the bridge reports (an open pull request follows the branch), push approvals, and artifacts such
 * as pull requests (reported back to the session's origin).
 */
export class ScmEvents {
  constructor(private readonly ctx: SessionContext) {}

  context(): ScmContext {
    const { hub, queue, approvals, ports } = this.ctx;
    return {
      session: hub.requireSession(),
      currentAuthor: queue.running()?.author ?? null,
      approvedWorkflowSha: approvals.approvedSha(ports.now()),
    };
  }

  /** Records (or updates, by its id) an artifact such as a pull request. */
  recordArtifact(artifact: ArtifactEvent): void {
    const { hub, ports } = this.ctx;
    const session = hub.requireSession();
    hub.record(artifact);
    const report = ports.reportOutcome;
    if (
      report &&
      artifact.kind === "pull_request" &&
      artifact.url &&
      session.origin.kind !== "dashboard" &&
      session.origin.kind !== "api"
    ) {
      const state = artifact.data && typeof artifact.data.state === "string" ? artifact.data.state : "open";
      const outcome = {
        kind: "pull-request" as const,
        sessionId: session.id,
        origin: session.origin,
        url: artifact.url,
        title: artifact.title,
        state,
        at: ports.now(),
      };
      hub.defer(() => report(outcome));
    }
  }

  /** A participant approves or rejects a held-back push; the bridge is told either way. */
  decidePush(author: Author, approvalId: string, decision: "approve" | "reject"): void {
    const { hub, session, approvals, ports } = this.ctx;
    hub.requireSession();
    authorize(actingRole(session.roleOf(author.userId)), "push.decide");
    const record = approvals.decide(approvalId, decision, author, ports.now());
    this.recordApproval(record);
    hub.sendToBridge({ type: "command.push.decided", approvalId, headSha: record.headSha, decision });
  }

  /** The bridge pushed the branch: record it, and let an open pull request follow the new head. */
  onPush(event: GitPushEvent): void {
    const { hub, ports } = this.ctx;
    hub.record(event);
    const follow = ports.onBranchPushed;
    if (event.status !== "pushed" || !follow) return;
    const session = hub.requireSession();
    hub.defer(async () => {
      const artifact = await follow(session, event.headSha);
      if (artifact) hub.run(() => this.recordArtifact(artifact));
    });
  }

  /** The bridge holds a push back until a participant decides; a repeated ask is answered at once. */
  onApprovalRequested(event: ApprovalRequest): void {
    const { approvals, hub, ports } = this.ctx;
    const { record, created } = approvals.request(event, ports.now());
    const decided = created ? approvals.decidedFor(event.headSha) : record.state === "pending" ? null : record;
    if (created) this.recordApproval(record);
    if (decided) {
      hub.sendToBridge({
        type: "command.push.decided",
        approvalId: event.approvalId,
        headSha: event.headSha,
        decision: decided.state === "approved" ? "approve" : "reject",
      });
    }
  }

  private recordApproval(record: PushApprovalRecord): void {
    this.ctx.hub.record({
      type: "push.approval",
      approvalId: record.approvalId,
      branch: record.branch,
      headSha: record.headSha,
      files: record.files,
      state: record.state,
      ...(record.decidedBy ? { decidedBy: record.decidedBy } : {}),
      ...(record.decidedAt ? { decidedAt: record.decidedAt } : {}),
    });
  }
}
