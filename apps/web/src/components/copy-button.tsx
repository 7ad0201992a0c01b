import { useEffect, useState } from "react";

/** How long the button says "Copied" after a click. */
const CONFIRM_MS = 1500;

/** Copies `text` to the clipboard and confirms in place. */
export function CopyButton({ text, label = "Copy", className = "" }: { text: string; label?: string; className?: string }) {
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
      className={`btn btn--ghost btn--sm ${className}`}
      onClick={() => void copy()}
      aria-label={`${label}: ${text.length > 60 ? `${text.slice(0, 60)}…` : text}`}
    >
      {state === "copied" ? "Copied" : state === "failed" ? "Copy failed" : label}
    </button>
  );
}
