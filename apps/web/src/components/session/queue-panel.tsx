import type { QueuedPrompt } from "@lookout/protocol";
import { firstLine } from "../../lib/format";
import { Avatar } from "../avatar";

export interface QueuePanelProps {
  prompts: QueuedPrompt[];
  cancelling: ReadonlySet<string>;
  onCancel: (promptId: string) => void;
}

/** Prompts waiting for the agent, first to run at the top. */
export function QueuePanel({ prompts, cancelling, onCancel }: QueuePanelProps) {
  const pending = prompts.filter((prompt) => prompt.status === "pending");
  if (pending.length === 0) return null;
  return (
    <section className="queue" aria-label="Queued prompts">
      <div className="queue__title">
        {pending.length} queued {pending.length === 1 ? "prompt" : "prompts"}
      </div>
      <ol className="queue__list">
        {pending.map((prompt, index) => (
          <li key={prompt.promptId} className="queue__item">
            <span className="queue__position">{index === 0 ? "Next" : `#${index + 1}`}</span>
            <Avatar author={prompt.author} size="sm" />
            <span className="grow truncate" title={prompt.text}>
              {firstLine(prompt.text)}
            </span>
            <button
              type="button"
              className="btn btn--ghost btn--sm"
              onClick={() => onCancel(prompt.promptId)}
              disabled={cancelling.has(prompt.promptId)}
              aria-label={`Cancel queued prompt: ${firstLine(prompt.text, 60)}`}
            >
              {cancelling.has(prompt.promptId) ? "Cancelling…" : "Cancel"}
            </button>
          </li>
        ))}
      </ol>
    </section>
  );
}
