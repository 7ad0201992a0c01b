import { useState } from "react";
import type { ToolCall } from "../../state/derive";
import { CopyButton } from "../copy-button";
import { duration } from "../../lib/format";

/** Groups with more calls than this show only the newest few until expanded. */
const COLLAPSE_OVER = 6;
const SHOWN_WHEN_COLLAPSED = 3;
/** Output longer than this many lines is cut until "Show all" is pressed. */
const OUTPUT_PREVIEW_LINES = 40;

export function ToolCallGroup({ calls }: { calls: ToolCall[] }) {
  const [expanded, setExpanded] = useState(false);
  const hidden = !expanded && calls.length > COLLAPSE_OVER ? calls.length - SHOWN_WHEN_COLLAPSED : 0;
  const shown = hidden ? calls.slice(hidden) : calls;
  const running = calls.filter((call) => call.state === "running" || call.state === "pending").length;
  const failed = calls.filter((call) => call.state === "error").length;
  return (
    <div className="tools" role="group" aria-label={`${calls.length} tool ${calls.length === 1 ? "call" : "calls"}`}>
      {calls.length > 1 && (
        <div className="tools__summary">
          <span>
            {calls.length} tool calls
            {running > 0 && <span className="tools__note"> · {running} running</span>}
            {failed > 0 && <span className="tools__note tools__note--error"> · {failed} failed</span>}
          </span>
        </div>
      )}
      {hidden > 0 && (
        <button type="button" className="tools__more" onClick={() => setExpanded(true)}>
          Show {hidden} earlier {hidden === 1 ? "call" : "calls"}
        </button>
      )}
      {shown.map((call) => (
        <ToolCallRow key={call.callId} call={call} />
      ))}
    </div>
  );
}

export function ToolCallRow({ call }: { call: ToolCall }) {
  const [open, setOpen] = useState(false);
  const summary = call.title || summarizeInput(call.input);
  const took = call.startedAt && call.endedAt ? duration(call.endedAt - call.startedAt) : null;
  return (
    <div className={`tool tool--${call.state}`} data-key={`tool:${call.callId}`}>
      <button type="button" className="tool__head" aria-expanded={open} onClick={() => setOpen((value) => !value)}>
        <StateIcon state={call.state} />
        <span className="tool__name">{call.tool}</span>
        <span className="tool__summary truncate">{summary}</span>
        {took && <span className="tool__took">{took}</span>}
        <span className="tool__chevron" aria-hidden>
          {open ? "▾" : "▸"}
        </span>
      </button>
      {open && (
        <div className="tool__body">
          <div className="tool__section-label">Input</div>
          <pre className="code-block">{formatInput(call.input)}</pre>
          {call.error && (
            <>
              <div className="tool__section-label tool__section-label--error">Error</div>
              <pre className="code-block code-block--error">{call.error}</pre>
            </>
          )}
          {call.output !== undefined && call.output !== "" && <ToolOutput output={call.output} />}
          {call.state === "running" && !call.output && <div className="faint">Running…</div>}
        </div>
      )}
    </div>
  );
}

function ToolOutput({ output }: { output: string }) {
  const [all, setAll] = useState(false);
  const lines = output.split("\n");
  const cut = !all && lines.length > OUTPUT_PREVIEW_LINES;
  return (
    <>
      <div className="row row--between">
        <div className="tool__section-label">Output</div>
        <CopyButton text={output} label="Copy output" />
      </div>
      <pre className="code-block">{cut ? lines.slice(0, OUTPUT_PREVIEW_LINES).join("\n") : output}</pre>
      {cut && (
        <button type="button" className="btn btn--ghost btn--sm" onClick={() => setAll(true)}>
          Show all {lines.length} lines
        </button>
      )}
    </>
  );
}

function StateIcon({ state }: { state: ToolCall["state"] }) {
  switch (state) {
    case "pending":
      return (
        <span className="tool__icon" aria-label="Pending">
          ◌
        </span>
      );
    case "running":
      return <span className="spinner tool__icon" role="img" aria-label="Running" />;
    case "completed":
      return (
        <span className="tool__icon tool__icon--ok" aria-label="Completed">
          ✓
        </span>
      );
    case "error":
      return (
        <span className="tool__icon tool__icon--error" aria-label="Failed">
          ✕
        </span>
      );
  }
}

/** Keys whose value best says what a tool call is about, in order of preference. */
const SUMMARY_KEYS = ["command", "filePath", "file_path", "path", "pattern", "url", "query", "description", "prompt"];

export function summarizeInput(input: unknown): string {
  if (typeof input === "string") return input;
  if (input && typeof input === "object" && !Array.isArray(input)) {
    const record = input as Record<string, unknown>;
    for (const key of SUMMARY_KEYS) {
      const value = record[key];
      if (typeof value === "string" && value) return value;
    }
    const firstString = Object.values(record).find((value): value is string => typeof value === "string" && value !== "");
    if (firstString) return firstString;
  }
  if (input === undefined || input === null) return "";
  return JSON.stringify(input);
}

function formatInput(input: unknown): string {
  if (typeof input === "string") return input;
  if (input === undefined) return "(none)";
  try {
    return JSON.stringify(input, null, 2);
  } catch {
    // Only a value that never came off the wire (a cycle, a bigint) cannot be shown as JSON.
    return "(not representable as JSON)";
  }
}
