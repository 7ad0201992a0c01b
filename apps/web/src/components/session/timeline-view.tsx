import type { Repository } from "@lookout/protocol";
import { memo, useState } from "react";
import type { ActivityItem, PromptBlock, TimelineItem } from "../../state/derive";
import { totalUsage } from "../../state/derive";
import { clockTime, compactNumber, cost, dateTime, duration, plural } from "../../lib/format";
import { Avatar } from "../avatar";
import { Markdown } from "../markdown";
import { sandboxStatusLabel } from "../status-badge";
import { ArtifactCard } from "./artifact-card";
import { ChangeMark } from "./change-mark";
import { GitPushLine, PushApprovalCard, type PushDecision } from "./push-approval";
import { SyncLine } from "./sync-line";
import { ToolCallGroup } from "./tool-calls";

export interface TimelineViewProps {
  items: TimelineItem[];
  repositories: Repository[] | undefined;
  /** Opens the Changes tab at a prompt's change set. */
  onOpenChanges: (promptId: string) => void;
  /** Whether the signed-in user may steer (members and owners; not viewers). */
  canSteer: boolean;
  onDecidePush: (approvalId: string, decision: PushDecision) => Promise<void>;
}

/**
 * The session's story. Every row carries `data-key`: the event row it renders (`text:…`,
 * `tool:…`, `seq:…`), so each evolving row appears exactly once however often it was replayed.
 */
export function TimelineView({ items, ...rest }: TimelineViewProps) {
  return (
    <ol className="timeline" aria-label="Timeline">
      {items.map((item) => (
        <li key={item.id} className="timeline__item" data-key={item.id}>
          {item.kind === "prompt" ? <PromptTurn block={item} {...rest} /> : <Activity item={item} {...rest} />}
        </li>
      ))}
    </ol>
  );
}

type RowProps = Omit<TimelineViewProps, "items">;

const PromptTurn = memo(function PromptTurn({ block, ...rest }: { block: PromptBlock } & RowProps) {
  const author = block.author ?? { userId: "unknown", name: "Someone" };
  return (
    <article className={`turn turn--${block.outcome}`} aria-label={`Prompt ${block.number} by ${author.name}`}>
      <header className="turn__prompt">
        <Avatar author={author} />
        <div className="grow">
          <div className="turn__byline">
            <span className="turn__author">{author.name}</span>
            {block.queuedAt !== null && (
              <time className="faint" dateTime={new Date(block.queuedAt).toISOString()} title={dateTime(block.queuedAt)}>
                {clockTime(block.queuedAt)}
              </time>
            )}
            {block.model && <span className="badge badge--outline mono">{block.model}</span>}
            {block.reasoningEffort && <span className="badge badge--outline">{block.reasoningEffort} effort</span>}
          </div>
          <div className="turn__text">
            <Markdown text={block.text || "(prompt text unavailable)"} />
          </div>
        </div>
      </header>
      <div className="turn__activity">
        {block.items.map((item) => (
          <div key={item.id} className="turn__row" data-key={item.id}>
            <Activity item={item} {...rest} />
          </div>
        ))}
        {block.outcome === "running" && (
          <div className="turn__working" aria-live="polite">
            <span className="spinner" aria-hidden /> Working…
          </div>
        )}
      </div>
      <TurnFooter block={block} />
    </article>
  );
});

function TurnFooter({ block }: { block: PromptBlock }) {
  const [open, setOpen] = useState(false);
  const usage = totalUsage(block.steps);
  const took = block.startedAt !== null && block.finishedAt !== null ? duration(block.finishedAt - block.startedAt) : null;
  const outcome =
    block.outcome === "completed" ? (
      <span className="turn__outcome turn__outcome--ok">✓ Done{took && ` in ${took}`}</span>
    ) : block.outcome === "failed" ? (
      <span className="turn__outcome turn__outcome--error">✕ Failed{block.error ? `: ${block.error}` : ""}</span>
    ) : block.outcome === "stopped" ? (
      <span className="turn__outcome">■ Stopped{took && ` after ${took}`}</span>
    ) : null;
  if (!outcome && usage.steps === 0) return null;
  return (
    <footer className="turn__footer">
      {outcome}
      {usage.steps > 0 && (
        <button
          type="button"
          className="turn__usage"
          aria-expanded={open}
          onClick={() => setOpen((value) => !value)}
          title="Show each step"
        >
          {plural(usage.steps, "step")} · {compactNumber(usage.input)} in · {compactNumber(usage.output)} out
          {usage.reasoning > 0 && ` · ${compactNumber(usage.reasoning)} reasoning`} · {cost(usage.costUsd)}
        </button>
      )}
      {open && (
        <table className="steps">
          <thead>
            <tr>
              <th>Step</th>
              <th>Input</th>
              <th>Output</th>
              <th>Reasoning</th>
              <th>Cache read</th>
              <th>Cost</th>
            </tr>
          </thead>
          <tbody>
            {block.steps.map((step, index) => (
              <tr key={step.seq}>
                <td>{index + 1}</td>
                <td>{step.tokens.input.toLocaleString()}</td>
                <td>{step.tokens.output.toLocaleString()}</td>
                <td>{step.tokens.reasoning.toLocaleString()}</td>
                <td>{step.tokens.cacheRead.toLocaleString()}</td>
                <td>{cost(step.costUsd)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </footer>
  );
}

function Activity({ item, repositories, onOpenChanges, canSteer, onDecidePush }: { item: ActivityItem } & RowProps) {
  switch (item.kind) {
    case "text":
      return item.role === "reasoning" ? (
        <details className="reasoning">
          <summary>Thinking</summary>
          <Markdown text={item.text} />
        </details>
      ) : (
        <div className="agent-text">
          <Markdown text={item.text} />
        </div>
      );
    case "tools":
      return <ToolCallGroup calls={item.calls} />;
    case "files": {
      const additions = item.files.reduce((sum, file) => sum + (file.additions ?? 0), 0);
      const deletions = item.files.reduce((sum, file) => sum + (file.deletions ?? 0), 0);
      return (
        <div className="files-card">
          <div className="row row--between row--wrap">
            <span>
              <strong>Changed {plural(item.files.length, "file")}</strong> <span className="diffstat diffstat--add">+{additions}</span>{" "}
              <span className="diffstat diffstat--del">−{deletions}</span>
            </span>
            <button type="button" className="btn btn--sm" onClick={() => onOpenChanges(item.promptId)}>
              Review changes
            </button>
          </div>
          <ul className="files-card__list">
            {item.files.slice(0, 6).map((file) => (
              <li key={file.path} className="mono truncate">
                <ChangeMark change={file.change} /> {file.path}
              </li>
            ))}
            {item.files.length > 6 && <li className="faint">and {item.files.length - 6} more</li>}
          </ul>
        </div>
      );
    }
    case "commit":
      return (
        <div className="event-line">
          <span aria-hidden>●</span>
          <span className="event-line__text">
            Committed <code>{item.commit.sha.slice(0, 7)}</code> on <code>{item.commit.branch}</code>:{" "}
            {item.commit.message.split("\n", 1)[0]}
          </span>
        </div>
      );
    case "artifact":
      return <ArtifactCard artifact={item.artifact} />;
    case "push":
      return <GitPushLine push={item.push} />;
    case "approval":
      return <PushApprovalCard approval={item.approval} canDecide={canSteer} onDecide={onDecidePush} />;
    case "error":
      return (
        <div className="callout callout--error" role="alert">
          <span aria-hidden>⚠</span>
          <div className="callout__body">
            <div className="callout__title">The agent hit an error{item.code ? ` (${item.code})` : ""}</div>
            <div>{item.message}</div>
          </div>
        </div>
      );
    case "stop":
      return (
        <div className="event-line">
          <span aria-hidden>■</span>
          <span className="event-line__text">{item.by.name} asked to stop</span>
        </div>
      );
    case "sandbox":
      return (
        <div className={`event-line event-line--sandbox event-line--${item.status}`}>
          <span className="dot" aria-hidden />
          <span className="event-line__text">
            {sandboxStatusLabel(item.status)}
            {item.detail && <span className="faint"> · {item.detail}</span>}
          </span>
          <time className="faint">{clockTime(item.at)}</time>
        </div>
      );
    case "sync":
      return <SyncLine sync={item.sync} at={item.at} />;
    case "notice":
      return <Notice item={item} repositories={repositories} />;
  }
}

function Notice({ item, repositories }: { item: Extract<ActivityItem, { kind: "notice" }>; repositories: Repository[] | undefined }) {
  const { payload } = item;
  let body: React.ReactNode;
  switch (payload.type) {
    case "session.created": {
      const repository = repositories?.find((candidate) => candidate.id === payload.repositoryId);
      body = (
        <>
          <strong>{payload.owner.name}</strong> started this session on <code>{repository?.fullName ?? payload.repositoryId}</code> from{" "}
          <code>{payload.baseBranch}</code> with <code>{payload.model}</code>
        </>
      );
      break;
    }
    case "session.title":
      body = (
        <>
          {payload.by ? `${payload.by.name} renamed` : "Renamed"} the session to <strong>{payload.title}</strong>
        </>
      );
      break;
    case "session.archived":
      body = <>{payload.by.name} archived the session</>;
      break;
    case "session.unarchived":
      body = <>{payload.by.name} restored the session</>;
      break;
    case "participant.joined":
      body = <>{payload.participant.name} joined</>;
      break;
    case "participant.role":
      body =
        payload.role === "viewer" ? (
          <>
            {payload.by.name} made {payload.participant.name} a viewer
          </>
        ) : (
          <>
            {payload.by.name} let {payload.participant.name} steer the session
          </>
        );
      break;
    case "prompt.cancelled":
      body = <>{payload.by.name} cancelled a queued prompt</>;
      break;
  }
  return (
    <div className="event-line event-line--notice">
      <span>{body}</span>
      <time className="faint" title={dateTime(item.at)}>
        {clockTime(item.at)}
      </time>
    </div>
  );
}
