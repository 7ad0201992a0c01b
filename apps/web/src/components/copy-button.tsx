import { useEffect, useState } from "react";

/** How long the button says "Copied" after a click. */
const CONFIRM_MS = 1500;

function CopyIcon() {
  return (
    <svg width="14" height="14" viewBox="0 0 16 16" fill="none" stroke="currentColor" strokeWidth="1.5" aria-hidden>
      <rect x="5.5" y="5.5" width="8" height="8" rx="1.5" />
      <path d="M10.5 3.5v-0.5a1.5 1.5 0 0 0-1.5-1.5h-5a1.5 1.5 0 0 0-1.5 1.5v5a1.5 1.5 0 0 0 1.5 1.5h0.5" />
    </svg>
  );
}

/** Copies `text` to the clipboard and confirms in place. */
export function CopyButton({
  text,
  label = "Copy",
  className = "",
  compact = false,
}: {
  text: string;
  label?: string;
  className?: string;
  compact?: boolean;
}) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  useEffect(() => {
    if (state === "idle") return;
    const timer = setTimeout(() => setState("idle"), CONFIRM_MS);
    return () => clearTimeout(timer);
  }, [state]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState("copied");
    } catch {
      setState("failed");
    }
  };
  return (
    <button
      type="button"
      className={`btn btn--ghost btn--sm${compact ? " btn--icon" : ""} ${className}`}
      onClick={() => void copy()}
      title={label}
      aria-label={`${label}: ${text.length > 60 ? `${text.slice(0, 60)}…` : text}`}
    >
      {compact ? (
        state === "copied" ? (
          "✓"
        ) : state === "failed" ? (
          "!"
        ) : (
          <CopyIcon />
        )
      ) : state === "copied" ? (
        "Copied"
      ) : state === "failed" ? (
        "Copy failed"
      ) : (
        label
      )}
    </button>
  );
}
