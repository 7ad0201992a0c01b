import { JsonPathExpression, LookoutError } from "@lookout/protocol";
import { assertJsonPathUsable, selectJsonPath } from "./webhook-conditions";

/** Longest text one placeholder renders to. */
const MAX_PLACEHOLDER_CHARS = 4_000;
/** Longest rendered block; the payload with no template is cut to this too. */
export const MAX_RENDERED_CHARS = 32_000;

/** `{{$.path}}`, with optional spaces inside the braces; the path runs to the first `}}`. */
const PLACEHOLDER = /\{\{\s*(\$(?:(?!\}\}).)*?)\s*\}\}/gs;

/**
 * Renders a webhook automation's template against a delivery's payload: each `{{$.path}}` becomes
 * what the JSONPath selects (a string as is, anything else as JSON, several values as a JSON list,
 * nothing as an empty string). With no template, the block is the whole payload as JSON. The
 * result is the sender's text, so it goes inside the prompt's untrusted fence, never among the
 * automation's instructions; rendering never evaluates anything but JSONPath, without `eval`.
 */
export function renderWebhookTemplate(template: string | null, payload: unknown): string {
  if (template === null) return clip(JSON.stringify(payload, null, 2) ?? "null", MAX_RENDERED_CHARS);
  const rendered = template.replace(PLACEHOLDER, (_whole, path: string) => {
    try {
      return clip(textOf(selectJsonPath(payload, path)), MAX_PLACEHOLDER_CHARS);
    } catch {
      return "";
    }
  });
  return clip(rendered, MAX_RENDERED_CHARS);
}

/** Refuses a template whose placeholders are not usable JSONPath expressions (checked when it is saved). */
export function assertTemplateUsable(template: string): void {
  for (const match of template.matchAll(PLACEHOLDER)) {
    const path = match[1] ?? "";
    if (!JsonPathExpression.safeParse(path).success) {
      throw new LookoutError(
        "JSONPATH_INVALID",
        `The placeholder {{${path}}} is not a JSONPath templates allow (no filter or script expressions).`,
      );
    }
    assertJsonPathUsable(path);
  }
}

function textOf(selected: unknown[]): string {
  if (selected.length === 0) return "";
  if (selected.length === 1) {
    const [value] = selected;
    return typeof value === "string" ? value : (JSON.stringify(value) ?? "");
  }
  return JSON.stringify(selected);
}

function clip(text: string, maxChars: number): string {
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}
