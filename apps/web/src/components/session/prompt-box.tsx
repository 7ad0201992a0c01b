import { MAX_PROMPT_CHARS, type ReasoningEffort } from "@lookout/protocol";
import { useLayoutEffect, useRef, useState, type FormEvent } from "react";
import { z } from "zod";
import type { Models } from "../../api/lookout-api";
import { newRequestId } from "../../api/request-id";
import { isSubmitShortcut, MOD_KEY_LABEL } from "../../hooks/use-hotkey";
import { useDraft } from "../../state/drafts";
import { EffortPicker, ModelPicker, parseEffort } from "../pickers";

const FollowUpDraft = z.object({
  text: z.string(),
  model: z.string(),
  reasoningEffort: z.string(),
  /** Kept until the prompt is accepted, so resending after an error cannot queue it twice. */
  requestId: z.string(),
});

export interface FollowUp {
  requestId: string;
  text: string;
  model: string | undefined;
  reasoningEffort: ReasoningEffort | undefined;
}

export interface PromptBoxProps {
  sessionId: string;
  models: Models | undefined;
  sessionModel: string;
  /** Why the box is disabled (e.g. the session is archived), or null. */
  disabledReason: string | null;
  running: boolean;
  onSend: (prompt: FollowUp) => Promise<void>;
  /** Called on every keystroke (pre-warms the sandbox) and when the text is sent or cleared. */
  onTyping: () => void;
  onTypingDone: () => void;
}

/** The follow-up box under the timeline: Cmd/Ctrl+Enter sends; text is a draft until accepted. */
export function PromptBox({ sessionId, models, sessionModel, disabledReason, running, onSend, onTyping, onTypingDone }: PromptBoxProps) {
  const [draft, setDraft] = useDraft(`session:${sessionId}`, FollowUpDraft, { text: "", model: "", reasoningEffort: "", requestId: "" });
  const [sending, setSending] = useState(false);
  const [showOptions, setShowOptions] = useState(draft.model !== "" || draft.reasoningEffort !== "");
  const textarea = useRef<HTMLTextAreaElement>(null);

  useLayoutEffect(() => {
    const element = textarea.current;
    if (!element) return;
    element.style.height = "auto";
    element.style.height = `${element.scrollHeight + 2}px`;
  }, [draft.text]);

  const disabled = disabledReason !== null;
  const canSend = !disabled && !sending && draft.text.trim().length > 0;

  const send = async (event?: FormEvent) => {
    event?.preventDefault();
    if (!canSend) return;
    const requestId = draft.requestId || newRequestId();
    setDraft((current) => ({ ...current, requestId }));
    setSending(true);
    try {
      await onSend({
        requestId,
        text: draft.text.trim(),
        model: draft.model || undefined,
        reasoningEffort: parseEffort(draft.reasoningEffort),
      });
      setDraft((current) => ({ ...current, text: "", requestId: "" }));
      onTypingDone();
    } finally {
      setSending(false);
      textarea.current?.focus();
    }
  };

  return (
    <form className="prompt-box" onSubmit={(event) => void send(event)} aria-label="Send a prompt">
      <label htmlFor={`prompt-${sessionId}`} className="visually-hidden">
        Follow-up prompt
      </label>
      <textarea
        ref={textarea}
        id={`prompt-${sessionId}`}
        className="textarea prompt-box__input"
        rows={2}
        maxLength={MAX_PROMPT_CHARS}
        disabled={disabled}
        placeholder={disabledReason ?? (running ? "Queue a follow-up… it runs when the agent is free" : "Ask for a change or a follow-up…")}
        value={draft.text}
        onChange={(event) => {
          setDraft((current) => ({ ...current, text: event.target.value }));
          if (event.target.value) onTyping();
          else onTypingDone();
        }}
        onBlur={onTypingDone}
        onKeyDown={(event) => {
          if (isSubmitShortcut(event)) {
            event.preventDefault();
            void send();
          } else if (event.key === "Escape") {
            event.currentTarget.blur();
          }
        }}
      />
      <div className="prompt-box__bar">
        {showOptions && models ? (
          <div className="prompt-box__options">
            <ModelPicker
              id={`model-${sessionId}`}
              label="Model for this prompt"
              hideLabel
              size="sm"
              models={models}
              inheritLabel={`Session model (${sessionModel})`}
              value={draft.model}
              disabled={disabled}
              onChange={(value) => setDraft((current) => ({ ...current, model: value }))}
            />
            <EffortPicker
              id={`effort-${sessionId}`}
              label="Reasoning effort for this prompt"
              hideLabel
              size="sm"
              value={draft.reasoningEffort}
              disabled={disabled}
              onChange={(value) => setDraft((current) => ({ ...current, reasoningEffort: value }))}
            />
          </div>
        ) : (
          <button type="button" className="btn btn--ghost btn--sm" onClick={() => setShowOptions(true)} disabled={disabled}>
            <span className="mono truncate" style={{ maxWidth: 220 }}>
              {sessionModel}
            </span>{" "}
            ▾
          </button>
        )}
        <span className="grow" />
        <button type="submit" className="btn btn--primary btn--sm" disabled={!canSend}>
          {sending ? "Sending…" : running ? "Queue" : "Send"}
          <kbd>{MOD_KEY_LABEL}</kbd>
          <kbd>↵</kbd>
        </button>
      </div>
    </form>
  );
}
